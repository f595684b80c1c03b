import type { Client } from 'pg';
import { UserFacingError } from '../postgres/connection';
import type { Migration } from './files';

/**
 * drizzle's bookkeeping table, so that `drizzle-kit migrate` and this runner agree on what is
 * applied. We add nullable `name` and `applied_at` columns, which drizzle ignores: `name` lets us
 * name a deleted file.
 */
export const MIGRATIONS_SCHEMA = 'drizzle';
export const MIGRATIONS_TABLE = '__drizzle_migrations';
const TABLE = `"${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`;

/** Advisory locks are per database, so one key serialises every runner of this project on it. */
export const LOCK_NAME = 'pronunciation-assistant:migrate';
const LOCK_KEY = `hashtextextended('${LOCK_NAME}', 0)`;
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 300;
/**
 * How long one statement of a migration may wait for a table lock. DDL waiting on a busy table
 * makes every later query on that table queue behind it, so we give up and roll back instead.
 */
export const DEFAULT_DDL_LOCK_TIMEOUT_SECONDS = 10;
/** PostgreSQL's largest lock_timeout, in seconds; 0 would mean "wait forever". */
export const MAX_TIMEOUT_SECONDS = 2_147_483;
export const MIN_TIMEOUT_SECONDS = 0.001;

export interface AppliedMigration {
  id: number;
  hash: string;
  createdAt: number;
  name: string | null;
}

export interface MigrationStatus {
  applied: AppliedMigration[];
  pending: Migration[];
}

export interface MigrateOptions {
  /** List what would be applied; take no lock and change nothing. */
  dryRun?: boolean;
  /** How long to wait for another run's lock before giving up. */
  lockTimeoutSeconds?: number;
  /** How long a migration's statement may wait for a table lock. */
  ddlLockTimeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface MigrateResult extends MigrationStatus {
  /** Applied by this run (empty on a dry run). */
  appliedNow: Migration[];
}

export class MigrationError extends UserFacingError {
  override name = 'MigrationError';
}

async function tableExists(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ exists: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AS exists',
    [`${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`],
  );
  return rows[0].exists;
}

/** Creates the table as drizzle does, plus `name` and `applied_at`; only ever called under the lock. */
async function ensureTable(client: Client): Promise<void> {
  if (!(await tableExists(client))) {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${MIGRATIONS_SCHEMA}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
  }
  await client.query(`ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS name text, ADD COLUMN IF NOT EXISTS applied_at timestamptz DEFAULT now()`);
}

async function readApplied(client: Client): Promise<AppliedMigration[]> {
  if (!(await tableExists(client))) return [];
  // to_jsonb reads `name` where we added it and gives NULL in a table drizzle-kit created.
  const { rows } = await client.query<{ id: number; hash: string; created_at: string; name: string | null }>(
    `SELECT id, hash, created_at, to_jsonb(t) ->> 'name' AS name FROM ${TABLE} t ORDER BY created_at, id`,
  );
  return rows.map((r) => ({ id: r.id, hash: r.hash, createdAt: Number(r.created_at), name: r.name }));
}

/**
 * Compares the database's history with the files. Every problem is reported at once, each naming
 * its file, because any of them means the files no longer describe the database.
 */
export function verifyHistory(applied: AppliedMigration[], migrations: Migration[]): Migration[] {
  const byTime = new Map(migrations.map((m) => [m.createdAt, m]));
  const problems: string[] = [];
  for (const row of applied) {
    const file = byTime.get(row.createdAt);
    if (!file) {
      const label = row.name ? `${row.name}.sql` : `the migration with journal time ${row.createdAt}`;
      problems.push(`${label} was applied to this database but is no longer among the migration files (removed or renamed).`);
    } else if (file.hash !== row.hash) {
      problems.push(`${file.file} was changed after it was applied (applied sha256 ${row.hash.slice(0, 12)}, file ${file.hash.slice(0, 12)}).`);
    }
  }
  const lastApplied = applied.length > 0 ? Math.max(...applied.map((r) => r.createdAt)) : -Infinity;
  const appliedTimes = new Set(applied.map((r) => r.createdAt));
  const pending = migrations.filter((m) => !appliedTimes.has(m.createdAt));
  for (const m of pending.filter((p) => p.createdAt < lastApplied)) {
    problems.push(`${m.file} is older than the newest applied migration, so drizzle's migrator would skip it; regenerate it.`);
  }
  if (problems.length > 0) {
    throw new MigrationError(
      `refusing to migrate, nothing was changed:\n  - ${problems.join('\n  - ')}\n` +
        'Applied migrations must stay as they were: restore them from version control and put changes in a new migration.',
    );
  }
  return pending;
}

export async function migrationStatus(client: Client, migrations: Migration[]): Promise<MigrationStatus> {
  const applied = await readApplied(client);
  return { applied, pending: verifyHistory(applied, migrations) };
}

