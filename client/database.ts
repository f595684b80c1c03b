/**
 * PostgreSQL for the assistant's services: a Drizzle database over a `pg` pool built from the
 * stack's variables, checked at start-up (the login, and that the database has every migration of
 * this code), safe behind PgBouncer's transaction pooling, with a bound on every wait and a bounded shutdown.
 *
 *   const database = await connectDatabase({ applicationName: 'api' });
 *   const doc = await database.db.query.documents.findFirst({ where: eq(documents.id, id), with: { owner: true } });
 *   await database.close();
 *
 * Library behaviour this module relies on is cited with the file under node_modules that shows it
 * (pg 8.23.1, pg-pool 3.14.0, pg-types 2.2.0, drizzle-orm 0.45.4), and PgBouncer's with its source file (the stack
 * runs 1.25.2; the tests run Debian's 1.18.0, which behaves alike where it is cited without a version).
 */
import { sql } from 'drizzle-orm';
import { drizzle, NodePgSession, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Client, Pool, type ClientBase, type PoolClient, type PoolConfig } from 'pg';
import { APP_ENV } from '../common/names';
import { boundedQuery, sessionRole } from '../lib/migrations/runner';
import { plural } from '../lib/text';
import { describeConnectError, parseDatabaseUrl, redact, type DatabaseTarget } from '../lib/postgres/connection';
import * as schema from '../schema';
// The code's migrations, compiled in: tsc (resolveJsonModule, tsconfig.json) emits the journal into
// dist/ beside the schema it describes, so a service always compares the database with the
// migrations of the very code it runs, not with files it would have to find at run time.
import journal from '../schema/migrations/meta/_journal.json';
import { ClientError, InvalidArgumentError, parseVariable, type Variables } from './errors';
import { wholeNumberOption } from './options';
import { settlesWithin } from './wait';

// The errors a service may meet here, from one import (the ones all client modules share live in errors.ts).
export { ClientError, InvalidArgumentError, InvalidVariableError, MissingVariableError } from './errors';

export type Schema = typeof schema;
/** The Drizzle database a service queries: `db.select()`, `db.query.<table>`, `db.transaction()`. */
export type ServiceDb = NodePgDatabase<Schema>;

/**
 * Which login: `pooled` is DATABASE_URL, the app role through PgBouncer (transaction pooling), for
 * everything a service does in transactions and single statements; `direct` is DIRECT_DATABASE_URL,
 * the same role straight to PostgreSQL, for what needs its session kept between statements
 * (LISTEN, advisory locks): hold one connection for it with `pool.connect()`.
 */
export type ConnectionKind = 'pooled' | 'direct';

export interface DatabaseOptions {
  /** `pooled` (default) or `direct`: see ConnectionKind. */
  connection?: ConnectionKind;
  /** Where the variables are read; process.env by default. */
  env?: Variables;
  /** The name the server shows for this service's connections (pg_stat_activity, PgBouncer's SHOW CLIENTS). */
  applicationName?: string;
  /** Connections this process opens at most: default 10 pooled (cheap PgBouncer clients), 5 direct (each a PostgreSQL backend). */
  poolSize?: number;
  /** Longest a statement may run, in ms (default 30000): see "Timeouts" below. */
  statementTimeoutMs?: number;
  /** How long close() lets queries in flight finish before it cuts them, in ms (default 5000). */
  closeTimeoutMs?: number;
  /**
   * Told of each connection that dies while idle in the pool or held by the service (pool.connect(),
   * a transaction): the pool has already dropped it, and opens another when next needed. A query
   * waiting on it fails as well, with its own error. By default, a process warning
   * (process.emitWarning, code PA_DATABASE_CONNECTION_LOST).
   */
  onConnectionLost?: (error: Error) => void;
}

