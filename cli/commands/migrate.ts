import * as path from 'node:path';
import { Command, Option } from 'commander';
import { BACKUP_DATABASE_URL, BEFORE_MIGRATE_KEEP } from '../../common/names';
import { ROOT } from '../../common/paths';
import { DEFAULT_BACKUP_DIR } from '../../lib/backups/files';
import { DEFAULT_BACKUP_STALL_SECONDS } from '../../lib/backups/stall-limits';
import { backupBeforeMigrating, type BackupFirst } from '../../lib/migrations/backup-first';
import { connect, parseDatabaseUrl, UserFacingError } from '../../lib/postgres/connection';
import { readMigrations, type Migration } from '../../lib/migrations/files';
import {
  DEFAULT_DDL_LOCK_TIMEOUT_SECONDS,
  DEFAULT_LOCK_TIMEOUT_SECONDS,
  DEFAULT_MIGRATION_QUERY_TIMEOUT_SECONDS,
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  migrate,
  migrationStatus,
  MIN_TIMEOUT_SECONDS,
  type AppliedMigration,
} from '../../lib/migrations/runner';
import { migratorLogin, nonEmpty, numberIn, progress, say, stackOption, UsageError, userPath } from '../program';
import { plural } from '../../lib/text';

const seconds = numberIn('seconds', MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS);

/** The bound on each query of the runner's own (and the seeder's): a server that stops answering is given up on. */
export const queryTimeoutOption = () =>
  new Option('--query-timeout <seconds>', 'how long a query may wait for the server to answer before the connection is closed').argParser(seconds).default(DEFAULT_QUERY_TIMEOUT_SECONDS);

const appliedJson = (a: AppliedMigration, files: Migration[]) => ({ name: a.name ?? files.find((m) => m.hash === a.hash)?.name ?? null, hash: a.hash, createdAt: a.createdAt });
const pendingJson = (m: Migration) => ({ name: m.name, file: m.file, statements: m.statements.length });

