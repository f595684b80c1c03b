import { Command, Option } from 'commander';
import { connect } from '../../lib/postgres/connection';
import {
  DEFAULT_DDL_LOCK_TIMEOUT_SECONDS,
  DEFAULT_LOCK_TIMEOUT_SECONDS,
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
} from '../../lib/migrations/runner';
import { plural } from '../../lib/text';
import { migratorLogin, numberIn, progress, say } from '../program';

const seconds = numberIn('seconds', MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS);

export function registerBaseline(program: Command): void {
  program
    .command('baseline')
    .summary('adopt a database built before this project: the specification\'s schema, or a prefix of the migrations')
    .description(
      "Adopts a database that the migrations' history does not describe. Recognised exactly, with db:verify's\n" +
        "engine (grants aside): the specification's schema (its database/init/*.sql) is converted to the\n" +
        'committed one by schema/adopt/from-spec.sql, keeping every row, and every committed migration is\n' +
        'recorded as applied, in one transaction under the migration lock, checked against\n' +
        'schema/migrations/catalog.json before it commits. Rows that a stricter NOT NULL or CHECK refuses stop\n' +
        'it, named, with nothing changed. A database built by the first migrations (its history lost) has\n' +
        'those recorded; db:migrate applies the rest. Anything else is refused with its differences from the\n' +
        'closest known starting point, nothing recorded. Connects as MIGRATOR_DATABASE_URL when it is set,\n' +
        'else DATABASE_URL: the migrator, directly.',
    )
    .option('--dry-run', 'recognise the database and check its rows; say what would be done, change nothing')
    .option('--json', 'print the result as JSON: { database, ok, dryRun, outcome, recognised, recorded, pending } or { database, ok: false, error, against?, differences?, violations? }')
    .addOption(new Option('--lock-timeout <seconds>', "how long to wait for a migration run's lock").argParser(seconds).default(DEFAULT_LOCK_TIMEOUT_SECONDS))
    .addOption(
      new Option('--ddl-lock-timeout <seconds>', 'how long a statement of the conversion may wait for a table lock before everything is rolled back')
        .argParser(seconds)
        .default(DEFAULT_DDL_LOCK_TIMEOUT_SECONDS),
    )
    .addOption(
      new Option('--query-timeout <seconds>', 'how long a query may wait for the server to answer before the connection is closed').argParser(seconds).default(DEFAULT_QUERY_TIMEOUT_SECONDS),
    )
    .action(async (o: { dryRun?: boolean; json?: boolean; lockTimeout: number; ddlLockTimeout: number; queryTimeout: number }) => {
      const log = progress(Boolean(o.json));
      const { baseline, BaselineRefused } = await import('../../lib/migrations/baseline');
      const { readMigrations } = await import('../../lib/migrations/files');
      const migrations = readMigrations();
      const { target, variable } = migratorLogin();
      const client = await connect(target, 'db:baseline');
      try {
        log(`${o.dryRun ? 'checking' : 'adopting'} ${target.display} (from ${variable})`);
        let result;
        try {
          result = await baseline(client, migrations, {
            dryRun: o.dryRun,
            lockTimeoutSeconds: o.lockTimeout,
            ddlLockTimeoutSeconds: o.ddlLockTimeout,
            queryTimeoutSeconds: o.queryTimeout,
            log,
          });
        } catch (error) {
          if (!(o.json && error instanceof BaselineRefused)) throw error;
          process.exitCode = 1;
          say(JSON.stringify({ database: target.display, ok: false, dryRun: Boolean(o.dryRun), error: error.message, ...error.details }, null, 2));
          return;
        }
        const names = (ms: typeof migrations) => ms.map((m) => m.name);
        if (o.json) {
          say(
            JSON.stringify(
              { database: target.display, ok: true, dryRun: result.dryRun, outcome: result.outcome, recognised: result.recognised, recorded: names(result.recorded), pending: names(result.pending) },
              null,
              2,
            ),
          );
          return;
        }
        const would = result.dryRun ? 'would be' : 'were';
        const rest = result.pending.length > 0 ? ` \`npm run db:migrate\` applies the other ${plural(result.pending.length, 'migration')} (${names(result.pending).join(', ')}).` : '';
        switch (result.outcome) {
          case 'converted':
            say(
              `${target.display} is ${result.recognised}: ${result.dryRun ? 'its rows pass every stricter constraint; it would be' : 'it was'} converted to the committed schema ` +
                `(schema/adopt/from-spec.sql, every row kept) and ${plural(result.recorded.length, 'migration')} ${would} recorded as applied.` +
                `${result.dryRun ? '' : ' `npm run db:verify` compares it, grants included.'}`,
            );
            break;
          case 'recorded':
            say(`${target.display} matches ${result.recognised}: ${plural(result.recorded.length, 'migration')} ${would} recorded as applied, nothing else changed.${rest}`);
            break;
          case 'already-recorded':
            say(`${target.display} records its migrations already and matches them: nothing to adopt.${rest}`);
            break;
          case 'empty':
            say(`${target.display} is ${result.recognised}: nothing to record.${rest}`);
            break;
        }
      } finally {
        await client.end().catch(() => undefined);
      }
    });
}