export interface Database {
  /** Drizzle over the pool, with the schema and its relations. */
  readonly db: ServiceDb;
  /** The pg pool under it: `pool.connect()` holds one connection (release it with `client.release()`). */
  readonly pool: Pool;
  /** Where it connects, without the password, and from which variable: for logs. */
  readonly target: string;
  /** Ends every connection: queries in flight get closeTimeoutMs to finish, then are cut. Never waits longer. */
  close(): Promise<void>;
}

/** A query got no answer within its bound; its connection has been closed. */
export class QueryTimeoutError extends ClientError {
  override name = 'QueryTimeoutError';
  constructor(readonly target: string, readonly timeoutMs: number) {
    super(
      'QUERY_TIMEOUT',
      `PostgreSQL at ${target} gave no answer within ${timeoutMs} ms; the connection was closed. Through PgBouncer, a ` +
        'statement outside db.transaction() may still be running on the server (closing a connection does not cancel ' +
        'its statement). Make the query faster, run it in db.transaction(), or raise statementTimeoutMs.',
    );
  }
}

/** The server could not be reached or refused the login, at start-up. */
export class DatabaseUnavailableError extends ClientError {
  override name = 'DatabaseUnavailableError';
  constructor(message: string, cause: unknown) {
    super('DATABASE_UNAVAILABLE', message, { cause });
  }
}

/**
 * The URL logs in as a role that may change the schema: the database's owner (the migrator), a
 * member of it, or a superuser. The app role may only read and write rows (common/privileges.ts).
 */
export class MigratorLoginError extends ClientError {
  override name = 'MigratorLoginError';
  constructor(readonly variable: string, readonly role: string, readonly database: string, readonly owner: string) {
    super(
      'MIGRATOR_LOGIN',
      `${variable} logs in as role "${role}", ${role === owner ? 'the owner' : `a superuser or a member of "${owner}", the owner`} of database ` +
        `"${database}", which may change its schema: that is the migrator's login (${APP_ENV.migratorDatabaseUrl}), for db:migrate and ` +
        `db:seed only. Set ${variable} to the stack's ${variable === APP_ENV.databaseUrl ? 'databaseUrl' : 'directDatabaseUrl'} output, ` +
        'the app role (`npm run env -- --stack <stack>` writes it).',
    );
  }
}

/** How to bring a database up to the code, as README puts it ("Stack outputs": to migrate by hand; "A backup before migrating": the post-deploy step). */
const MIGRATE_FIRST =
  'Apply the migrations before starting the service: `pulumi up --stack <stack>` (its post-deploy step migrates), or `npm run db:migrate` ' +
  `from a checkout of this code's version, as the migrator (${APP_ENV.migratorDatabaseUrl}, the stack's migratorDatabaseUrl output).`;

/**
 * The database lacks migrations this code was built with (its journal, schema/migrations/meta/_journal.json):
 * the service would query tables, columns or constraints that are not there yet. Raised at start-up,
 * before any query of the service's own runs.
 *
 * A database ahead of the code, with migrations the code does not know, passes: a deployment
 * migrates first (`pulumi up`'s post-deploy step), and services still on the older code must keep starting
 * until they are replaced (a rolling deploy, a restart in between). Whether their queries still
 * work is the newer migrations' business: one that drops or renames what older code uses breaks it
 * whatever this check says.
 */
export class DatabaseBehindError extends ClientError {
  override name = 'DatabaseBehindError';
  constructor(
    /** Where it connected, without the password, and from which variable. */
    readonly target: string,
    /**
     * The code's migrations not applied there, by journal tag (`0008_applied_migrations`), oldest
     * first; when no history could be read, every one of the code's migrations (none is known to be applied).
     */
    readonly missing: readonly string[],
    /** False when the database offers no history to read: never migrated, migrated only up to before HISTORY_MIGRATION, or its history table is gone. */
    readonly historyReadable: boolean,
    /** Why no history could be read (historyReadable false): what the database lacks. */
    why?: string,
    cause?: unknown,
  ) {
    super(
      'DATABASE_BEHIND',
      [
        historyReadable
          ? `the database at ${target} is behind this code: it lacks ${plural(missing.length, 'migration')} of the code's (${missing.join(', ')}).`
          : `no migration history readable at ${target}: migrate first.`,
        why,
        MIGRATE_FIRST,
      ]
        .filter((part) => part)
        .join(' '),
      { cause },
    );
  }
}

