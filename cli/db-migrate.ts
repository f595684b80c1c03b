import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { readMigrations } from '../lib/migrations/files';
import {
  DEFAULT_DDL_LOCK_TIMEOUT_SECONDS,
  DEFAULT_LOCK_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  migrate,
  MIN_TIMEOUT_SECONDS,
} from '../lib/migrations/runner';
import { runCli, say, secondsFlag } from './run';

const USAGE = `usage: npm run db:migrate -- [--dry-run] [--lock-timeout SECONDS] [--ddl-lock-timeout SECONDS]

Applies the pending migrations of schema/migrations to the database in DATABASE_URL, each in its
own transaction, under a lock that makes concurrent runs safe. Refuses to run when an applied
migration was edited or removed. DATABASE_URL must reach PostgreSQL directly (or through PgBouncer
in session mode): the lock is held by the session.

  --dry-run                   list what would be applied; change nothing
  --lock-timeout SECONDS      how long to wait for another run's lock (default ${DEFAULT_LOCK_TIMEOUT_SECONDS})
  --ddl-lock-timeout SECONDS  how long a migration's statement may wait for a table lock before the
                              migration is rolled back (default ${DEFAULT_DDL_LOCK_TIMEOUT_SECONDS})`;

const FLAGS = { 'dry-run': { type: 'boolean' }, 'lock-timeout': { type: 'string' }, 'ddl-lock-timeout': { type: 'string' } } as const;

runCli(USAGE, FLAGS, async (values) => {
  const lockTimeoutSeconds = secondsFlag(values, 'lock-timeout', DEFAULT_LOCK_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS);
  const ddlLockTimeoutSeconds = secondsFlag(values, 'ddl-lock-timeout', DEFAULT_DDL_LOCK_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS);
  const migrations = readMigrations();
  const target = parseDatabaseUrl(process.env.DATABASE_URL);
  const client = await connect(target, 'db:migrate');
  try {
    const dryRun = Boolean(values['dry-run']);
    const result = await migrate(client, migrations, { dryRun, lockTimeoutSeconds, ddlLockTimeoutSeconds, log: say });
    if (dryRun) {
      if (result.pending.length === 0) {
        say(`dry run: ${target.display} is up to date (${result.applied.length} migrations applied); nothing would change.`);
      } else {
        say(`dry run: ${result.pending.length} migration(s) would be applied to ${target.display}; nothing was changed:`);
        for (const m of result.pending) say(`  ${m.name}  (${m.file}, ${m.statements.length} statements)`);
      }
    } else if (result.appliedNow.length === 0) {
      say(`${target.display} is up to date (${result.applied.length} migrations applied).`);
    } else {
      say(`${target.display} is up to date: applied ${result.appliedNow.length} migration(s) now, ${result.applied.length + result.appliedNow.length} in all.`);
    }
  } finally {
    await client.end();
  }
});
