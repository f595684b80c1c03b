import type { Client } from 'pg';
import type { BackupOptions, BackupResult } from '../backups/dump';
import { BACKUP_DATABASE_URL } from '../../common/names';
import { connect, redact, targetOf, UserFacingError, type DatabaseTarget } from '../postgres/connection';
import { beforeMigrateSeries } from '../backups/files';
import type { Migration } from './files';
import { boundedQuery, describeServer, isClosed, LOCK_NAME, MigrationError, migrationStatus, NoAnswer, pollForMigrationLock } from './runner';

/**
 * `db:migrate --backup-first`: a backup of the database, as the backup role, before pending
 * migrations are applied (the post-deploy step where config backupBeforeMigrate is on).
 *
 * The backup is taken holding the runner's migration lock on the migrator's own session, so no
 * other run can apply a migration between the backup and this run's migrations: the backup is the
 * database as it was right before them. The runner takes the same lock again when it migrates:
 * PostgreSQL's session-level advisory locks stack within a session (a second pg_try_advisory_lock
 * of the same key succeeds at once; each lock needs its own unlock: PostgreSQL 15 documentation,
 * "Advisory Locks"), so its own lock and unlock change nothing here, and `release` ends the hold.
 * The backup's pg_dump runs in sessions of its own, as the backup role: an advisory lock does not
 * stand in its way, and its table locks (ACCESS SHARE) none of the runner's reads.
 */

/** The runner's key (lib/migrations/runner.ts, LOCK_KEY), as a parameter: hashtextextended(LOCK_NAME, 0). */
const KEY = 'hashtextextended($1, 0)';

export interface BackupFirstOptions {
  /** What `db:backup` would be given: the backup role's target, the stack, the folder, the retention. */
  backup: Omit<BackupOptions, 'log' | 'signal'>;
  lockTimeoutSeconds: number;
  queryTimeoutSeconds: number;
  log: (line: string) => void;
  /** Aborting stops pg_dump and removes its unfinished file. */
  signal?: AbortSignal;
}

export interface BackupFirst {
  /** The backup taken; undefined when nothing was pending (no backup is taken then). */
  backup?: BackupResult;
  /** Ends this hold of the migration lock (the runner's own is separate). Safe to call twice. */
  release(): Promise<void>;
}

async function holdLock(client: Client, o: BackupFirstOptions): Promise<() => Promise<void>> {
  const bound = o.queryTimeoutSeconds;
  const { rows } = await boundedQuery<{ ok: boolean }>(client, `SELECT pg_try_advisory_lock(${KEY}) AS ok`, [LOCK_NAME], bound);
  if (!rows[0].ok) {
    o.log(`waiting up to ${o.lockTimeoutSeconds} s for another migration run to finish before the backup`);
    // Polled, never waited for in a query: a waiting query's snapshot would deadlock a concurrent CREATE INDEX CONCURRENTLY (runner.ts, pollForMigrationLock).
    if (!(await pollForMigrationLock(client, o.lockTimeoutSeconds, bound, o.signal))) {
      if (o.signal?.aborted) throw stoppedWaiting();
      throw new MigrationError(
        `another migration run held the lock for over ${o.lockTimeoutSeconds} s; no backup was taken and nothing was changed. Wait for it, or raise --lock-timeout.`,
      );
    }
  }
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    if (!isClosed(client)) await boundedQuery(client, `SELECT pg_advisory_unlock(${KEY})`, [LOCK_NAME], bound).catch(() => undefined);
  };
  // A pooler that does not keep the session (PgBouncer in transaction mode) may have run the lock on
  // another server session: then it guards nothing, and the runner would refuse after the backup.
  const mine = await boundedQuery<{ n: number }>(
    client,
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
        AND ((classid::bigint << 32) | objid::bigint) = ${KEY}`,
    [LOCK_NAME],
    bound,
  );
  if (mine.rows[0].n === 0) {
    await release();
    throw new MigrationError(
      'the migration lock is not held by this session: a pooler between this command and PostgreSQL (PgBouncer in transaction mode) does not keep it. ' +
        'No backup was taken and nothing was changed. Connect directly, with MIGRATOR_DATABASE_URL.',
    );
  }
  return release;
}

const stoppedWaiting = () => new UserFacingError('stopped while waiting for the migration lock: no backup was taken and no migration was applied.');

/** Tables (other than drizzle's history) in the database: with an empty history, whether there is anything to lose. */
async function userTables(client: Client, bound: number): Promise<number> {
  const { rows } = await boundedQuery<{ n: number }>(
    client,
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND s.nspname NOT IN ('pg_catalog', 'information_schema', 'drizzle')
        AND s.nspname NOT LIKE 'pg_toast%' AND s.nspname NOT LIKE 'pg_temp%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`,
    undefined,
    bound,
  );
  return rows[0].n;
}

/** Which database a session reaches: its name and oid, and the server (its system identifier, else its address and port). */
interface Reached {
  database: string;
  oid: string;
  system: string | null;
  addr: string | null;
  port: number | null;
}

const REACHED = (system: string) =>
  `SELECT current_database() AS database, d.oid::text AS oid, ${system} AS system, inet_server_addr()::text AS addr, inet_server_port() AS port
     FROM pg_database d WHERE d.datname = current_database()`;

/**
 * pg_control_system() may be called by any role on PostgreSQL 15 (no REVOKE of it in its
 * system_functions.sql; tests/migrate-backup-first.test.ts calls it as the migrator and the backup
 * role); a server that refuses it (a managed one may) is told apart by its address and port instead.
 */