/**
 * What the app role reads the migration history through: a SECURITY DEFINER function that returns
 * the created_at (the journal's `when`) of each applied migration and nothing else, since the app
 * role may not read drizzle.__drizzle_migrations itself (no USAGE on schema drizzle:
 * common/privileges.ts grants it only `public`). HISTORY_MIGRATION creates it; see that file for why
 * it is safe.
 */
const HISTORY_FUNCTION = 'public.applied_migrations()';
const HISTORY_QUERY = `SELECT created_at FROM ${HISTORY_FUNCTION} AS history(created_at)`;
const HISTORY_MIGRATION = '0008_applied_migrations';
/** PostgreSQL's undefined_function: the database has no HISTORY_FUNCTION (before HISTORY_MIGRATION, or never migrated). */
const UNDEFINED_FUNCTION = '42883';
/** PostgreSQL's undefined_table: the function is there, the history table it reads (or its schema) is not. */
const UNDEFINED_TABLE = '42P01';
/** The code's migrations, oldest first: each one's journal `when` (drizzle's created_at) and tag. */
const CODE_MIGRATIONS: readonly { when: number; tag: string }[] = journal.entries.map(({ when, tag }) => ({ when, tag }));

/**
 * The client-side bound of every query is the statement timeout plus this: where the server stops
 * a statement itself (direct connections, db.transaction()), its error arrives first and the
 * connection stays usable; the client-side bound is for the rest, and for a server that stopped answering.
 */
const CLIENT_MARGIN_MS = 1000;
/** Each of the start-up check's two queries (the login, the migrations): they are tiny, so a slower answer means trouble, not load. */
const READY_TIMEOUT_SECONDS = 5;
/**
 * Idle connections are closed after this. Through PgBouncer an idle client connection costs
 * PostgreSQL nothing (PgBouncer holds the server connections), so they are kept a while; a direct
 * one is a PostgreSQL backend, given back soon.
 */
const IDLE_MS: Record<ConnectionKind, number> = { pooled: 60_000, direct: 10_000 };
const POOL_SIZE: Record<ConnectionKind, number> = { pooled: 10, direct: 5 };
/** After close() has cut the connections, how long it waits for the pool to notice (the sockets are destroyed: milliseconds). */
const CLOSE_FORCED_MS = 1000;
/** pg's error for a query that outlived its query_timeout (node_modules/pg/lib/client.js, query()): no code, only this message. */
const READ_TIMEOUT = 'Query read timeout';

/** What every connection of one pool shares: set by connectDatabase, read by ServiceClient. */
interface PoolSettings {
  target: string;
  /**
   * The URL each new connection is opened with. A function, so that the URL and its password are in
   * no property of the pool or its connections: see connectDatabase.
   */
  connectionString: () => string;
  /** Run every statement unnamed (no server-side prepared statement survives a transaction through PgBouncer). */
  unnamed: boolean;
  queryTimeoutMs: number;
  lost: (error: Error) => void;
}

type QueryCallback = (error: Error | null, result?: unknown) => void;

