import type { Client, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { APP_ENV } from '../../common/names';
import { connect, targetOf, UserFacingError } from '../postgres/connection';
import { BARE_STATEMENTS, NO_TRANSACTION_MARKER, runsBare, type Migration, type Statement } from './files';
import { quoteIdent } from '../postgres/sql-script';
import { plural } from '../text';

/**
 * drizzle's bookkeeping table, so that `drizzle-kit migrate` and this runner agree on what is
 * applied. We add nullable `name` and `applied_at` columns, which drizzle ignores: `name` lets us
 * name a deleted file.
 */
export const MIGRATIONS_SCHEMA = 'drizzle';
export const MIGRATIONS_TABLE = '__drizzle_migrations';
const TABLE = `"${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`;

/**
 * Where a non-transactional migration (NO_TRANSACTION_MARKER) got to: one row per migration begun
 * and not yet recorded in the history, with the number of its statements that have committed. Each
 * statement commits on its own, so after a killed run or a lost connection this is how the next
 * run knows where to resume. A statement that may run in a transaction block runs in one of its
 * own that also advances this count: applied exactly once. Only the bare ones (files.ts, runsBare:
 * CONCURRENTLY index statements, written to be safe to repeat) commit apart from their count, so a
 * rerun may run one of them again. The row is written before the first statement and deleted in the
 * transaction that inserts the history row, so a migration is recorded exactly once, and only
 * once its last statement has committed. drizzle-kit ignores the table.
 */
export const PROGRESS_TABLE = '__pa_data_online_progress';
const PROGRESS = `"${MIGRATIONS_SCHEMA}"."${PROGRESS_TABLE}"`;
/**
 * How often the server checks, while a statement of a non-transactional migration runs, that the
 * runner is still connected (client_connection_check_interval, PostgreSQL 14 and later). Without
 * it, a runner killed during an hour-long CREATE INDEX CONCURRENTLY leaves its backend building on,
 * holding the migration lock, until the build ends; with it the build is cancelled within this
 * time, its INVALID index is dropped and built again by the next run.
 */
const CONNECTION_CHECK_INTERVAL = '1s';
/**
 * TCP keepalives of the runner's session on the server's side (tcp_keepalives_idle, _interval,
 * _count; ignored over a Unix socket): a runner whose network vanished without closing the
 * connection is noticed within idle + interval x count = about 2 minutes (client_connection_check_interval
 * alone sees a closed socket, not a silent one), instead of the system's default of over 2 hours.
 */
const TCP_KEEPALIVES = { idle: 60, interval: 10, count: 6 };
/** Client-side pauses between two tries of the migration lock, in ms (the last repeats). */
const LOCK_POLL_MS = [50, 100, 200, 400, 800, 1000];
/** A client-side pause, cut short when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

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
/**
 * How long any query of the runner's own (the history, the lock, BEGIN, the history row) or of
 * the seeder may go without an answer. They are quick; a server that accepted the login and then
 * stopped answering is given up on after this.
 */
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 60;
/**
 * How long one statement of a migration (and its COMMIT, which runs the deferred checks) may go
 * without an answer. Unlike the runner's own queries, a migration's statement can legitimately
 * run long (an index built or a table rewritten on a large table), and cutting it rolls the whole
 * migration back; an hour is far beyond what any statement of this schema needs at its size, and
 * still ends a deploy stuck on a server that stopped answering.
 */
export const DEFAULT_MIGRATION_QUERY_TIMEOUT_SECONDS = 3600;
/**
 * How long the second session of the pooling check may wait for its first answer. A pooler in
 * session mode whose pool is full makes it wait until a session ends: no evidence either way.
 */
const PROBE_WAIT_SECONDS = 2;

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

/** The history compared with the files: what is pending, and what makes the files no longer describe the database. */
export interface HistoryCheck extends MigrationStatus {
  problems: string[];
}

export interface MigrateOptions {
  /** List what would be applied; take no lock and change nothing. */
  dryRun?: boolean;
  /** How long to wait for another run's lock before giving up. */
  lockTimeoutSeconds?: number;
  /** How long a migration's statement may wait for a table lock. */
  ddlLockTimeoutSeconds?: number;
  /** How long any of the runner's own queries may go without an answer (the wait for the lock comes on top). */
  queryTimeoutSeconds?: number;
  /** How long a statement of a migration, or its COMMIT, may go without an answer. */
  migrationQueryTimeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface MigrateResult extends MigrationStatus {
  /** Applied by this run (empty on a dry run). */
  appliedNow: Migration[];
}

export class MigrationError extends UserFacingError {
  override name = 'MigrationError';
}

export const INSUFFICIENT_PRIVILEGE = '42501';
/** A statement refused in a transaction block (PreventInTransactionBlock). */
const ACTIVE_SQL_TRANSACTION = '25001';
/** A COMMIT or ROLLBACK in a procedure or DO block called inside a transaction block. */
const INVALID_TRANSACTION_TERMINATION = '2D000';

/** Milliseconds for a timeout, never 0 (which means no limit, to PostgreSQL and to node-postgres alike). */
export function timeoutMs(seconds: number): number {
  if (!(seconds >= MIN_TIMEOUT_SECONDS && seconds <= MAX_TIMEOUT_SECONDS)) {
    throw new RangeError(`a timeout must be from ${MIN_TIMEOUT_SECONDS} to ${MAX_TIMEOUT_SECONDS} s, not ${seconds}`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}

/** A query got no answer within its bound; the connection has been closed. */
export class NoAnswer extends Error {
  override name = 'NoAnswer';
  constructor(readonly seconds: number) {
    super(`no answer within ${seconds} s`);
  }
}

/** node-postgres's error for a query that outlived its query_timeout (pg/lib/client.js, query()). */
const READ_TIMEOUT = 'Query read timeout';
const closed = new WeakSet<Client>();

/** True once boundedQuery has closed the client: nothing more can be sent on it. */
export const isClosed = (client: Client): boolean => closed.has(client);

/**
 * client.query with a bound on the wait for its answer: node-postgres's per-query query_timeout
 * (pg/lib/client.js, query(), reads it from the query's config; @types/pg does not declare it).
 * A query that outlives it stays the connection's active query and every later one would queue
 * behind it, so the connection is closed (pg's end() destroys the socket while a query is active).
 */
export async function boundedQuery<R extends QueryResultRow = QueryResultRow>(
  client: Client,
  text: string,
  values: unknown[] | undefined,
  seconds: number,
): Promise<QueryResult<R>> {
  try {
    return await client.query<R>({ text, values, query_timeout: timeoutMs(seconds) } as QueryConfig);
  } catch (error) {
    if ((error as Error).message !== READ_TIMEOUT) throw error;
    closed.add(client);
    await client.end().catch(() => undefined);
    throw new NoAnswer(seconds);
  }
}

/** The server a client is connected to, for messages: the URL without its password where connect() opened it. */
export function describeServer(client: Client): string {
  const target = targetOf(client);
  return `PostgreSQL at ${target ? target.display : `${client.host}:${client.port}/${client.database ?? ''}`}`;
}

/** The role a session runs as, and whether it may run migrations and seeds: as the database's owner (or a member of it, or a superuser). */
export interface SessionRole {
  role: string;
  database: string;
  owner: string;
  mayMigrate: boolean;
}

export async function sessionRole(client: Client, bound: number): Promise<SessionRole> {
  // pg_has_role(..., 'MEMBER') is true for a superuser too (PostgreSQL's src/backend/utils/adt/acl.c, is_member_of_role).
  const { rows } = await boundedQuery<SessionRole>(
    client,
    `SELECT current_user AS role, current_database() AS database, pg_get_userbyid(datdba) AS owner,
            pg_has_role(current_user, datdba, 'MEMBER') AS "mayMigrate"
       FROM pg_database WHERE datname = current_database()`,
    undefined,
    bound,
  );
  return rows[0];
}

/** A permission error of a role that is not the migrator, as what to do about it. */
export function notMigrator(who: SessionRole, serverMessage: string, what: 'migrations' | 'seeds', outcome: string): MigrationError {
  return new MigrationError(
    `connected as role "${who.role}", which may not run ${what} (${serverMessage}); ${outcome}. Migrations and seeds run as ` +
      `the migrator, the role that owns database "${who.database}" (${who.owner}): set ${APP_ENV.migratorDatabaseUrl} to its URL ` +
      "(the stack's migratorDatabaseUrl output).",
  );
}

/** Each migration once: a history with duplicate rows (checkHistory names them) counts each migration once. */
function appliedOnce(applied: AppliedMigration[]): AppliedMigration[] {
  const seen = new Set<number>();
  return applied.filter((r) => !seen.has(r.createdAt) && seen.add(r.createdAt));
}

async function tableExists(client: Client, bound: number): Promise<boolean> {
  const { rows } = await boundedQuery<{ exists: boolean }>(
    client,
    'SELECT to_regclass($1) IS NOT NULL AS exists',
    [`${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`],
    bound,
  );
  return rows[0].exists;
}

/** Creates the table as drizzle does, plus `name` and `applied_at`; only ever called under the lock. */
export async function ensureTable(client: Client, bound: number): Promise<void> {
  if (!(await tableExists(client, bound))) {
    await boundedQuery(client, `CREATE SCHEMA IF NOT EXISTS "${MIGRATIONS_SCHEMA}"`, undefined, bound);
    await boundedQuery(client, `CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`, undefined, bound);
  }
  await boundedQuery(client, `ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS name text, ADD COLUMN IF NOT EXISTS applied_at timestamptz DEFAULT now()`, undefined, bound);
}

/** The progress table of non-transactional migrations; only ever called under the lock, and only when one is pending. */
async function ensureProgressTable(client: Client, bound: number): Promise<void> {
  await boundedQuery(
    client,
    `CREATE TABLE IF NOT EXISTS ${PROGRESS} (hash text PRIMARY KEY, created_at bigint NOT NULL, name text NOT NULL, ` +
      'done integer NOT NULL, statements integer NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())',
    undefined,
    bound,
  );
}

interface Progress {
  hash: string;
  name: string;
  done: number;
  statements: number;
}

async function readProgress(client: Client, bound: number): Promise<Progress[]> {
  const { rows } = await boundedQuery<{ exists: boolean }>(client, 'SELECT to_regclass($1) IS NOT NULL AS exists', [`${MIGRATIONS_SCHEMA}.${PROGRESS_TABLE}`], bound);
  if (!rows[0].exists) return [];
  return (await boundedQuery<Progress>(client, `SELECT hash, name, done, statements FROM ${PROGRESS} ORDER BY created_at`, undefined, bound)).rows;
}

/**
 * An interrupted non-transactional migration whose file is no longer the one that ran (edited, or
 * removed) cannot be resumed: which of its statements are in the database is known only for the
 * file that ran. Named with what to do.
 */
function progressProblems(progress: Progress[], pending: Migration[]): string[] {
  return progress
    .filter((p) => !pending.some((m) => m.hash === p.hash))
    .map(
      (p) =>
        `${p.name} was interrupted after ${p.done} of its ${p.statements} statements, and its file has changed since (or is gone): ` +
        `what of it is in the database is known only for the file that ran (sha256 ${p.hash.slice(0, 12)}). Restore that file from version ` +
        'control and run db:migrate again, which finishes it; or undo its committed statements by hand and then delete the record, as the ' +
        `migrator: DELETE FROM ${PROGRESS} WHERE hash = '${p.hash}';`,
    );
}

async function readApplied(client: Client, bound: number): Promise<AppliedMigration[]> {
  if (!(await tableExists(client, bound))) return [];
  // to_jsonb reads `name` where we added it and gives NULL in a table drizzle-kit created.
  const { rows } = await boundedQuery<{ id: number; hash: string; created_at: string; name: string | null }>(
    client,
    `SELECT id, hash, created_at, to_jsonb(t) ->> 'name' AS name FROM ${TABLE} t ORDER BY created_at, id`,
    undefined,
    bound,
  );
  return rows.map((r) => ({ id: r.id, hash: r.hash, createdAt: Number(r.created_at), name: r.name }));
}

/**
 * Compares the database's history with the files. Every problem is listed, each naming its file,
 * because any of them means the files no longer describe the database. `edited`: one of them is a
 * migration changed, removed or reordered after it was applied (as opposed to a duplicate row).
 */
function compareHistory(applied: AppliedMigration[], migrations: Migration[]): HistoryCheck & { edited: boolean } {
  const byTime = new Map(migrations.map((m) => [m.createdAt, m]));
  const edits: string[] = [];
  const duplicates: string[] = [];
  const rowsByTime = new Map<number, AppliedMigration[]>();
  for (const row of applied) rowsByTime.set(row.createdAt, [...(rowsByTime.get(row.createdAt) ?? []), row]);
  for (const [createdAt, rows] of rowsByTime) {
    const file = byTime.get(createdAt);
    const name = file?.name ?? rows[0].name ?? `the migration with journal time ${createdAt}`;
    const changed = rows.find((r) => r.hash !== file?.hash);
    if (!file) {
      edits.push(`${rows[0].name ? `${rows[0].name}.sql` : name} was applied to this database but is no longer among the migration files (removed or renamed).`);
    } else if (changed) {
      edits.push(`${file.file} was changed after it was applied (applied sha256 ${changed.hash.slice(0, 12)}, file ${file.hash.slice(0, 12)}).`);
    }
    if (rows.length > 1) {
      const later = rows.slice(1).map((r) => r.id);
      duplicates.push(
        `${name} is recorded ${rows.length} times in ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE} (ids ${rows.map((r) => r.id).join(', ')}): ` +
          'two runs applied it at once, as happens through a pooler that does not keep the session (PgBouncer in transaction mode). ' +
          `Check that its changes are in place, then delete the later ${later.length > 1 ? 'rows' : 'row'} as the migrator: ` +
          `DELETE FROM ${TABLE} WHERE id IN (${later.join(', ')});`,
      );
    }
  }
  const lastApplied = applied.length > 0 ? Math.max(...applied.map((r) => r.createdAt)) : -Infinity;
  const pending = migrations.filter((m) => !rowsByTime.has(m.createdAt));
  for (const m of pending.filter((p) => p.createdAt < lastApplied)) {
    edits.push(`${m.file} is older than the newest applied migration, so drizzle's migrator would skip it; regenerate it.`);
  }
  return { applied: appliedOnce(applied), pending, problems: [...edits, ...duplicates], edited: edits.length > 0 };
}

export function checkHistory(applied: AppliedMigration[], migrations: Migration[]): HistoryCheck {
  const { edited: _edited, ...check } = compareHistory(applied, migrations);
  return check;
}

/** The pending migrations, or a MigrationError listing every problem of the history. */
export function verifyHistory(applied: AppliedMigration[], migrations: Migration[]): Migration[] {
  const { pending, problems, edited } = compareHistory(applied, migrations);
  if (problems.length > 0) {
    const restore = edited
      ? '\nApplied migrations must stay as they were: restore them from version control and put changes in a new migration.'
      : '';
    throw new MigrationError(`refusing to migrate, nothing was changed:\n  - ${problems.join('\n  - ')}${restore}`);
  }
  return pending;
}

/** The history and what it means for the files, without judging it: for a report (health) that lists problems itself. */
export async function historyStatus(client: Client, migrations: Migration[], queryTimeoutSeconds = DEFAULT_QUERY_TIMEOUT_SECONDS): Promise<HistoryCheck> {
  return checkHistory(await readApplied(client, queryTimeoutSeconds), migrations);
}

/** Applied (each once) and pending migrations; a MigrationError when the history does not match the files. */
export async function migrationStatus(client: Client, migrations: Migration[], queryTimeoutSeconds = DEFAULT_QUERY_TIMEOUT_SECONDS): Promise<MigrationStatus> {
  const applied = await readApplied(client, queryTimeoutSeconds);
  return { applied: appliedOnce(applied), pending: verifyHistory(applied, migrations) };
}

interface LockHolder {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  usename: string | null;
}

/** A session holding the lock, worded as what it is: a PostgreSQL backend, not a process of this machine. */
function describeHolder(h: LockHolder): string {
  const parts = [`backend pid ${h.pid}`];
  if (h.usename) parts.push(`role ${h.usename}`);
  if (h.application_name) parts.push(`application_name "${h.application_name}"`);
  if (h.client_addr) parts.push(`client ${h.client_addr}`);
  return `PostgreSQL session (${parts.join(', ')})`;
}

/**
 * Tries the migration lock (pg_try_advisory_lock) until it is had or timeoutSeconds have passed,
 * sleeping on the client between tries, never with a query in flight while it waits: true once
 * held. A waiting pg_advisory_lock would hold its query's snapshot for the whole wait, and the last
 * phase of a CREATE INDEX CONCURRENTLY that the lock's holder runs waits for every older snapshot
 * of the database: each would wait for the other, and PostgreSQL would abort one as a deadlock.
 * False on timeout, or once `signal` has aborted (the caller tells the two apart by signal.aborted).
 */
export async function pollForMigrationLock(client: Client, timeoutSeconds: number, bound: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs(timeoutSeconds);
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) return false;
    const { rows } = await boundedQuery<{ ok: boolean }>(client, `SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`, undefined, bound);
    if (rows[0].ok) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(left, LOCK_POLL_MS[Math.min(attempt, LOCK_POLL_MS.length - 1)]), signal);
  }
}

async function lockHolders(client: Client, bound: number): Promise<LockHolder[]> {
  // client_addr is shown only to the session's own role and to pg_read_all_stats, null otherwise (PostgreSQL's
  // src/backend/utils/adt/pgstatfuncs.c, pg_stat_get_activity, HAS_PGSTAT_PERMISSIONS); application_name to everyone.
  const { rows } = await boundedQuery<LockHolder>(
    client,
    `SELECT a.pid, nullif(a.application_name, '') AS application_name, host(a.client_addr) AS client_addr, a.usename
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = ${LOCK_KEY}`,
    undefined,
    bound,
  );
  return rows;
}

export async function acquireLock(client: Client, timeoutSeconds: number, bound: number, log: (line: string) => void): Promise<void> {
  const { rows } = await boundedQuery<{ ok: boolean }>(client, `SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`, undefined, bound);
  if (rows[0].ok) return;
  const first = (await lockHolders(client, bound)).map(describeHolder).join('; ');
  log(`waiting up to ${timeoutSeconds} s for another migration run to finish${first ? `: its ${first} holds the migration lock` : ''}`);
  if (await pollForMigrationLock(client, timeoutSeconds, bound)) return;
  // Who holds it now (the run that held it at first may have ended, and another taken it).
  const holders = await lockHolders(client, bound).catch(() => [] as LockHolder[]);
  const who = holders.map(describeHolder).join('; ') || first;
  const pid = holders[0]?.pid;
  throw new MigrationError(
    `another migration run held the lock for over ${timeoutSeconds} s${who ? ` (its ${who})` : ''}; nothing was changed. ` +
      `Wait for it, or raise --lock-timeout.${pid ? ` What it is doing: SELECT state, query FROM pg_stat_activity WHERE pid = ${pid};` : ''}`,
  );
}

interface PgError {
  message?: string;
  position?: string;
  code?: string;
  detail?: string;
  hint?: string;
}

/** The connection itself failed (server shut down, network gone), not the statement. */
export function connectionLost(e: PgError): boolean {
  if (e.code) return e.code.startsWith('08') || e.code === '57P01' || e.code === '57P02';
  return /Connection terminated|ECONNRESET|EPIPE|socket|not queryable/i.test(e.message ?? '');
}

const interruptedOnline = (m: Migration) =>
  `${m.name} runs without a transaction (${NO_TRANSACTION_MARKER}), so its statements before the one running stay committed, and it ` +
  'was not recorded as applied (an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index, which the next run drops and builds again)';

function lostConnection(m: Migration, e: PgError, committing: boolean): MigrationError {
  const outcome = !m.transactional
    ? interruptedOnline(m)
    : committing
      ? `it was lost during COMMIT, so ${m.name} may or may not have been applied`
      : `nothing of ${m.name} was committed (PostgreSQL rolls back an open transaction when its connection ends)`;
  return new MigrationError(
    `lost the connection to the server while applying ${m.file} (${e.message ?? 'no message'}): ${outcome}. ` +
      'Run db:migrate again once the server is reachable: it checks what was applied.',
  );
}

/** What an unanswered query of a migration's transaction leaves behind, and what to do. */
function unanswered(client: Client, m: Migration, what: string, error: NoAnswer, committing: boolean, flag: string): MigrationError {
  const outcome = !m.transactional
    ? `${interruptedOnline(m)}: run db:migrate again once the server answers, it resumes where this run stopped`
    : committing
    ? `${m.name} may or may not have been applied: run db:migrate again once the server answers, it checks the history`
    : `nothing of ${m.name} is committed: PostgreSQL rolls the open transaction back when it notices the closed connection ` +
      '(the statement may run on until then)';
  return new MigrationError(
    `${describeServer(client)} gave no answer within ${error.seconds} s to ${what} of ${m.file} (${flag}); the connection was ` +
      `closed, so ${outcome}. Check the server's load and logs; if the statement legitimately takes longer, raise ${flag}.`,
  );
}

interface StatementContext {
  who: SessionRole;
  ddlLockTimeoutSeconds: number;
  migrationQueryTimeoutSeconds: number;
}

/** What a failed statement leaves of its migration: all of it rolled back, or (without a transaction) the statements before it. */
function failureOutcome(m: Migration, index: number): string {
  if (m.transactional) return `${m.name} was rolled back completely: nothing of it was applied.`;
  return (
    `${m.name} runs without a transaction (${NO_TRANSACTION_MARKER}): ${index === 0 ? 'none of its statements' : `its statements 1 to ${index}`} ` +
    `committed, and it was not recorded as applied. Fix the cause and run db:migrate again: it resumes at statement ${index + 1}.`
  );
}

function describeFailure(client: Client, m: Migration, index: number, error: unknown, ctx: StatementContext, note = ''): MigrationError {
  const statement = m.statements[index];
  let line = statement.line;
  const e = error as PgError;
  if (e.position) line += statement.sql.slice(0, Number(e.position) - 1).split('\n').length - 1;
  const where = `statement ${index + 1} of ${m.statements.length} (line ${line})`;
  if (error instanceof NoAnswer) return unanswered(client, m, where, error, false, '--migration-query-timeout');
  if (connectionLost(e)) return lostConnection(m, e, false);
  if (e.code === INSUFFICIENT_PRIVILEGE && !ctx.who.mayMigrate) {
    return notMigrator(ctx.who, e.message ?? String(error), 'migrations', `${m.file} failed at ${where}; ${failureOutcome(m, index)}`);
  }
  const excerpt = statement.sql.length > 300 ? `${statement.sql.slice(0, 300)} ...` : statement.sql;
  const extra = [e.detail, e.hint].filter(Boolean).join(' ');
  const noTransaction =
    e.code !== ACTIVE_SQL_TRANSACTION && e.code !== INVALID_TRANSACTION_TERMINATION
      ? ''
      : m.transactional
        ? e.code === ACTIVE_SQL_TRANSACTION
          ? ` It cannot run inside a transaction: put it in a migration of its own whose first line is \`${NO_TRANSACTION_MARKER}\`, which the runner applies one statement at a time.`
          : ''
        : (e.code === ACTIVE_SQL_TRANSACTION
            ? ` It cannot run inside a transaction, and the runner runs bare only ${BARE_STATEMENTS} (every other statement in a transaction of its own, with the record of it).`
            : ' It ends its transaction (a COMMIT or ROLLBACK in a procedure or DO block), which the runner runs each statement of a marked migration in, with the record of it; ' +
              'split its batches into statements of their own instead.') +
          ` Or run it by hand as the migrator, outside the migrations, then mark it done and run db:migrate again, which resumes after it: ` +
          `UPDATE ${PROGRESS} SET done = ${index + 1}, updated_at = now() WHERE hash = '${m.hash}' AND done = ${index};`;
  const lockWait =
    e.code === '55P03'
      ? ` It waited over ${ctx.ddlLockTimeoutSeconds} s for a lock that another session holds (a long query or transaction on the table): ` +
        'retry when the table is quieter, or raise --ddl-lock-timeout.'
      : '';
  return new MigrationError(
    `${m.file} failed at ${where}: ${e.message ?? String(error)}` +
      `${extra ? ` (${extra})` : ''}.${noTransaction}${lockWait}${note}\n${excerpt.replace(/^/gm, '    ')}\n` +
      failureOutcome(m, index),
  );
}

async function applyOne(client: Client, m: Migration, ctx: StatementContext, bound: number): Promise<void> {
  const step = async (what: string, run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      if (error instanceof NoAnswer) throw unanswered(client, m, what, error, false, '--query-timeout');
      if (connectionLost(error as PgError)) throw lostConnection(m, error as PgError, false);
      throw error;
    }
  };
  await step('BEGIN', () => boundedQuery(client, 'BEGIN', undefined, bound));
  try {
    await step('the lock timeout setting', () => boundedQuery(client, `SET LOCAL lock_timeout = '${timeoutMs(ctx.ddlLockTimeoutSeconds)}ms'`, undefined, bound));
    for (let i = 0; i < m.statements.length; i++) {
      try {
        await boundedQuery(client, m.statements[i].sql, undefined, ctx.migrationQueryTimeoutSeconds);
      } catch (error) {
        throw describeFailure(client, m, i, error, ctx);
      }
    }
    await step('the history row', () =>
      boundedQuery(client, `INSERT INTO ${TABLE} (hash, created_at, name) VALUES ($1, $2, $3)`, [m.hash, m.createdAt, m.name], bound),
    );
  } catch (error) {
    if (!isClosed(client)) await boundedQuery(client, 'ROLLBACK', undefined, bound).catch(() => undefined);
    throw error;
  }
  try {
    await boundedQuery(client, 'COMMIT', undefined, ctx.migrationQueryTimeoutSeconds);
  } catch (error) {
    if (error instanceof NoAnswer) throw unanswered(client, m, 'COMMIT', error, true, '--migration-query-timeout');
    throw connectionLost(error as PgError) ? lostConnection(m, error as PgError, true) : error;
  } finally {
    // A migration's own SET (search_path, role) must not leak into the next one.
    if (!isClosed(client)) await boundedQuery(client, 'RESET ALL; RESET ROLE', undefined, bound).catch(() => undefined);
  }
}