interface MigrateFlags {
  dryRun?: boolean;
  json?: boolean;
  lockTimeout: number;
  ddlLockTimeout: number;
  queryTimeout: number;
  migrationQueryTimeout: number;
  backupFirst?: boolean;
  stack?: string;
  backupDir?: string;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .summary('apply the pending migrations')
    .description(
      'Applies the pending migrations of schema/migrations, each in its own transaction, under a lock\n' +
        'that makes concurrent runs safe. Refuses to run when an applied migration was edited or\n' +
        'removed. Connects as MIGRATOR_DATABASE_URL when it is set, else DATABASE_URL: the migrator\n' +
        "role, directly (or through PgBouncer in session mode), since the lock is the session's.",
    )
    .option('--dry-run', 'list what would be applied; change nothing')
    .option('--json', 'print the result as JSON: applied, appliedNow and pending migrations')
    .addOption(new Option('--lock-timeout <seconds>', "how long to wait for another run's lock").argParser(seconds).default(DEFAULT_LOCK_TIMEOUT_SECONDS))
    .addOption(
      new Option('--ddl-lock-timeout <seconds>', "how long a migration's statement may wait for a table lock before the migration is rolled back")
        .argParser(seconds)
        .default(DEFAULT_DDL_LOCK_TIMEOUT_SECONDS),
    )
    .addOption(queryTimeoutOption())
    .addOption(
      new Option(
        '--migration-query-timeout <seconds>',
        "how long a migration's statement (or its COMMIT) may run before the connection is closed and the migration rolled back; longer than --ddl-lock-timeout",
      )
        .argParser(seconds)
        .default(DEFAULT_MIGRATION_QUERY_TIMEOUT_SECONDS),
    )
    .option(
      '--backup-first',
      `when migrations are pending, back the database up first with db:backup's pg_dump, as ${BACKUP_DATABASE_URL} (the backup role), holding the migration lock; ` +
        "the backup file is printed on a line of its own; a failed backup applies nothing (exit 1); refused when the backup role's login and the migrator's reach different databases. " +
        'Nothing pending, or no migration applied yet (a new database): no backup',
    )
    .addOption(stackOption('with --backup-first: the stack the backup is named after (<stack>-before-migrate-<UTC time>.dump)'))
    .option(
      '--backup-dir <dir>',
      `with --backup-first: the backup folder (default: ${DEFAULT_BACKUP_DIR}/ in the project root; a relative path is taken from the folder you run in); the newest ${BEFORE_MIGRATE_KEEP} backups taken before migrating are kept there, apart from db:backup's`,
      nonEmpty,
    )
    .action(async (o: MigrateFlags) => {
      if (o.backupFirst && o.dryRun) throw new UsageError('--dry-run changes nothing and takes no backup: drop --backup-first or --dry-run.');
      if (o.backupFirst && o.stack === undefined) throw new UsageError('--backup-first needs --stack NAME: the stack the backup is named after.');
      if (!o.backupFirst && (o.stack !== undefined || o.backupDir !== undefined)) {
        throw new UsageError(`${o.stack !== undefined ? '--stack' : '--backup-dir'} names the backup taken before migrating: it goes with --backup-first.`);
      }
      const log = progress(Boolean(o.json));
      const migrations = readMigrations();
      const { target, variable } = migratorLogin();
      // Checked before anything connects: a run that cannot back up must not migrate.
      const backupTarget = o.backupFirst ? parseDatabaseUrl(process.env[BACKUP_DATABASE_URL], BACKUP_DATABASE_URL) : undefined;
      log(`${o.dryRun ? 'dry run on' : 'migrating'} ${target.display} (from ${variable})`);
      const client = await connect(target, 'db:migrate');
      let held: BackupFirst | undefined;
      try {
        const dryRun = Boolean(o.dryRun);
        if (backupTarget) {
          const { uploadTargetFromEnv } = await import('../../lib/backups/upload');
          // A stop ends pg_dump and removes its unfinished file; the handlers go once the backup is done.
          const stop = new AbortController();
          const onSignal = (s: NodeJS.Signals) => (log(`${s}: stopping the backup; no migration will be applied`), stop.abort());
          const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
          for (const s of signals) process.once(s, onSignal);
          try {
            held = await backupBeforeMigrating(client, migrations, {
              backup: {
                target: backupTarget,
                stack: o.stack as string,
                dir: o.backupDir === undefined ? path.join(ROOT, DEFAULT_BACKUP_DIR) : userPath(o.backupDir),
                keep: BEFORE_MIGRATE_KEEP,
                upload: uploadTargetFromEnv(process.env),
                progressSeconds: 10,
                stallSeconds: DEFAULT_BACKUP_STALL_SECONDS,
              },
              lockTimeoutSeconds: o.lockTimeout,
              queryTimeoutSeconds: o.queryTimeout,
              log,
              signal: stop.signal,
            });
          } finally {
            for (const s of signals) process.removeListener(s, onSignal);
          }
          if (stop.signal.aborted) {
            await held?.release();
            throw new UserFacingError('stopped after the backup; no migration was applied.');
          }
          // On a line of its own, on stdout (the post-deploy step's output): the file to restore to undo this run.
          if (held.backup) (o.json ? log : say)(`backup before migrating: ${held.backup.backup.path}`);
        }
        const result = await migrate(client, migrations, {
          dryRun,
          lockTimeoutSeconds: o.lockTimeout,
          ddlLockTimeoutSeconds: o.ddlLockTimeout,
          queryTimeoutSeconds: o.queryTimeout,
          migrationQueryTimeoutSeconds: o.migrationQueryTimeout,
          log,
        });
        if (o.json) {
          const appliedNow = new Set(result.appliedNow.map((m) => m.hash));
          say(JSON.stringify({
            database: target.display,
            dryRun,
            ...(o.backupFirst ? { backup: held?.backup?.backup.path ?? null } : {}),
            applied: [...result.applied.map((a) => appliedJson(a, migrations)), ...result.appliedNow.map((m) => ({ name: m.name, hash: m.hash, createdAt: m.createdAt }))],
            appliedNow: result.appliedNow.map((m) => m.name),
            pending: result.pending.filter((m) => !appliedNow.has(m.hash)).map(pendingJson),
          }, null, 2));
        } else if (dryRun) {
          if (result.pending.length === 0) {
            say(`dry run: ${target.display} is up to date (${plural(result.applied.length, 'migration')} applied); nothing would change.`);
          } else {
            say(`dry run: ${plural(result.pending.length, 'migration')} would be applied to ${target.display}; nothing was changed:`);
            for (const m of result.pending) say(`  ${m.name}  (${m.file}, ${plural(m.statements.length, 'statement')})`);
          }
        } else if (result.appliedNow.length === 0) {
          say(`${target.display} is up to date (${plural(result.applied.length, 'migration')} applied).`);
        } else {
          say(`${target.display} is up to date: applied ${plural(result.appliedNow.length, 'migration')} now, ${result.applied.length + result.appliedNow.length} in all.`);
        }
      } finally {
        await held?.release();
        await client.end();
      }
    });

  program
    .command('status')
    .summary('list the applied and the pending migrations')
    .description('Lists the migrations applied to the database and those pending, changing nothing. Connects as\nMIGRATOR_DATABASE_URL when it is set, else DATABASE_URL.')
    .option('--json', 'print them as JSON: { database, applied: [{ name, hash, createdAt }], pending: [{ name, file, statements }] }')
    .addOption(queryTimeoutOption())
    .action(async (o: { json?: boolean; queryTimeout: number }) => {
      const migrations = readMigrations();
      const { target, variable } = migratorLogin();
      const client = await connect(target, 'db:status');
      try {
        const status = await migrationStatus(client, migrations, o.queryTimeout);
        if (o.json) {
          say(JSON.stringify({ database: target.display, applied: status.applied.map((a) => appliedJson(a, migrations)), pending: status.pending.map(pendingJson) }, null, 2));
          return;
        }
        say(`${target.display} (from ${variable}): ${plural(status.applied.length, 'migration')} applied, ${status.pending.length} pending.`);
        for (const a of status.applied) say(`  applied  ${appliedJson(a, migrations).name ?? a.hash.slice(0, 12)}  (${new Date(a.createdAt).toISOString().slice(0, 10)})`);
        for (const m of status.pending) say(`  pending  ${m.name}  (${m.file}, ${plural(m.statements.length, 'statement')})`);
      } finally {
        await client.end();
      }
    });
}