/**
 * The pool's connection: pg's Client, handed out by pg-pool (its `Client` option,
 * node_modules/pg-pool/index.js, constructor and newClient), with three changes.
 *
 * - Through PgBouncer, a statement's name is dropped. Drizzle's `.prepare(name)` gives pg the name
 *   (node_modules/drizzle-orm/node-postgres/session.cjs, NodePgPreparedQuery: queryConfig.name), and
 *   pg sends Parse for it only on a connection's first run, then Bind alone
 *   (node_modules/pg/lib/query.js, hasBeenParsed and prepare). PgBouncer hands each transaction any
 *   server, where that statement does not exist: "prepared statement ... does not exist" (26000, seen
 *   with PgBouncer 1.18 in tests/client-database.test.ts). PgBouncer tracks protocol-level prepared
 *   statements since 1.21, by default since 1.24 (src/main.c, max_prepared_statements: 0 in 1.23.0,
 *   200 in 1.24.0), so the stack's 1.25.2 would run them; the module does not depend on it: unnamed,
 *   the statement is parsed each run, and Drizzle's prepared query still saves building its SQL.
 * - A connection that failed (its query outlived the bound, its socket died) is closed and, when a
 *   holder has it, given back to the pool as broken at once; later queries on it fail with the first
 *   error, and the holder's own release() does nothing. pg leaves a timed-out query as the
 *   connection's active one, so every later query would queue behind it
 *   (node_modules/pg/lib/client.js, query(): the timer removes only unsent queries). And a
 *   transaction's connection that timed out or died is given back here, broken, whether its
 *   holder would have released it or not (releaseEveryTransaction gives back one whose BEGIN the
 *   server refused; Drizzle's own transaction() would release neither).
 * - It always has an 'error' listener. pg emits 'error' on a client whose socket dies
 *   (client.js, _handleErrorEvent), and pg-pool listens only while the client is idle (index.js,
 *   _acquireClient removes its idleListener): an error on a held client, a Drizzle transaction's
 *   when PgBouncer restarts, would otherwise be thrown by the EventEmitter and end the process.
 */
class ServiceClient extends Client {
  /** True while pg-pool has handed it out (its 'acquire' and 'release' events). */
  held = false;
  failure: Error | undefined;
  /** Set by pg-pool at each checkout (index.js, _acquireClient); not declared by pg's types on Client. */
  declare release: ((error?: Error | boolean) => void) | undefined;
  private readonly settings: PoolSettings;

  constructor(config: PoolConfig & { settings: PoolSettings }) {
    // pg-pool passes its own options (index.js, newClient: `new this.Client(this.options)`), which hold
    // no URL; pg parses this one as it did when the URL was in them (connection-parameters.js: the
    // URL's values over the options') and keeps no copy of it, its password only in non-enumerable
    // properties (client.js, constructor: `this.password`; connection-parameters.js: `password`).
    super({ ...config, connectionString: config.settings.connectionString() });
    this.settings = config.settings;
    this.on('error', (error: Error) => {
      if (this.held) this.settings.lost(error);
      this.fail(error);
    });
  }

  /** Closes the connection and, if held, gives it back to the pool as broken, once. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    // With a query in flight pg destroys the socket; otherwise it says goodbye (client.js, end()).
    void this.end().catch(() => undefined);
    if (this.held && this.release) {
      const release = this.release;
      this.release = () => undefined;
      this.held = false;
      release(error);
    }
  }

  // The same call forms as pg's query() (client.js): a Submittable, or text or config with values and an optional callback.
  override query(config: any, values?: any, callback?: any): any {
    if (config !== null && typeof config === 'object' && typeof config.submit === 'function') return super.query(config, values, callback);
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    const text = this.settings.unnamed && config !== null && typeof config === 'object' && config.name !== undefined ? { ...config, name: undefined } : config;
    const bound: number = (typeof config === 'object' && config?.query_timeout) || this.settings.queryTimeoutMs;
    if (this.failure) {
      const failure = this.failure;
      if (callback) return void process.nextTick(() => (callback as QueryCallback)(failure));
      return Promise.reject(failure);
    }
    if (callback) return super.query(text, values, (error: Error | null, result: unknown) => (callback as QueryCallback)(error && this.failed(error, bound), result));
    return super.query(text, values).catch((error: Error) => {
      throw this.failed(error, bound);
    });
  }

  /** The error a query's caller gets: the first failure for a broken connection, a QueryTimeoutError for pg's timeout. */
  private failed(error: Error, bound: number): Error {
    if (this.failure) return this.failure;
    if (error.message !== READ_TIMEOUT) return error;
    const timeout = new QueryTimeoutError(this.settings.target, bound);
    this.fail(timeout);
    return timeout;
  }
}