/** The index a statement builds, if it exists: whether it is valid (an interrupted CONCURRENTLY build leaves it INVALID). */
async function indexState(client: Client, index: string, bound: number): Promise<'valid' | 'invalid' | undefined> {
  const { rows } = await boundedQuery<{ valid: boolean }>(
    client,
    'SELECT i.indisvalid AND i.indisready AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)',
    [index],
    bound,
  );
  return rows.length === 0 ? undefined : rows[0].valid ? 'valid' : 'invalid';
}

const CHECK_VIOLATION = '23514';
const FOREIGN_KEY_VIOLATION = '23503';
/** How many of the rows that break a constraint a message names. */
const SAMPLE_ROWS = 5;

/**
 * The rows of a table that break one of its constraints (a CHECK, or a FOREIGN KEY as MATCH SIMPLE
 * reads it: a row with a NULL in its key passes): how many, and the first few by primary key (or
 * ctid). For the message of a VALIDATE CONSTRAINT that failed; undefined for another kind.
 */
async function breakingRows(client: Client, table: string, constraint: string, bound: number): Promise<{ table: string; count: number; sample: string[] } | undefined> {
  const { rows } = await boundedQuery<{ contype: string; tbl: string; expr: string | null; cols: string[] | null; refcols: string[] | null; ref: string | null; pk: string[] | null }>(
    client,
    `SELECT c.contype, c.conrelid::regclass::text AS tbl, pg_get_expr(c.conbin, c.conrelid) AS expr, c.confrelid::regclass::text AS ref,
            (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS cols,
            (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS refcols,
            (SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.conrelid AND i.indisprimary) AS pk
       FROM pg_constraint c WHERE c.conrelid = to_regclass($1) AND c.conname = $2`,
    [table, constraint],
    bound,
  );
  const c = rows[0];
  if (!c) return undefined;
  let where: string;
  if (c.contype === 'c' && c.expr) where = `NOT (${c.expr})`;
  else if (c.contype === 'f' && c.cols && c.refcols && c.ref) {
    const cols = c.cols;
    const refcols = c.refcols;
    where =
      `${cols.map((col) => `t.${quoteIdent(col)} IS NOT NULL`).join(' AND ')} AND NOT EXISTS (SELECT 1 FROM ${c.ref} r WHERE ` +
      `${cols.map((col, i) => `r.${quoteIdent(refcols[i])} = t.${quoteIdent(col)}`).join(' AND ')})`;
  } else return undefined;
  const key = c.pk && c.pk.length > 0 ? c.pk.map((col) => `t.${quoteIdent(col)}::text`).join(` || ', ' || `) : 't.ctid::text';
  const keyName = c.pk && c.pk.length > 0 ? c.pk.join(', ') : 'ctid';
  const counted = await boundedQuery<{ count: string; sample: string[] | null }>(
    client,
    `SELECT count(*)::text AS count, (array_agg(${key} ORDER BY ${key}))[1:${SAMPLE_ROWS}] AS sample FROM ${c.tbl} t WHERE ${where}`,
    undefined,
    bound,
  );
  return { table: c.tbl, count: Number(counted.rows[0].count), sample: (counted.rows[0].sample ?? []).map((v) => `${keyName} ${v}`) };
}

