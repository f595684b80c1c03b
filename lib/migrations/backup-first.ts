import type { Client } from 'pg';
import type { BackupOptions, BackupResult } from '../backups/dump';
import { redact, UserFacingError } from '../postgres/connection';
import type { Migration } from './files';
import { boundedQuery, describeServer, isClosed, LOCK_NAME, MigrationError, migrationStatus, NoAnswer, timeoutMs } from './runner';

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
    try {
      await boundedQuery(client, `SET lock_timeout = '${timeoutMs(o.lockTimeoutSeconds)}ms'`, undefined, bound);
      await boundedQuery(client, `SELECT pg_advisory_lock(${KEY})`, [LOCK_NAME], o.lockTimeoutSeconds + bound);
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') {
        throw new MigrationError(
          `another migration run held the lock for over ${o.lockTimeoutSeconds} s; no backup was taken and nothing was changed. Wait for it, or raise --lock-timeout.`,
        );
      }
      throw error;
    } finally {
      if (!isClosed(client)) await boundedQuery(client, 'RESET lock_timeout', undefined, bound).catch(() => undefined);
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
    const { pending } = await migrationStatus(client, migrations, o.queryTimeoutSeconds);
    if (pending.length === 0) {
      // Another run applied them while this one waited: its own backup, if it took one, is from before them.
      o.log('another run applied the pending migrations meanwhile: no backup taken');
      await release();
      return none;
    }
    o.log(
      `backing up ${o.backup.target.display} (from ${o.backup.target.source}) into ${o.backup.dir} before applying ` +
        `${pending.length === 1 ? '1 migration' : `${pending.length} migrations`}, holding the migration lock`,
    );
    const { takeBackup } = await import('../backups/dump');
    const backup = await takeBackup({ ...o.backup, log: o.log, signal: o.signal }).catch((error: unknown) => {
      const text = error instanceof UserFacingError ? error.message : redact(error instanceof Error ? error.message : String(error), o.backup.target);
      throw new UserFacingError(`the backup before migrating failed, so no migration was applied: ${text}`);
    });
    return { backup, release };
  } catch (error) {
    await release();
    throw error;
  }
}