function checkOptions(options: DatabaseOptions): Required<Omit<DatabaseOptions, 'env' | 'onConnectionLost'>> {
  const connection = options.connection ?? 'pooled';
  if (connection !== 'pooled' && connection !== 'direct') {
    throw new InvalidArgumentError('connection', `must be 'pooled' (${APP_ENV.databaseUrl}, through PgBouncer) or 'direct' (${APP_ENV.directDatabaseUrl}); got ${JSON.stringify(connection)}.`);
  }
  const applicationName = options.applicationName ?? 'pronunciation-assistant';
  // PostgreSQL keeps 63 bytes of it and shows other than printable ASCII as "?" (NAMEDATALEN, pg_clean_ascii).
  if (typeof applicationName !== 'string' || !/^[\x20-\x7e]{1,63}$/.test(applicationName)) {
    throw new InvalidArgumentError('applicationName', 'must be 1 to 63 printable ASCII characters (PostgreSQL keeps no more, and shows others as "?").');
  }
  return {
    connection,
    applicationName,
    poolSize: wholeNumberOption('poolSize', options.poolSize, POOL_SIZE[connection], 1, 100, 'connections'),
    // At least 1 ms: 0 would mean no limit to PostgreSQL and to pg alike. At most a day.
    statementTimeoutMs: wholeNumberOption('statementTimeoutMs', options.statementTimeoutMs, 30_000, 1, 86_400_000, 'ms'),
    closeTimeoutMs: wholeNumberOption('closeTimeoutMs', options.closeTimeoutMs, 5000, 0, 600_000, 'ms'),
  };
}

/** The URL from its variable, validated; its value is never repeated (it holds the password). */
function readTarget(env: Variables, connection: ConnectionKind): DatabaseTarget {
  const variable = connection === 'pooled' ? APP_ENV.databaseUrl : APP_ENV.directDatabaseUrl;
  const what = connection === 'pooled' ? "the app role's login through PgBouncer (the stack's databaseUrl output)" : "the app role's direct login to PostgreSQL (the stack's directDatabaseUrl output)";
  return parseVariable(env, variable, what, (value) => parseDatabaseUrl(value, variable));
}

/**
 * Drizzle's transaction() with its connection always given back. Drizzle checks one out and runs
 * BEGIN before its try/finally (node_modules/drizzle-orm/node-postgres/session.cjs,
 * NodePgSession.transaction; open upstream as drizzle-team/drizzle-orm#6114 and #6241), so a BEGIN
 * the server refuses on a healthy connection never gives it back and the pool loses a slot for
 * good: a misspelt isolationLevel, which Drizzle writes into BEGIN as it is (pg-core/session.cjs,
 * getTransactionConfigSQL: a syntax error, 42601), or accessMode 'read write' on a hot standby (25006).
 *
 * So the module checks the connection out itself and runs Drizzle's own transaction() on a session
 * over that one connection: the same BEGIN, work, COMMIT or ROLLBACK, the same `tx`, and no
 * release of its own, as Drizzle's session for a pool does with the connection it checked out
 * (its `isPool` is false for a ServiceClient: not a pg Pool, and no "Pool" in its class name). The release is in a finally here: with BEGIN's error when BEGIN
 * failed, so that pg-pool closes that connection instead of trusting it to the next holder
 * (pg-pool/index.js, _release: `if (err || ...)` removes the client); without one otherwise, where
 * the pool's 'release' listener closes a connection left inside a transaction (a failed ROLLBACK).
 * A connection that failed (a timeout, a dead socket) has been given back already by
 * ServiceClient.fail, and its release() does nothing.
 */