async function acquireLock(client: Client, timeoutSeconds: number, log: (line: string) => void): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`);
  if (rows[0].ok) return;
  const holders = await client.query<{ pid: number; application_name: string }>(
    `SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = ${LOCK_KEY}`,
  );
  const who = holders.rows.map((h) => `pid ${h.pid}${h.application_name ? ` (${h.application_name})` : ''}`).join(', ');
  log(`waiting up to ${timeoutSeconds} s for another migration run to finish${who ? `: ${who}` : ''}`);
  try {
    await client.query(`SET lock_timeout = '${timeoutMs(timeoutSeconds)}ms'`);
    await client.query(`SELECT pg_advisory_lock(${LOCK_KEY})`);
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      throw new MigrationError(
        `another migration run${who ? ` (${who})` : ''} held the lock for over ${timeoutSeconds} s; nothing was changed. ` +
          'Wait for it, or raise --lock-timeout.',
      );
    }
    throw error;
  } finally {
    await client.query('RESET lock_timeout').catch(() => undefined);
  }
}

/** Milliseconds for a PostgreSQL timeout setting, never 0 (which means no limit). */
function timeoutMs(seconds: number): number {
  if (!(seconds >= MIN_TIMEOUT_SECONDS && seconds <= MAX_TIMEOUT_SECONDS)) {
    throw new RangeError(`a timeout must be from ${MIN_TIMEOUT_SECONDS} to ${MAX_TIMEOUT_SECONDS} s, not ${seconds}`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}

interface PgError {
  message?: string;
  position?: string;
  code?: string;
  detail?: string;
  hint?: string;
}

/** The connection itself failed (server shut down, network gone), not the statement. */
function connectionLost(e: PgError): boolean {
  if (e.code) return e.code.startsWith('08') || e.code === '57P01' || e.code === '57P02';
  return /Connection terminated|ECONNRESET|EPIPE|socket|not queryable/i.test(e.message ?? '');
}

function lostConnection(m: Migration, e: PgError, committing: boolean): MigrationError {
  const outcome = committing
    ? `it was lost during COMMIT, so ${m.name} may or may not have been applied`
    : `nothing of ${m.name} was committed (PostgreSQL rolls back an open transaction when its connection ends)`;
  return new MigrationError(
    `lost the connection to the server while applying ${m.file} (${e.message ?? 'no message'}): ${outcome}. ` +
      'Run db:migrate again once the server is reachable: it checks what was applied.',
  );
}

function describeFailure(m: Migration, index: number, error: unknown, ddlLockTimeoutSeconds: number): MigrationError {
  const e = error as PgError;
  if (connectionLost(e)) return lostConnection(m, e, false);
  const statement = m.statements[index];
  let line = statement.line;
  if (e.position) line += statement.sql.slice(0, Number(e.position) - 1).split('\n').length - 1;
  const excerpt = statement.sql.length > 300 ? `${statement.sql.slice(0, 300)} ...` : statement.sql;
  const extra = [e.detail, e.hint].filter(Boolean).join(' ');
  const noTransaction = e.code === '25001' ? ' Statements that cannot run inside a transaction are not supported.' : '';
  const lockWait =
    e.code === '55P03'
      ? ` It waited over ${ddlLockTimeoutSeconds} s for a lock that another session holds (a long query or transaction on the table): ` +
        'retry when the table is quieter, or raise --ddl-lock-timeout.'
      : '';
  return new MigrationError(
    `${m.file} failed at statement ${index + 1} of ${m.statements.length} (line ${line}): ${e.message ?? String(error)}` +
      `${extra ? ` (${extra})` : ''}.${noTransaction}${lockWait}\n${excerpt.replace(/^/gm, '    ')}\n` +
      `${m.name} was rolled back completely: nothing of it was applied.`,
  );
}

async function applyOne(client: Client, m: Migration, ddlLockTimeoutSeconds: number): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '${timeoutMs(ddlLockTimeoutSeconds)}ms'`);
    for (let i = 0; i < m.statements.length; i++) {
      try {
        await client.query(m.statements[i].sql);
      } catch (error) {
        throw describeFailure(m, i, error, ddlLockTimeoutSeconds);
      }
    }
    await client.query(`INSERT INTO ${TABLE} (hash, created_at, name) VALUES ($1, $2, $3)`, [m.hash, m.createdAt, m.name]);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  try {
    await client.query('COMMIT');
  } catch (error) {
    throw connectionLost(error as PgError) ? lostConnection(m, error as PgError, true) : error;
  } finally {
    // A migration's own SET (search_path, role) must not leak into the next one.
    await client.query('RESET ALL; RESET ROLE').catch(() => undefined);
  }
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that
 * concurrent runs apply each migration once. The history is verified before anything changes.
 */
export async function migrate(client: Client, migrations: Migration[], options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  if (options.dryRun) {
    return { ...(await migrationStatus(client, migrations)), appliedNow: [] };
  }
  await acquireLock(client, options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS, log);
  try {
    const before = await migrationStatus(client, migrations);
    if (before.pending.length > 0) await ensureTable(client);
    const appliedNow: Migration[] = [];
    for (const m of before.pending) {
      const started = process.hrtime.bigint();
      await applyOne(client, m, options.ddlLockTimeoutSeconds ?? DEFAULT_DDL_LOCK_TIMEOUT_SECONDS);
      appliedNow.push(m);
      log(`applied ${m.name} (${m.statements.length} statements, ${Number((process.hrtime.bigint() - started) / 1_000_000n)} ms)`);
    }
    return { ...before, appliedNow };
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`).catch(() => undefined);
  }
}