/**
 * A VALIDATE CONSTRAINT that found rows breaking the constraint; its transaction has been rolled
 * back, and the migration's progress still stands at this statement. Where this same migration
 * added the constraint NOT VALID with only SETs after it, the constraint (which would refuse writes
 * like those rows meanwhile) is dropped and the progress set back to that ADD CONSTRAINT, in one
 * transaction; where nothing of the migration committed before it, the progress record is deleted:
 * the database is then as it was. Otherwise the constraint stays NOT VALID and a rerun resumes at
 * the VALIDATE. The message says which statements stay committed.
 */
async function validationFailure(client: Client, m: Migration, index: number, step: { table: string; constraint: string }, error: PgError, bound: number, queryBound: number): Promise<MigrationError> {
  const statement = m.statements[index];
  const broken = await breakingRows(client, step.table, step.constraint, queryBound).catch(() => undefined);
  let addedAt = -1;
  for (let j = index - 1; j >= 0 && addedAt < 0; j--) {
    const s = m.statements[j].step;
    if (s?.kind === 'add-constraint' && s.table === step.table && s.constraint === step.constraint) addedAt = j;
  }
  const committed = (n: number) =>
    n === 0 ? `no statement of ${m.name} committed` : n === 1 ? 'its statement 1 committed and stays' : `its statements 1 to ${n} committed and stay`;
  const keep = (n: number) => (n === 0 ? '' : ' Keep the file as it is until then: what of it is in the database is known only for the file that ran.');
  let outcome: string | undefined;
  if (addedAt >= 0 && m.statements.slice(addedAt + 1, index).every((s) => s.step?.kind === 'set')) {
    try {
      await boundedQuery(client, 'BEGIN', undefined, bound);
      await boundedQuery(client, `ALTER TABLE ${step.table} DROP CONSTRAINT IF EXISTS ${quoteIdent(step.constraint)}`, undefined, queryBound);
      if (addedAt === 0) await boundedQuery(client, `DELETE FROM ${PROGRESS} WHERE hash = $1`, [m.hash], bound);
      else await boundedQuery(client, `UPDATE ${PROGRESS} SET done = $2, updated_at = now() WHERE hash = $1`, [m.hash, addedAt], bound);
      await boundedQuery(client, 'COMMIT', undefined, queryBound);
      outcome =
        `The VALIDATE was rolled back, and the constraint, which statement ${addedAt + 1} of ${m.name} added NOT VALID, was dropped again; ` +
        (addedAt === 0
          ? `nothing of ${m.name} stays: the database is as it was before it, and it was not recorded as applied. Fix those rows (or the constraint), then run db:migrate again.`
          : `${committed(addedAt)}, and it was not recorded as applied. Fix those rows, then run db:migrate again: it resumes at statement ${addedAt + 1}, ` +
            `adding the constraint again.${keep(addedAt)}`);
    } catch {
      if (!isClosed(client)) await boundedQuery(client, 'ROLLBACK', undefined, bound).catch(() => undefined);
    }
  }
  outcome ??=
    `The VALIDATE was rolled back; the constraint stays NOT VALID, as ${addedAt >= 0 ? `statement ${addedAt + 1} of ${m.name}` : 'the migration that added it'} ` +
    `left it (rows written meanwhile must meet it); ${committed(index)}, and ${m.name} was not recorded as applied. Fix those rows (or the constraint), ` +
    `then run db:migrate again: it resumes at statement ${index + 1}, this VALIDATE.${keep(index)}`;
  const rows = broken
    ? `constraint "${step.constraint}" on table ${broken.table}: ${plural(broken.count, 'row')} break${broken.count === 1 ? 's' : ''} it` +
      `${broken.sample.length > 0 ? ` (e.g. ${broken.sample.join('; ')})` : ''}`
    : `constraint "${step.constraint}" on table ${step.table}: ${error.message ?? 'rows break it'}`;
  return new MigrationError(`${m.file} failed at statement ${index + 1} of ${m.statements.length} (line ${statement.line}), VALIDATE CONSTRAINT: ${rows}. ${outcome}`);
}