function releaseEveryTransaction(db: ServiceDb, pool: Pool): void {
  // PgDatabase keeps its session as `session` (node_modules/drizzle-orm/pg-core/db.cjs, constructor),
  // and db.transaction() calls session.transaction() (db.cjs, transaction); the session's dialect,
  // schema and options are what drizzle() gave it (node-postgres/driver.cjs, createSession; pg-core/session.cjs, PgSession).
  type Session = NodePgSession<Schema, any>;
  type Args = ConstructorParameters<typeof NodePgSession>;
  const session = (db as unknown as { session: Session }).session;
  const { dialect, schema, options } = session as unknown as { dialect: Args[1]; schema: Args[2]; options: Args[3] };
  session.transaction = (async (work, config) => {
    const client = await pool.connect();
    let refused: Error | undefined;
    let begun = false;
    try {
      const own = new NodePgSession(client, dialect, schema, options) as Session;
      return await own.transaction((tx) => {
        begun = true;
        return work(tx);
      }, config);
    } catch (error) {
      if (!begun) refused = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(refused);
    }
  }) as Session['transaction'];
}

/**
 * Timeouts. A statement_timeout sent at login, pg's `statement_timeout` or `options=-c ...`
 * (client.js, getStartupConf), is refused by PgBouncer: it accepts only the parameters it tracks and
 * those in ignore_startup_parameters, extra_float_digits for the stack (PgBouncer's src/client.c,
 * decide_startup_pool and set_startup_options: "unsupported startup parameter"), and a session-level
 * SET would stay on a server that other clients get next. So, through PgBouncer:
 * - db.transaction() begins with SET LOCAL statement_timeout, which ends with the transaction: the
 *   server stops a statement over the limit (57014), rolls back, and the connection stays usable;
 * - every query has a client-side bound, the statement timeout plus CLIENT_MARGIN_MS (pg's
 *   query_timeout): past it the service gets a QueryTimeoutError and the connection is closed.
 *   PgBouncer then closes its server connection without cancelling (src/objects.c,
 *   disconnect_client_sqlstate: "client disconnected with query in progress"), so a single
 *   statement outside a transaction runs on in PostgreSQL until it ends or first writes to that
 *   closed connection. (A statement_timeout set on the app role itself, ALTER ROLE ... SET, would
 *   stop it there; the stack sets none.)
 * Direct connections log in with statement_timeout, which PostgreSQL applies to every statement.
 */
function boundTransactions(db: ServiceDb, statementTimeoutMs: number): void {
  const transaction = db.transaction.bind(db);
  const setLocal = sql.raw(`SET LOCAL statement_timeout = ${statementTimeoutMs}`);
  db.transaction = (async (work, config) => {
    // Drizzle runs ROLLBACK when the work fails and, if that fails too (a lost connection), throws the
    // ROLLBACK's error instead (session.cjs, NodePgSession.transaction): the work's error says what happened.
    let failure: { error: unknown } | undefined;
    try {
      return await transaction(async (tx) => {
        try {
          await tx.execute(setLocal);
          return await work(tx);
        } catch (error) {
          failure = { error };
          throw error;
        }
      }, config);
    } catch (error) {
      throw failure ? failure.error : error;
    }
  }) as typeof db.transaction;
}

/**
 * Opens the pool, checks the login and the database's migrations (bounded: the URL's
 * connect_timeout, 5 s by default, then READY_TIMEOUT_SECONDS for each of the check's two queries)
 * and returns the database. On failure the pool is closed and a ClientError says what to fix:
 * MissingVariableError, InvalidVariableError, InvalidArgumentError, DatabaseUnavailableError,
 * MigratorLoginError, DatabaseBehindError, QueryTimeoutError.
 */
