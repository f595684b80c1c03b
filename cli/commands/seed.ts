import type { Command } from 'commander';
import { connect } from '../../lib/postgres/connection';
import { readMigrations } from '../../lib/migrations/files';
import { migratorLogin, say } from '../program';
import { queryTimeoutOption } from './migrate';
import { plural } from '../../lib/text';

export function registerSeed(program: Command): void {
  program
    .command('seed')
    .summary('load the reference data (and with --demo a demo data set)')
    .description(
      'Loads the reference data (AI providers, system settings, feature flags). Only missing rows are\n' +
        'inserted: a value changed since is never overwritten, and a second run changes nothing.\n' +
        'Connects as MIGRATOR_DATABASE_URL when it is set, else DATABASE_URL.',
    )
    .option('--demo', 'also load a small demo data set for development (fixed ids, equally idempotent)')
    .addOption(queryTimeoutOption())
    .action(async (o: { demo?: boolean; queryTimeout: number }) => {
      // Drizzle and the schema are loaded when the command runs: --help and a usage error stay fast.
      const { seed } = await import('../../lib/migrations/seeder');
      const migrations = readMigrations();
      const { target, variable } = migratorLogin();
      const client = await connect(target, 'db:seed');
      try {
        const reports = await seed(client, migrations, { demo: Boolean(o.demo), queryTimeoutSeconds: o.queryTimeout });
        const inserted = reports.reduce((n, r) => n + r.inserted, 0);
        for (const r of reports) say(`  ${r.table.padEnd(26)} ${String(r.inserted).padStart(3)} inserted, ${r.alreadyPresent} already present`);
        say(`seeded ${target.display} (from ${variable})${o.demo ? ' with demo data' : ''}: ${plural(inserted, 'row')} inserted.`);
      } finally {
        await client.end();
      }
    });
}
