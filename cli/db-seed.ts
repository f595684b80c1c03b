import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { readMigrations } from '../lib/migrations/files';
import { seed } from '../lib/migrations/seeder';
import { runCli, say } from './run';

const USAGE = `usage: npm run db:seed -- [--demo]

Loads the reference data (AI providers, system settings, feature flags) into the database in
DATABASE_URL. Only missing rows are inserted: a value changed since is never overwritten, and a
second run changes nothing.

  --demo   also load a small demo data set for development (fixed ids, equally idempotent)`;

runCli(USAGE, { demo: { type: 'boolean' } }, async (values) => {
  const migrations = readMigrations();
  const target = parseDatabaseUrl(process.env.DATABASE_URL);
  const client = await connect(target, 'db:seed');
  try {
    const reports = await seed(client, migrations, { demo: Boolean(values.demo) });
    const inserted = reports.reduce((n, r) => n + r.inserted, 0);
    for (const r of reports) say(`  ${r.table.padEnd(26)} ${String(r.inserted).padStart(3)} inserted, ${r.alreadyPresent} already present`);
    say(`seeded ${target.display}${values.demo ? ' with demo data' : ''}: ${inserted} row(s) inserted.`);
  } finally {
    await client.end();
  }
});