export async function connectDatabase(options: DatabaseOptions = {}): Promise<Database> {
  const { connection, applicationName, poolSize, statementTimeoutMs, closeTimeoutMs } = checkOptions(options);
  if (options.onConnectionLost !== undefined && typeof options.onConnectionLost !== 'function') {
    throw new InvalidArgumentError('onConnectionLost', 'must be a function (error) => void; leave it out for a process warning.');
  }
  const env = options.env ?? process.env;
  const target = readTarget(env, connection);
  const where = `${target.display} (from ${target.source})`;
  const lost =
    options.onConnectionLost ??
    ((error: Error) =>
      process.emitWarning(`lost a connection to PostgreSQL at ${where}: ${redact(error.message, target)}; the pool has dropped it and opens another when needed`, {
        code: 'PA_DATABASE_CONNECTION_LOST',
      }));
  // The URL is handed to each connection by a function (ServiceClient), not put in the pool's
  // options: pg-pool keeps a copy of those on the pool (pool.options) and hides only a `password`
  // key there (node_modules/pg-pool/index.js, constructor: Object.assign, then defineProperty
  // 'password' non-enumerable), so a connectionString with the password in it would show in
  // util.inspect(database), a logger's serialising of database.pool or db.$client, and every
  // connection's pool options. Parsed host, port, user and password options instead would not be
  // read as pg reads the URL (its query string: sslmode and the certificates, host for a socket,
  // application_name), which the URL keeps doing unchanged this way.
  const settings: PoolSettings = {
    target: where,
    connectionString: () => target.url,
    unnamed: connection === 'pooled',
    queryTimeoutMs: statementTimeoutMs + CLIENT_MARGIN_MS,
    lost,
  };
  const config: PoolConfig & { settings: PoolSettings } = {
    application_name: applicationName,
    max: poolSize,
    // pg-pool bounds with it both a new connection and the wait for a free one (index.js, connect and newClient).
    connectionTimeoutMillis: target.connectTimeoutMs,
    idleTimeoutMillis: IDLE_MS[connection],
    query_timeout: settings.queryTimeoutMs,
    ...(connection === 'direct' ? { statement_timeout: statementTimeoutMs } : {}),
    // A server or pooler that vanishes without closing the socket is noticed instead of waited on forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Idle connections and their timers do not keep a process alive (index.js, _release: unref): a
    // script that forgets close() still ends.
    allowExitOnIdle: true,
    Client: ServiceClient as unknown as new () => ClientBase,
    settings,
  };
  const pool = new Pool(config);
  const open = new Set<ServiceClient>();
  pool.on('connect', (client) => open.add(client as ServiceClient));
  pool.on('remove', (client) => open.delete(client as ServiceClient));
  pool.on('acquire', (client) => ((client as ServiceClient).held = true));
  pool.on('release', (error: Error | undefined, client: PoolClient) => {
    const c = client as unknown as ServiceClient;
    c.held = false;
    // Given back inside a transaction (status other than idle, client.js _handleReadyForQuery): the
    // next holder would run in it. Ended here, pg-pool removes it instead of keeping it (index.js, _release: client._ending).
    if (!error && !c.failure && c.getTransactionStatus() !== 'I') c.fail(new ClientError('RELEASED_IN_TRANSACTION', 'a connection was given back to the pool inside a transaction'));
  });
  // pg-pool emits 'error' for an idle connection that died (index.js, makeIdleListener), after removing it;
  // without a listener the EventEmitter would throw it and end the process.
  pool.on('error', (error) => lost(error));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // end() resolves once every connection is given back and closed (index.js, _pulseQueue when ending).
      const ended = pool.end();
      if (await settlesWithin(ended, closeTimeoutMs)) return;
      const cut = new ClientError('DATABASE_CLOSED', `the database pool of ${where} was closed (close()) while this query waited for its answer`);
      for (const client of open) client.fail(cut);
      await settlesWithin(ended, CLOSE_FORCED_MS);
    })());

  const db = drizzle(pool, { schema });
  releaseEveryTransaction(db, pool);
  if (connection === 'pooled') boundTransactions(db, statementTimeoutMs);
  try {
    await checkDatabase(pool, target, where);
  } catch (error) {
    await close();
    throw error;
  }
  return { db, pool, target: where, close };
}