async function reached(client: Client, bound: number): Promise<Reached> {
  try {
    return (await boundedQuery<Reached>(client, REACHED('(SELECT system_identifier::text FROM pg_control_system())'), undefined, bound)).rows[0];
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    return (await boundedQuery<Reached>(client, REACHED('NULL::text'), undefined, bound)).rows[0];
  }
}

const describeReached = (r: Reached, bySystem: boolean) =>
  `database "${r.database}" (oid ${r.oid}) on ${bySystem ? `the server with system identifier ${r.system}` : `the server at ${r.addr ?? 'a Unix socket'}:${r.port ?? '?'}`}`;

/**
 * Refuses unless the backup role's login reaches the very database the migrator's does: same
 * server (pg_control_system()'s system_identifier, or the server's address and port where either
 * role may not read it), same database name and oid. A backup of another database would undo nothing.
 */
async function checkSameDatabase(client: Client, target: DatabaseTarget, bound: number): Promise<void> {
  const migrator = await reached(client, bound);
  const backupClient = await connect(target, 'db:migrate');
  let backup: Reached;
  try {
    backup = await reached(backupClient, bound);
  } catch (error) {
    if (!(error instanceof NoAnswer)) throw error;
    throw new UserFacingError(`PostgreSQL at ${target.display} accepted the backup role's login, then gave no answer within ${error.seconds} s.`);
  } finally {
    await backupClient.end().catch(() => undefined);
  }
  const bySystem = migrator.system !== null && backup.system !== null;
  const same =
    migrator.database === backup.database &&
    migrator.oid === backup.oid &&
    (bySystem ? migrator.system === backup.system : migrator.addr === backup.addr && migrator.port === backup.port);
  if (same) return;
  const migratorSource = targetOf(client)?.source ?? 'the migrator\'s login';
  throw new MigrationError(
    `${target.source} (${target.display}) reaches ${describeReached(backup, bySystem)}, but ${migratorSource} (the migrator's login, ` +
      `${describeServer(client).replace(/^PostgreSQL at /, '')}) reaches ${describeReached(migrator, bySystem)}: a backup of the one would not undo migrating the other. ` +
      `No backup was taken and no migration was applied. Point both at the same database (the post-deploy step sets ${BACKUP_DATABASE_URL}, ` +
      'MIGRATOR_DATABASE_URL and DATABASE_URL from the stack\'s outputs).',
  );
}

/**
 * Takes the backup when migrations are pending, holding the migration lock; returns with the lock
 * still held (the caller migrates, then calls `release`). Nothing pending: no backup, no lock held.
 * A failed backup releases the lock and throws a UserFacingError naming the backup's own cause:
 * the caller must then apply nothing. A history the files no longer describe (an edited or removed
 * migration) is refused first, by the runner's own check, before any backup.
 */
export async function backupBeforeMigrating(client: Client, migrations: Migration[], o: BackupFirstOptions): Promise<BackupFirst> {
  try {
    return await backupFirst(client, migrations, o);
  } catch (error) {
    if (!(error instanceof NoAnswer)) throw error;
    throw new MigrationError(
      `${describeServer(client)} gave no answer within ${error.seconds} s to one of the runner's own queries (--query-timeout); ` +
        'the connection was closed: no backup was taken and no migration was applied.',
    );
  }
}

async function backupFirst(client: Client, migrations: Migration[], o: BackupFirstOptions): Promise<BackupFirst> {
  const none: BackupFirst = { release: async () => undefined };
  // Nothing pending without the lock: nothing can become pending meanwhile (only applied), so no backup.
  if ((await migrationStatus(client, migrations, o.queryTimeoutSeconds)).pending.length === 0) {
    o.log('no migration is pending: no backup taken');
    return none;
  }
  const release = await holdLock(client, o);
  try {
    const { applied, pending } = await migrationStatus(client, migrations, o.queryTimeoutSeconds);
    if (pending.length === 0) {
      // Another run applied them while this one waited: its own backup, if it took one, is from before them.
      o.log('another run applied the pending migrations meanwhile: no backup taken');
      await release();
      return none;
    }
    if (applied.length === 0 && (await userTables(client, o.queryTimeoutSeconds)) === 0) {
      // A new database (the stack's first `up`): nothing to lose. The lock stays held until the runner
      // has migrated, so no other run can apply a first migration in between.
      o.log('no migration applied yet: no backup taken');
      return { release };
    }
    await checkSameDatabase(client, o.backup.target, o.queryTimeoutSeconds).catch((error: unknown) => {
      if (error instanceof MigrationError || error instanceof NoAnswer) throw error;
      const text = error instanceof UserFacingError ? error.message : redact(error instanceof Error ? error.message : String(error), o.backup.target);
      throw new UserFacingError(`the backup before migrating failed, so no migration was applied: ${text}`);
    });
    if (o.signal?.aborted) throw new UserFacingError('stopped before the backup: no backup was taken and no migration was applied.');
    o.log(
      `backing up ${o.backup.target.display} (from ${o.backup.target.source}) into ${o.backup.dir} before applying ` +
        `${pending.length === 1 ? '1 migration' : `${pending.length} migrations`}, holding the migration lock`,
    );
    const { takeBackup } = await import('../backups/dump');
    // Named and pruned apart from db:backup's (lib/backups/files.ts, beforeMigrateSeries), and no
    // refresh of the scheduled backups' health marker.
    const backup = await takeBackup({ ...o.backup, stack: beforeMigrateSeries(o.backup.stack), markSuccess: false, log: o.log, signal: o.signal }).catch((error: unknown) => {
      const text = error instanceof UserFacingError ? error.message : redact(error instanceof Error ? error.message : String(error), o.backup.target);
      throw new UserFacingError(`the backup before migrating failed, so no migration was applied: ${text}`);
    });
    return { backup, release };
  } catch (error) {
    await release();
    throw error;
  }
}
