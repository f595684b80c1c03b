import type { Client, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { APP_ENV } from '../../common/names';
import { connect, targetOf, UserFacingError } from '../postgres/connection';
import type { Migration } from './files';
import { plural } from '../text';

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
async function ensureTable(client: Client, bound: number): Promise<void> {
  if (!(await tableExists(client, bound))) {
    await boundedQuery(client, `CREATE SCHEMA IF NOT EXISTS "${MIGRATIONS_SCHEMA}"`, undefined, bound);
    await boundedQuery(client, `CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`, undefined, bound);
  }
  await boundedQuery(client, `ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS name text, ADD COLUMN IF NOT EXISTS applied_at timestamptz DEFAULT now()`, undefined, bound);
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

async function acquireLock(client: Client, timeoutSeconds: number, bound: number, log: (line: string) => void): Promise<void> {
  const { rows } = await boundedQuery<{ ok: boolean }>(client, `SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`, undefined, bound);
  if (rows[0].ok) return;
  // client_addr is shown only to the session's own role and to pg_read_all_stats, null otherwise (PostgreSQL's
  // src/backend/utils/adt/pgstatfuncs.c, pg_stat_get_activity, HAS_PGSTAT_PERMISSIONS); application_name to everyone.
  const holders = await boundedQuery<LockHolder>(
    client,
    `SELECT a.pid, nullif(a.application_name, '') AS application_name, host(a.client_addr) AS client_addr, a.usename
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = ${LOCK_KEY}`,
    undefined,
    bound,
  );
  const who = holders.rows.map(describeHolder).join('; ');
  log(`waiting up to ${timeoutSeconds} s for another migration run to finish${who ? `: its ${who} holds the migration lock` : ''}`);
  try {
    await boundedQuery(client, `SET lock_timeout = '${timeoutMs(timeoutSeconds)}ms'`, undefined, bound);
    // The server gives up after lock_timeout; the bound on the answer comes on top of that wait.
    await boundedQuery(client, `SELECT pg_advisory_lock(${LOCK_KEY})`, undefined, Math.min(timeoutSeconds + bound, MAX_TIMEOUT_SECONDS));
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      const pid = holders.rows[0]?.pid;
      throw new MigrationError(
        `another migration run held the lock for over ${timeoutSeconds} s${who ? ` (its ${who})` : ''}; nothing was changed. ` +
          `Wait for it, or raise --lock-timeout.${pid ? ` What it is doing: SELECT state, query FROM pg_stat_activity WHERE pid = ${pid};` : ''}`,
      );
    }
    throw error;
  } finally {
    if (!isClosed(client)) await boundedQuery(client, 'RESET lock_timeout', undefined, bound).catch(() => undefined);
  }
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

function lostConnection(m: Migration, e: PgError, committing: boolean): MigrationError {
  const outcome = committing
    ? `it was lost during COMMIT, so ${m.name} may or may not have been applied`
    : `nothing of ${m.name} was committed (PostgreSQL rolls back an open transaction when its connection ends)`;
  return new MigrationError(
    `lost the connection to the server while applying ${m.file} (${e.message ?? 'no message'}): ${outcome}. ` +
      'Run db:migrate again once the server is reachable: it checks what was applied.',
  );
}

/** What an unanswered query of a migration's transaction leaves behind, and what to do. */
function unanswered(client: Client, m: Migration, what: string, error: NoAnswer, committing: boolean, flag: string): MigrationError {
  const outcome = committing
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

function describeFailure(client: Client, m: Migration, index: number, error: unknown, ctx: StatementContext): MigrationError {
  const statement = m.statements[index];
  let line = statement.line;
  const e = error as PgError;
  if (e.position) line += statement.sql.slice(0, Number(e.position) - 1).split('\n').length - 1;
  const where = `statement ${index + 1} of ${m.statements.length} (line ${line})`;
  if (error instanceof NoAnswer) return unanswered(client, m, where, error, false, '--migration-query-timeout');
  if (connectionLost(e)) return lostConnection(m, e, false);
  if (e.code === INSUFFICIENT_PRIVILEGE && !ctx.who.mayMigrate) {
    return notMigrator(ctx.who, e.message ?? String(error), 'migrations', `${m.file} failed at ${where} and was rolled back completely`);
  }
  const excerpt = statement.sql.length > 300 ? `${statement.sql.slice(0, 300)} ...` : statement.sql;
  const extra = [e.detail, e.hint].filter(Boolean).join(' ');
  const noTransaction = e.code === '25001' ? ' Statements that cannot run inside a transaction are not supported.' : '';
  const lockWait =
    e.code === '55P03'
      ? ` It waited over ${ctx.ddlLockTimeoutSeconds} s for a lock that another session holds (a long query or transaction on the table): ` +
        'retry when the table is quieter, or raise --ddl-lock-timeout.'
      : '';
  return new MigrationError(
    `${m.file} failed at ${where}: ${e.message ?? String(error)}` +
      `${extra ? ` (${extra})` : ''}.${noTransaction}${lockWait}\n${excerpt.replace(/^/gm, '    ')}\n` +
      `${m.name} was rolled back completely: nothing of it was applied.`,
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
async function assertOwnSession(client: Client, bound: number): Promise<void> {
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
    if (before.pending.length > 0) await ensureTable(client, bound);
    const appliedNow: Migration[] = [];
    for (const m of before.pending) {
      const started = process.hrtime.bigint();
      await applyOne(client, m, { ...ctx, who }, bound);
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