/**
 * The start-up check, on one connection, each query bounded by READY_TIMEOUT_SECONDS: the login
 * works; it is not one that may change the schema; and the database has every migration of this
 * code (checkMigrations).
 *
 * The login is judged by ownership, not by name: stacks on shared servers namespace their roles
 * (common/stack-names.ts, postgresNames: pa_<namespace>_migrator), and a superuser or a member of
 * the owner is as wrong as the owner. sessionRole's pg_has_role(current_user, datdba, 'MEMBER')
 * covers all three. It comes first: the migrator's login would pass the history check, and that
 * is not what is wrong with it.
 */
async function checkDatabase(pool: Pool, target: DatabaseTarget, where: string): Promise<void> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    const described = describeConnectError(error, target).message;
    // Through PgBouncer a wrong password and a role it has no SCRAM secret for both read "SASL authentication failed" (08P01).
    const pooler =
      (error as { code?: string }).code === '08P01' && /authentication failed/i.test((error as Error).message)
        ? ': the password is wrong, or PgBouncer has no login for this role (only the app and read-only roles log in through it)'
        : '';
    throw new DatabaseUnavailableError(`${described}${pooler}`, error);
  }
  try {
    const who = await sessionRole(client, READY_TIMEOUT_SECONDS);
    if (who.mayMigrate) throw new MigratorLoginError(target.source, who.role, who.database, who.owner);
    await checkMigrations(client, where);
  } finally {
    client.release();
  }
}

/**
 * Every migration of the code's journal is in the database's history (HISTORY_FUNCTION returns its
 * created_at values, which are the journal's `when`: lib/migrations/files.ts, Migration.createdAt);
 * a DatabaseBehindError otherwise. Only the times are compared, not the files' hashes: a migration
 * edited after it was applied is db:migrate's and `npm run health`'s to find, as the migrator.
 * Extra history rows (a database ahead of the code) are allowed: see DatabaseBehindError.
 */
async function checkMigrations(client: PoolClient, where: string): Promise<void> {
  let applied: Set<number>;
  try {
    // One statement, so it runs as it is through PgBouncer's transaction pooling.
    const { rows } = await boundedQuery<{ created_at: string }>(client, HISTORY_QUERY, undefined, READY_TIMEOUT_SECONDS);
    // pg gives a bigint as a string (node_modules/pg-types/lib/textParsers.js, parseBigInteger); a
    // journal time, milliseconds since 1970, is far below 2^53, so Number() is exact.
    applied = new Set(rows.map((r) => Number(r.created_at)));
  } catch (error) {
    const code = (error as { code?: string }).code;
    const all = CODE_MIGRATIONS.map((m) => m.tag);
    if (code === UNDEFINED_FUNCTION) {
      throw new DatabaseBehindError(
        where,
        all,
        false,
        `The database has no function ${HISTORY_FUNCTION}, which migration ${HISTORY_MIGRATION} creates for services to read its history: ` +
          `it was never migrated, or not since before ${HISTORY_MIGRATION}.`,
        error,
      );
    }
    if (code === UNDEFINED_TABLE) {
      throw new DatabaseBehindError(
        where,
        all,
        false,
        `Its history table drizzle.__drizzle_migrations is gone (${HISTORY_FUNCTION} reads it). If the schema is still there, ` +
          '`npm run db:baseline` records the history again instead (README, "Adopting an existing database").',
        error,
      );
    }
    throw error;
  }
  const missing = CODE_MIGRATIONS.filter((m) => !applied.has(m.when)).map((m) => m.tag);
  if (missing.length > 0) throw new DatabaseBehindError(where, missing, true);
}
