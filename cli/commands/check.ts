import * as path from 'node:path';
import type { Command } from 'commander';
import { MIGRATIONS_DIR, ROOT, SCHEMA_ENTRY } from '../../common/paths';
import { say } from '../program';
import { drizzleKitMissing } from './studio';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .summary('check that the schema and the committed migrations agree (no database)')
    .description(
      'Fails when the TypeScript schema (schema/*.ts) and the committed migrations (schema/migrations)\n' +
        'disagree: a schema change with no migration, a generated migration edited by hand, a file or\n' +
        'snapshot missing. Needs no database.',
    )
    .action(async () => {
      // drizzle-kit is found when the command runs: --help stays fast, and a copy without it (the backup image) still starts.
      const { checkSchemaMatchesMigrations } = await import('../../lib/migrations/schema-check').catch(drizzleKitMissing);
      const notices = await checkSchemaMatchesMigrations({ schema: path.join(ROOT, SCHEMA_ENTRY), migrations: path.join(ROOT, MIGRATIONS_DIR) });
      for (const notice of notices) say(`note: ${notice}`);
      say('schema and migrations agree.');
    });
}