/**
 * The client backends of this database whose transaction began before `since`: what a CONCURRENTLY
 * statement started then waits for (CREATE INDEX CONCURRENTLY waits, after its build, for every
 * older snapshot of the database; every CONCURRENTLY statement waits for the transactions holding
 * locks on its table). For the message of one that ran over its time.
 */
async function olderTransactions(client: Client, since: string, bound: number): Promise<string> {
  const { rows } = await boundedQuery<{ pid: number; usename: string | null; application_name: string | null; state: string | null; xact_start: string; query: string | null }>(
    client,
    `SELECT pid, usename, nullif(application_name, '') AS application_name, state, to_char(xact_start, 'YYYY-MM-DD HH24:MI:SS TZ') AS xact_start,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS query
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start < $1::timestamptz
      ORDER BY xact_start LIMIT 5`,
    [since],
    bound,
  );
  if (rows.length === 0) return '';
  const each = rows.map(
    (r) =>
      `backend pid ${r.pid} (${[r.usename && `role ${r.usename}`, r.application_name && `application_name "${r.application_name}"`, r.state, `in a transaction since ${r.xact_start}`]
        .filter(Boolean)
        .join(', ')}${r.query ? `; last query: ${r.query}` : ''})`,
  );
  return (
    ` A CONCURRENTLY statement waits for the transactions of the database older than itself to end, and these were still open: ${each.join('; ')}. ` +
    'End them (or let them end), or run db:migrate when none is open; --migration-query-timeout bounds the wait.'
  );
}

