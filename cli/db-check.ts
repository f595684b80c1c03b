import * as path from 'node:path';
import { MIGRATIONS_DIR, ROOT, SCHEMA_ENTRY } from '../common/paths';
import { checkSchemaMatchesMigrations } from '../lib/migrations/schema-check';
import { runCli, say } from './run';

const USAGE = `usage: npm run db:check

Fails when the TypeScript schema (schema/*.ts) and the committed migrations (schema/migrations)
disagree: a schema change with no migration, a generated migration edited by hand, a file or
snapshot missing. Needs no database.`;

runCli(USAGE, {}, async () => {
  const notices = await checkSchemaMatchesMigrations({ schema: path.join(ROOT, SCHEMA_ENTRY), migrations: path.join(ROOT, MIGRATIONS_DIR) });
  for (const notice of notices) say(`note: ${notice}`);
  say('schema and migrations agree.');
});