const QUERY_CANCELED = '57014';

/**
 * Applies a migration marked NO_TRANSACTION_MARKER: one statement at a time, each committed on its
 * own, still under the session's advisory lock. A statement that may run in a transaction block
 * runs in one of its own, which also advances the progress record: applied exactly once, even when
 * the run is killed at any moment. A bare statement (files.ts, runsBare: CREATE INDEX CONCURRENTLY
 * IF NOT EXISTS, DROP INDEX CONCURRENTLY IF EXISTS) commits apart from
 * its progress, so a rerun may run it again: files.ts accepts only forms safe to repeat, and an
 * INVALID index left by an interrupted CONCURRENTLY build is dropped (DROP INDEX CONCURRENTLY) and
 * built again. A bare statement runs with lock_timeout 0 (its SHARE UPDATE EXCLUSIVE lock does not
 * block writes, and lock_timeout would also cut its waits for every older transaction of the
 * database) and statement_timeout --migration-query-timeout. The history row is inserted, with the
 * progress row deleted, in one transaction after the last statement: recorded exactly once.
 */
async function applyOnline(client: Client, m: Migration, ctx: StatementContext, bound: number, log: (line: string) => void): Promise<void> {
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof NoAnswer) throw unanswered(client, m, what, error, false, '--query-timeout');
      if (connectionLost(error as PgError)) throw lostConnection(m, error as PgError, false);
      throw error;
    }
  };
  const rollback = async () => {
    if (!isClosed(client)) await boundedQuery(client, 'ROLLBACK', undefined, bound).catch(() => undefined);
  };
  const recordProgress = (done: number) =>
    step('the progress record', () => boundedQuery(client, `UPDATE ${PROGRESS} SET done = $2, updated_at = now() WHERE hash = $1`, [m.hash, done], bound));

  /** Statement i in a transaction of its own, which also records it as done. */
  const inTransaction = async (i: number) => {
    const s = m.statements[i];
    await step('BEGIN', () => boundedQuery(client, 'BEGIN', undefined, bound));
    try {
      await boundedQuery(client, s.sql, undefined, ctx.migrationQueryTimeoutSeconds);
    } catch (error) {
      await rollback();
      const e = error as PgError;
      if (s.step?.kind === 'validate-constraint' && (e.code === CHECK_VIOLATION || e.code === FOREIGN_KEY_VIOLATION) && !isClosed(client)) {
        throw await validationFailure(client, m, i, s.step, e, bound, ctx.migrationQueryTimeoutSeconds);
      }
      throw describeFailure(client, m, i, error, ctx);
    }
    try {
      await recordProgress(i + 1);
    } catch (error) {
      await rollback();
      throw error;
    }
    try {
      // COMMIT runs the deferred checks: bounded as the statement is.
      await boundedQuery(client, 'COMMIT', undefined, ctx.migrationQueryTimeoutSeconds);
    } catch (error) {
      if (error instanceof NoAnswer) throw unanswered(client, m, `the COMMIT of statement ${i + 1}`, error, true, '--migration-query-timeout');
      throw describeFailure(client, m, i, error, ctx);
    }
  };

  /** A bare statement: lock_timeout 0, statement_timeout --migration-query-timeout; the session's own values are restored after it. */
  let bareStarted = '';
  const bare = async (sql: string) => {
    const saved = (
      await step('the session settings', () =>
        boundedQuery<{ l: string; s: string; started: string }>(
          client,
          `SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s, clock_timestamp()::text AS started`,
          undefined,
          bound,
        ),
      )
    ).rows[0];
    bareStarted = saved.started;
    await step('the session settings', () =>
      boundedQuery(client, `SET lock_timeout = 0; SET statement_timeout = '${timeoutMs(ctx.migrationQueryTimeoutSeconds)}ms'`, undefined, bound),
    );
    let failed: { error: unknown } | undefined;
    try {
      // The server cancels it at statement_timeout; the bound on the answer comes on top.
      await boundedQuery(client, sql, undefined, Math.min(ctx.migrationQueryTimeoutSeconds + bound, MAX_TIMEOUT_SECONDS));
    } catch (error) {
      failed = { error };
    }
    if (!isClosed(client)) {
      try {
        await boundedQuery(client, `SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [saved.l, saved.s], bound);
      } catch (error) {
        // Later statements must not run with lock_timeout 0: the session is given up.
        closed.add(client);
        await client.end().catch(() => undefined);
        if (failed) throw failed.error;
        throw new MigrationError(
          `${m.file}: could not restore the session's lock_timeout and statement_timeout after a CONCURRENTLY statement ` +
            `(${(error as Error).message}), so the connection was closed rather than run the next statements without them. ` +
            `${interruptedOnline(m)}. Run db:migrate again: it resumes where this run stopped (the CONCURRENTLY statement may run again, as its IF [NOT] EXISTS allows).`,
        );
      }
    }
    if (failed) throw failed.error;
  };
  /** A failed bare statement, described; one cancelled at --migration-query-timeout names the older transactions it may have waited for. */
  const bareFailure = async (i: number, error: unknown) => {
    const e = error as PgError;
    const note = e.code === QUERY_CANCELED && !isClosed(client) ? await olderTransactions(client, bareStarted, bound).catch(() => '') : '';
    return describeFailure(client, m, i, error, ctx, note);
  };

  try {
    const progress = await step('the progress record', () => boundedQuery<{ done: number }>(client, `SELECT done FROM ${PROGRESS} WHERE hash = $1`, [m.hash], bound));
    const resumed = progress.rows.length > 0;
    const start = resumed ? progress.rows[0].done : 0;
    if (resumed) {
      log(`resuming ${m.name} at statement ${start + 1} of ${m.statements.length}: an earlier run was interrupted after ${start}`);
    } else {
      await step('the progress record', () =>
        boundedQuery(client, `INSERT INTO ${PROGRESS} (hash, created_at, name, done, statements) VALUES ($1, $2, $3, 0, $4)`, [m.hash, m.createdAt, m.name, m.statements.length], bound),
      );
    }
    // Session settings: the table-lock bound of the statements run in a transaction, a check that the
    // runner is still there, and TCP keepalives for a network that vanishes. No statement_timeout
    // for those: --migration-query-timeout bounds each statement.
    await step('the session settings', () =>
      boundedQuery(
        client,
        `SET lock_timeout = '${timeoutMs(ctx.ddlLockTimeoutSeconds)}ms'; SET client_connection_check_interval = '${CONNECTION_CHECK_INTERVAL}'; ` +
          `SET tcp_keepalives_idle = ${TCP_KEEPALIVES.idle}; SET tcp_keepalives_interval = ${TCP_KEEPALIVES.interval}; SET tcp_keepalives_count = ${TCP_KEEPALIVES.count}`,
        undefined,
        bound,
      ),
    );
    // A migration's own SETs (search_path, say) before where it resumes hold for the rest of it: made again.
    for (let i = 0; i < start; i++) {
      if (m.statements[i].step?.kind !== 'set') continue;
      try {
        await boundedQuery(client, m.statements[i].sql, undefined, bound);
      } catch (error) {
        throw describeFailure(client, m, i, error, ctx);
      }
    }
    for (let i = start; i < m.statements.length; i++) {
      const s: Statement = m.statements[i];
      if (!runsBare(s.step)) {
        await inTransaction(i);
        continue;
      }
      if (s.step?.kind === 'create-index') {
        const index = s.step.index;
        const state = await step('the index check', () => indexState(client, index, bound));
        if (state === 'invalid') {
          if (!resumed) {
            throw new MigrationError(
              `${m.file} statement ${i + 1} (line ${s.line}) builds index ${index}, which exists already and is INVALID (a CREATE INDEX CONCURRENTLY ` +
                `that failed or was interrupted, not by this migration: it has no record of having started). Nothing of ${m.name} ran. Check what it is; ` +
                `if it is a failed build, drop it as the migrator, DROP INDEX CONCURRENTLY IF EXISTS ${index}; and run db:migrate again.`,
            );
          }
          log(`${m.name}: index ${index} is INVALID (an interrupted build); dropping it and building it again`);
          try {
            await bare(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
          } catch (error) {
            throw await bareFailure(i, error);
          }
        }
      }
      try {
        await bare(s.sql);
      } catch (error) {
        const e = error as PgError;
        const failure = await bareFailure(i, error);
        // A CONCURRENTLY build that failed on its own (a duplicate for a unique index, its time run out) leaves an INVALID index behind: dropped now.
        if (s.step?.kind === 'create-index' && !isClosed(client) && !connectionLost(e)) {
          const index = s.step.index;
          if ((await indexState(client, index, bound).catch(() => undefined)) === 'invalid') {
            // Bare, as every CONCURRENTLY statement: no lock_timeout (the DDL one would cut its waits), bounded by --migration-query-timeout.
            const dropped = await bare(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`).then(
              () => true,
              () => false,
            );
            failure.message += dropped
              ? ` The INVALID index ${index} it left was dropped.`
              : ` It left the INVALID index ${index}, which the next run drops and builds again.`;
          }
        }
        throw failure;
      }
      // Recorded after it: a run killed in between runs it again, which its form (IF [NOT] EXISTS) allows.
      await recordProgress(i + 1);
    }
    // Recorded exactly once: the history row and the end of the progress record commit together.
    await step('BEGIN', () => boundedQuery(client, 'BEGIN', undefined, bound));
    try {
      await step('the history row', () => boundedQuery(client, `INSERT INTO ${TABLE} (hash, created_at, name) VALUES ($1, $2, $3)`, [m.hash, m.createdAt, m.name], bound));
      await step('the progress record', () => boundedQuery(client, `DELETE FROM ${PROGRESS} WHERE hash = $1`, [m.hash], bound));
      await step('COMMIT', () => boundedQuery(client, 'COMMIT', undefined, bound));
    } catch (error) {
      await rollback();
      throw error;
    }
  } finally {
    if (!isClosed(client)) await boundedQuery(client, 'RESET ALL; RESET ROLE', undefined, bound).catch(() => undefined);
  }
}

async function backendPid(client: Client, bound: number): Promise<number> {
  return (await boundedQuery<{ pid: number }>(client, 'SELECT pg_backend_pid() AS pid', undefined, bound)).rows[0].pid;
}

function pooled(client: Client, evidence: string): MigrationError {
  return new MigrationError(
    `${describeServer(client)} does not keep this connection on one PostgreSQL session: ${evidence}. That is a pooler such as ` +
      'PgBouncer in transaction or statement mode; the migration lock belongs to a session, so concurrent runs through it could ' +
      `apply a migration twice. Nothing was changed. Migrate over a direct connection to PostgreSQL: set ${APP_ENV.migratorDatabaseUrl} ` +
      "to the migrator's direct URL (the stack's migratorDatabaseUrl output), not PgBouncer's.",
  );
}

/**
 * Refuses a connection whose queries a pooler may hand to different PostgreSQL sessions, before
 * the lock is taken: the lock is the session's. Only proof refuses: this connection's queries
 * reaching two backends, or another connection reaching this one's backend while it is connected.
 * Neither can happen on a direct connection or through a pooler in session mode.
 */
export async function assertOwnSession(client: Client, bound: number): Promise<void> {
  const pid = await backendPid(client, bound);
  // PostgreSQL sends its backend's own pid in BackendKeyData (src/backend/tcop/postgres.c,
  // PostgresMain), which node-postgres keeps as processID (pg/lib/client.js, _handleBackendKeyData).
  // PgBouncer gives each client a random key of its own instead (src/proto.c, welcome_client), so a
  // match is a direct connection (or a proxy that passed the server's key on, which ties the two).
  if ((client as Client & { processID?: number | null }).processID === pid) return;
  const target = targetOf(client);
  if (!target) {
    throw new MigrationError(
      `${describeServer(client)} is not reached directly (the connection's cancel key is not its backend's), and this client ` +
        'was not opened by connect(), so whether it keeps one session cannot be checked; nothing was changed. Migrate over a direct ' +
        `connection (${APP_ENV.migratorDatabaseUrl}).`,
    );
  }
  const other = await connect(target, 'db:migrate session check');
  try {
    // Three rounds: PgBouncer hands out its most recently released server first (src/objects.c,
    // change_server_state), so the other session gets ours in the first round; with
    // server_round_robin, our own next query moves to another server instead.
    for (let round = 0; round < 3; round++) {
      const again = await backendPid(client, bound);
      if (again !== pid) throw pooled(client, `two of its queries reached different backends (pids ${pid} and ${again})`);
      let theirs: number;
      try {
        theirs = await backendPid(other, PROBE_WAIT_SECONDS);
      } catch (error) {
        if (error instanceof NoAnswer) return;
        throw error;
      }
      if (theirs === pid) throw pooled(client, `another connection was given its backend (pid ${pid}) between two of its queries`);
    }
  } finally {
    await other.end().catch(() => undefined);
  }
}

function unansweredOutside(client: Client, error: NoAnswer): MigrationError {
  return new MigrationError(
    `${describeServer(client)} gave no answer within ${error.seconds} s to one of the runner's own queries (--query-timeout); ` +
      'the connection was closed, and no migration was being applied. Check the server\'s load and logs, then run db:migrate again.',
  );
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that
 * concurrent runs apply each migration once. The session is checked (no pooler in between) and the
 * history verified before anything changes. Every query has a bound on the wait for its answer.
 */
export async function migrate(client: Client, migrations: Migration[], options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  const bound = options.queryTimeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS;
  const ctx = {
    ddlLockTimeoutSeconds: options.ddlLockTimeoutSeconds ?? DEFAULT_DDL_LOCK_TIMEOUT_SECONDS,
    migrationQueryTimeoutSeconds: options.migrationQueryTimeoutSeconds ?? DEFAULT_MIGRATION_QUERY_TIMEOUT_SECONDS,
  };
  timeoutMs(bound);
  if (!(ctx.migrationQueryTimeoutSeconds > ctx.ddlLockTimeoutSeconds)) {
    throw new MigrationError(
      `--migration-query-timeout (${ctx.migrationQueryTimeoutSeconds} s) must be longer than --ddl-lock-timeout ` +
        `(${ctx.ddlLockTimeoutSeconds} s): a statement waiting for a table lock would otherwise be cut before the server gives up.`,
    );
  }
  let who: SessionRole | undefined;
  let locked = false;
  try {
    who = await sessionRole(client, bound);
    if (options.dryRun) {
      return { ...(await migrationStatus(client, migrations, bound)), appliedNow: [] };
    }
    await assertOwnSession(client, bound);
    await acquireLock(client, options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS, bound, log);
    locked = true;
    const before = await migrationStatus(client, migrations, bound);
    const interrupted = progressProblems(await readProgress(client, bound), before.pending);
    if (interrupted.length > 0) throw new MigrationError(`refusing to migrate, nothing was changed:\n  - ${interrupted.join('\n  - ')}`);
    if (before.pending.length > 0) await ensureTable(client, bound);
    if (before.pending.some((m) => !m.transactional)) await ensureProgressTable(client, bound);
    const appliedNow: Migration[] = [];
    for (const m of before.pending) {
      const started = process.hrtime.bigint();
      if (m.transactional) await applyOne(client, m, { ...ctx, who }, bound);
      else await applyOnline(client, m, { ...ctx, who }, bound, log);
      appliedNow.push(m);
      log(`applied ${m.name} (${plural(m.statements.length, 'statement')}, ${Number((process.hrtime.bigint() - started) / 1_000_000n)} ms)`);
    }
    return { ...before, appliedNow };
  } catch (error) {
    if (error instanceof NoAnswer) throw unansweredOutside(client, error);
    const e = error as PgError;
    if (e.code === INSUFFICIENT_PRIVILEGE && who && !who.mayMigrate) {
      throw notMigrator(who, e.message ?? String(error), 'migrations', 'nothing was changed');
    }
    throw error;
  } finally {
    if (locked && !(isClosed(client))) {
      await boundedQuery(client, `SELECT pg_advisory_unlock(${LOCK_KEY})`, undefined, bound).catch(() => undefined);
    }
  }
}
