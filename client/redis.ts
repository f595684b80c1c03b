import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  DisconnectsClientError,
  ErrorReply,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from '@redis/client';
import { APP_ENV } from '../common/names';
import { networkProblem } from '../lib/health/check';
import { parseRedisUrl, redisSocket, type RedisTarget } from '../lib/health/redis';
import { redact } from '../lib/postgres/connection';
import { ClientError, InvalidArgumentError, InvalidVariableError, parseVariable, type Variables } from './errors';
import { wholeNumberOption } from './options';
import { settlesWithin } from './wait';

// The errors every client module shares, from this entry point too: the package exports the modules, not errors.ts.
export { ClientError, InvalidArgumentError, InvalidVariableError, MissingVariableError } from './errors';

/**
 * The app's Redis: a client logged in as the stack's ACL user (REDIS_URL), for one use at a time,
 * each use under its own key prefix.
 *
 * The stack's ACL (stacks/containers/redis-settings.ts, redisAcl) lets the app user run every
 * command but @admin and @dangerous (+info excepted) on every key (`~*`) and channel (`&*`): so
 * KEYS, SORT, FLUSHDB, CONFIG, CLIENT LIST/KILL, DEBUG and MONITOR are refused (NOPERM, a
 * RedisPermissionError here); SCAN is allowed. The prefixes need not match a key pattern of the
 * ACL today; tests/client-redis.test.ts checks they stay within the app user's patterns.
 */

/**
 * One prefix per use, so that two uses can never write the same key. `@redis/client`'s own
 * `keyPrefix` (node_modules/@redis/client/dist/lib/client/parser.js, BasicCommandParser) puts it
 * before every key a command names; it does not touch keys a reply returns (SCAN, KEYS), SCAN's
 * MATCH pattern, Pub/Sub channels, nor the arguments of a raw `sendCommand` (client/index.js,
 * sendCommand passes them as they are). No prefix may begin another, or one use could reach the
 * other's keys.
 */
export const KEY_PREFIXES = {
  /** Values that can be computed again: synthesized speech, AI feedback, a parsed document. Give each an expiry. */
  cache: 'pa:cache:',
  /** Login sessions and the state of a practice session in progress. */
  sessions: 'pa:session:',
  /** Counters per user and time window: the free tier's daily quota (free_tier_quota_per_day), request throttling. */
  rateLimits: 'pa:ratelimit:',
} as const;

export type RedisUse = keyof typeof KEY_PREFIXES;

/** Redis is not reachable (down, refused, restarting), and was not back within `offlineWaitMs`. */
export class RedisUnavailableError extends ClientError {
  override name = 'RedisUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_UNAVAILABLE', message, options);
  }
}

/** Connected, but run()'s work not done within `commandTimeoutMs`: a stalled or overloaded server (or slow work inside run()). */
export class RedisTimeoutError extends ClientError {
  override name = 'RedisTimeoutError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_TIMEOUT', message, options);
  }
}

/** The server refused the login (wrong user or password, a database it does not have): the client stops reconnecting. */
export class RedisLoginError extends ClientError {
  override name = 'RedisLoginError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_LOGIN_FAILED', message, options);
  }
}

/** The ACL does not let the app user run that command or touch that key (NOPERM). */
export class RedisPermissionError extends ClientError {
  override name = 'RedisPermissionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_NOT_PERMITTED', message, options);
  }
}

/** More than `maxPendingCommands` commands wait for the server: the service sends faster than Redis answers. */
export class RedisQueueFullError extends ClientError {
  override name = 'RedisQueueFullError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_QUEUE_FULL', message, options);
  }
}

/** The client was closed (`close()`): open another with connectRedis(). */
export class RedisClosedError extends ClientError {
  override name = 'RedisClosedError';
  constructor(message: string) {
    super('REDIS_CLOSED', message);
  }
}

export interface RedisOptions {
  /** Where REDIS_URL is read; process.env by default. */
  vars?: Variables;
  /** One TCP (and TLS) connect, each try. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * How long one run() may take once connected: the wait for the replies to what it sends (and for
   * those commands to be sent). A server silent that long is taken for stalled: the connection is
   * dropped and made again. Default 5000.
   */
  commandTimeoutMs?: number;
  /** How long run() waits for a connection before a RedisUnavailableError (0: not at all), and connectRedis() for the first. Default 5000. */
  offlineWaitMs?: number;
  /** The longest pause between two reconnection tries (the backoff's cap). Default 2000. */
  reconnectMaxDelayMs?: number;
  /** Commands sent and not yet answered, at most; one more is a RedisQueueFullError. Default 1000, at least 10. */
  maxPendingCommands?: number;
  /** Told of each connection problem as it happens (translated, without secrets), e.g. to log it. Must not throw; what it throws is ignored. */
  onError?: (error: ClientError) => void;
}

interface Settings {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  offlineWaitMs: number;
  reconnectMaxDelayMs: number;
  maxPendingCommands: number;
}

/** The first pause between reconnection tries; it doubles each try, up to reconnectMaxDelayMs. */
const RECONNECT_FIRST_DELAY_MS = 100;
/** Added at random to each pause, so that many clients do not reconnect in step after a restart. */
const RECONNECT_JITTER_MS = 100;
/** node-redis's PING period: half of commandTimeoutMs, so that an idle connection is never taken for a dead one (nodeRedisClient). */
const pingIntervalMs = (s: Settings) => Math.floor(s.commandTimeoutMs / 2);
/** What a PING timer may fire before pingInterval by performance.now(): libuv's clock is cached per loop turn and counted in whole ms. */
const PING_TIMER_SLACK_MS = 5;
/**
 * The error replies to the handshake (AUTH, SELECT: see nodeRedisClient) that say the login itself is
 * wrong, so that no retry with it can succeed, as Redis 7 words them (redis/redis 7.0.15):
 * - src/acl.c, authCommand: `WRONGPASS invalid username-password pair or user is disabled.`, and
 *   `ERR AUTH <password> called without any password configured for the default user...` (a
 *   password sent to a server whose default user has none);
 * - src/db.c, selectCommand: `ERR DB index is out of range`, `ERR SELECT is not allowed in cluster mode`;
 * - src/server.c, processCommand: `NOAUTH Authentication required.` (SELECT without a login the
 *   server requires) and `NOPERM ...` (an ACL without SELECT for the user).
 * Every other error reply is retried with the backoff and told to onError: LOADING, BUSY, MASTERDOWN,
 * and `ERR max number of clients reached`, which a server at `maxclients` writes to a connection it
 * accepts and then closes (src/networking.c, acceptCommonHandler), a matter of seconds in a spike.
 */
const LOGIN_REFUSED_CODES = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM']);
const LOGIN_REFUSED_ERRS = ['ERR AUTH <password> called without any password configured', 'ERR DB index is out of range', 'ERR SELECT is not allowed in cluster mode'];

function settingsFrom(o: RedisOptions): Settings {
  return {
    connectTimeoutMs: wholeNumberOption('connectTimeoutMs', o.connectTimeoutMs, 5_000, 100, 60_000, 'milliseconds'),
    commandTimeoutMs: wholeNumberOption('commandTimeoutMs', o.commandTimeoutMs, 5_000, 100, 60_000, 'milliseconds'),
    offlineWaitMs: wholeNumberOption('offlineWaitMs', o.offlineWaitMs, 5_000, 0, 60_000, 'milliseconds'),
    reconnectMaxDelayMs: wholeNumberOption('reconnectMaxDelayMs', o.reconnectMaxDelayMs, 2_000, RECONNECT_FIRST_DELAY_MS, 60_000, 'milliseconds'),
    // At least the handshake's own commands, which share the queue (AUTH, SELECT, CLIENT SETINFO twice: index.js, #getHandshakeCommands), with room to spare.
    maxPendingCommands: wholeNumberOption('maxPendingCommands', o.maxPendingCommands, 1_000, 10, 100_000, 'commands'),
  };
}

/**
 * REDIS_URL as lib/health/redis.ts's parseRedisUrl reads it (scheme, host, port, user, password),
 * plus the database number after the host, which that check does not need: a URL naming one is
 * obeyed, not quietly sent to database 0 where another stack's keys may be.
 */
function targetFrom(vars: Variables): { target: RedisTarget; database: number } {
  const source = APP_ENV.redisUrl;
  const { target, url } = parseVariable(vars, source, "the app's Redis login, redis://USER:PASSWORD@HOST:PORT (the stack's redisUrl output)", (value) => ({
    target: parseRedisUrl(value, source),
    url: new URL(value.trim()),
  }));
  if (url.search !== '' || url.hash !== '') throw new InvalidVariableError(source, 'has a query or fragment, which this client does not read: remove it (the value is not shown: it holds a password)');
  const path = url.pathname;
  if (path === '' || path === '/') return { target, database: 0 };
  const number = /^\/(\d{1,4})$/.exec(path);
  if (!number) throw new InvalidVariableError(source, `names "${path}" after the host: only a database number may follow it, as in redis://USER:PASSWORD@HOST:6379/0`);
  return { target, database: Number(number[1]) };
}

/**
 * The node-redis client, with its options as node_modules/@redis/client/dist/lib/client reads them:
 * - socket.js: `connectTimeout` bounds each TCP (and TLS) connect. `socketTimeout`, set once
 *   connected (#createSocket, socket.setTimeout), destroys a socket with no traffic that long
 *   (SocketTimeoutError): an idle timer, which every write restarts, so it bounds the handshake and
 *   an idle connection's PING, not a reply under steady traffic; AppRedis.run() bounds that itself.
 *   `pingInterval` (index.js, #setPingTimer) sends PING at half that, one at a time (the next is
 *   set once the reply came), so an idle connection is never taken for a dead one, and its replies
 *   ('ping-interval') tell run() the server still answers. The reconnect strategy is called with
 *   the try's number and its cause after every failure, at the first connect too; a number is the
 *   pause before the next try, an Error ends the client ('terminated', #shouldReconnect).
 * - index.js: `disableOfflineQueue` rejects a command sent while not connected (ClientOfflineError)
 *   instead of keeping it for later, and makes every socket error flush all that waits
 *   (#attachListeners: flushAll), MULTI included, which has no timeout of its own (_executeMulti):
 *   nothing queues without bound. AppRedis.run() waits for the connection instead, bounded.
 *   `commandsQueueMaxLength` caps what is sent and unanswered (commands-queue.js, addCommand: "The
 *   queue is full"). `commandOptions.timeout` bounds a command's wait to be written, and only that
 *   (commands-queue.js, commandsToWrite: its listener is removed once the command is written).
 * - `username`/`password` become AUTH in the handshake on every (re)connect (#initiateOptions,
 *   #getHandshakeCommands); RESP 2, as the health check speaks it, so no HELLO; the `database`
 *   is a SELECT in the same handshake.
 * - The URL itself is never given to it (parseURL would put it into a TypeError's `input`).
 */
function nodeRedisClient(target: RedisTarget, database: number, prefix: string, s: Settings, reconnect: (retries: number, cause: Error) => number | Error) {
  return createClient({
    socket: redisSocket(target, { connectTimeout: s.connectTimeoutMs, socketTimeout: s.commandTimeoutMs, reconnectStrategy: reconnect }),
    username: target.user,
    password: target.password,
    database,
    keyPrefix: prefix,
    RESP: 2,
    maintNotifications: 'disabled',
    disableOfflineQueue: true,
    commandsQueueMaxLength: s.maxPendingCommands,
    pingInterval: pingIntervalMs(s),
    commandOptions: { timeout: s.commandTimeoutMs },
  });
}

export type AppRedisClient = ReturnType<typeof nodeRedisClient>;

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * A connected client for one use. Commands go through run(), which waits for a connection at most
 * `offlineWaitMs`, then for its work at most `commandTimeoutMs`, and turns node-redis's errors into
 * the named errors above. A lost connection is tried again, without end, at most
 * `reconnectMaxDelayMs` apart; a refused login ends the client.
 */
export class AppRedis {
  readonly use: RedisUse;
  /** What the keys of this use begin with on the server: for SCAN's MATCH, which node-redis does not prefix. */
  readonly prefix: string;
  /** The server, safe to print: redis[s]://USER@HOST:PORT. */
  readonly display: string;
  readonly #client: AppRedisClient;
  readonly #target: RedisTarget;
  readonly #settings: Settings;
  readonly #onError: RedisOptions['onError'];
  #closed = false;
  /** Why the client stopped for good (a refused login); undefined while it may still connect. */
  #fatal: ClientError | undefined;
  /** When the connection was last lost (or first tried); undefined while connected. */
  #downSince: number | undefined = Date.now();
  #lastProblem: unknown;
  /** The connection's number: one more at each 'ready', so that run() knows which one its work went to. */
  #connection = 0;
  /** The last connection dropped for a stalled server: what its commands fail with is a timeout. */
  #dropped = -1;
  /**
   * What the current connection last answered, in performance.now() (monotonic) time: when, and when
   * it was sent at the earliest. The server answers in order, so a reply to something sent after a
   * run() began shows it alive since; a reply to something sent before (a PING out when the server
   * stopped) shows nothing about what came after. The CI saw exactly that PONG take a stalled server
   * for an overloaded one.
   */
  #answeredAt = 0;
  #answeredSentAt = 0;
  /**
   * The earliest a PING can go out: node-redis sets its timer at 'ready' and after each reply
   * (index.js, #setPingTimer: `.finally(() => this.#setPingTimer())`, after the 'ping-interval'
   * emit), for pingInterval. Less a few ms, as timers count from libuv's cached clock.
   */
  #nextPingAt = 0;
  /** run() calls waiting for the connection, woken on every change. */
  readonly #waiters = new Set<() => void>();

  private constructor(use: RedisUse, options: RedisOptions) {
    if (!Object.hasOwn(KEY_PREFIXES, use)) {
      throw new InvalidArgumentError('use', `must be one of ${Object.keys(KEY_PREFIXES).join(', ')}; got ${JSON.stringify(use)}. Each use has its own key prefix (KEY_PREFIXES): add one there for a new use.`);
    }
    this.use = use;
    this.prefix = KEY_PREFIXES[use];
    this.#settings = settingsFrom(options);
    this.#onError = options.onError;
    const { target, database } = targetFrom(options.vars ?? process.env);
    this.#target = target;
    this.display = database === 0 ? target.display : `${target.display}/${database}`;
    this.#client = nodeRedisClient(target, database, this.prefix, this.#settings, (retries, cause) => this.#reconnect(retries, cause));
    // Without an 'error' listener, node's EventEmitter throws the first lost connection and ends the process.
    this.#client.on('error', (error: unknown) => this.#problem(error));
    this.#client.on('ready', () => {
      // A connect under way when close() destroyed the client can still complete: socket.js assigns
      // the new socket only once connected (#connect: `this.#socket = await this.#createSocket()`), so
      // destroy() does not reach it, and the client would then ping on it forever. End it here.
      if (this.#closed) {
        this.#client.destroy();
        return;
      }
      this.#connection += 1;
      this.#answered(this.#connection, performance.now());
      this.#pingTimerStarted();
      this.#downSince = undefined;
      this.#lastProblem = undefined;
      this.#wake();
    });
    // The reply to the client's own PING (index.js, #setPingTimer): the server answers.
    this.#client.on('ping-interval', () => {
      this.#answered(this.#connection, this.#nextPingAt);
      this.#pingTimerStarted();
    });
    this.#client.on('terminated', () => this.#wake());
    this.#client.on('end', () => this.#wake());
  }

  /**
   * Creates the client and waits for its first connection: `offlineWaitMs`, and at least one whole
   * try (`connectTimeoutMs` for the connect, `commandTimeoutMs` for the login), so that
   * `offlineWaitMs: 0` means "never wait once running", not "never connect".
   */
  static async connect(use: RedisUse, options: RedisOptions = {}): Promise<AppRedis> {
    const redis = new AppRedis(use, options);
    // Its failures arrive as 'error' events, and a refused login through the strategy; the wait below reports them.
    redis.#client.connect().catch(() => undefined);
    try {
      const { offlineWaitMs, connectTimeoutMs, commandTimeoutMs } = redis.#settings;
      await redis.#waitForConnection(Math.max(offlineWaitMs, connectTimeoutMs + commandTimeoutMs));
    } catch (error) {
      redis.#closed = true;
      redis.#client.destroy();
      throw error;
    }
    return redis;
  }

  /** Whether a connection is up now. */
  get connected(): boolean {
    return this.#client.isReady;
  }

  /**
   * Runs `work` with the client once it is connected, waiting `offlineWaitMs` at most for that.
   * Keys given to its commands get this use's prefix. Connection problems, timeouts, refused
   * logins and NOPERM come out as the named errors of this module; other error replies (WRONGTYPE,
   * ...) as node-redis's ErrorReply. `work` is not run again after a failure: it may not be idempotent.
   *
   * Once connected, `work` has `commandTimeoutMs`: then run() fails with a RedisTimeoutError (what
   * was sent may still run on the server), whatever node-redis still waits for. Do other slow work
   * (another service's call) outside run(). If the server has not answered anything on the
   * connection for that long either, it is stalled: the connection is dropped, which fails the
   * other commands sent on it (RedisTimeoutError too), and made again.
   */
  async run<T>(work: (client: AppRedisClient) => Promise<T>): Promise<T> {
    await this.#waitForConnection();
    const connection = this.#connection;
    const began = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#expire(connection, began)), this.#settings.commandTimeoutMs);
    });
    try {
      // Promise.race subscribes to both: what `work` settles with after the timeout is not an unhandled rejection.
      const value = await Promise.race([work(this.#client), expired]);
      this.#answered(connection, began);
      return value;
    } catch (error) {
      if (error instanceof ErrorReply) this.#answered(connection, began);
      // destroy() rejects what waits with a DisconnectsClientError (index.js, destroy: flushAll).
      if (error instanceof DisconnectsClientError && connection === this.#dropped && !this.#closed) throw this.#timeout(error, undefined);
      throw this.#translate(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `connection` answered now something sent at `sentAt` at the earliest. */
  #answered(connection: number, sentAt: number): void {
    if (connection !== this.#connection) return;
    this.#answeredAt = performance.now();
    this.#answeredSentAt = Math.max(this.#answeredSentAt, sentAt);
  }

  /** node-redis has just (re)started its PING timer: at 'ready', and after a PING's reply. */
  #pingTimerStarted(): void {
    this.#nextPingAt = performance.now() + pingIntervalMs(this.#settings) - PING_TIMER_SLACK_MS;
  }

  /**
   * A run() on `connection`, begun at `began`, is out of time. If that connection is still up and the
   * server has answered nothing sent on it since, it is dropped and made again. Without that, under
   * steady traffic nothing would, as every write restarts socketTimeout's idle timer (socket.js,
   * #createSocket), and commands would wait until maxPendingCommands of them fill the queue.
   */
  #expire(connection: number, began: number): RedisTimeoutError {
    const current = connection === this.#connection && this.#client.isReady;
    const answeredSince = this.#answeredSentAt > began;
    if (this.#closed || !current || answeredSince) return this.#timeout(undefined, current && !this.#closed ? Math.round(performance.now() - this.#answeredAt) : undefined);
    const error = this.#timeout(undefined, undefined);
    this.#dropped = connection;
    // Rejects every command sent or queued on it (index.js, destroy: flushAll) and closes the socket
    // (socket.js, destroy); connect() on the same client then opens a new one (socket.js, connect:
    // allowed once not open, redis/node-redis#1801), its failures going through the reconnect
    // strategy (#connect) as any lost connection's do. destroy() emits no 'error': tell it here.
    this.#client.destroy();
    this.#problem(new SocketTimeoutError(this.#settings.commandTimeoutMs));
    this.#client.connect().catch(() => undefined);
    return error;
  }

  /**
   * Waits for the commands already sent (`commandTimeoutMs` at most), then closes the connection
   * and stops reconnecting. Calling it again does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    // close() resolves once nothing waits for a reply (index.js, close).
    if (this.#client.isOpen) await settlesWithin(this.#client.close(), this.#settings.commandTimeoutMs);
    // Idempotent (socket.js, destroy): ends what close() left; a reconnection loop stops at its next step (#connect checks isOpen after each pause).
    this.#client.destroy();
  }

  #reconnect(retries: number, cause: Error): number | Error {
    // An error reply here answers the handshake (AUTH, SELECT); one that refuses the login itself
    // stays the same however often it is tried. Others (a full server, one loading) are retried.
    if (cause instanceof ErrorReply && refusesLogin(cause)) {
      this.#fatal = new RedisLoginError(
        `Redis at ${this.display} (from ${this.#target.source}) refused the login of user ${this.#target.user ?? 'default'} (${redact(cause.message, this.#target)}): ` +
          `check the user, password and database in ${this.#target.source}. The client has stopped; connect again once it is corrected.`,
        { cause },
      );
      return this.#fatal;
    }
    return Math.min(RECONNECT_FIRST_DELAY_MS * 2 ** retries, this.#settings.reconnectMaxDelayMs) + Math.floor(Math.random() * RECONNECT_JITTER_MS);
  }

  #problem(error: unknown): void {
    // Only this module's destroy() causes it, the client's own PING re-emitting it (index.js,
    // #setPingTimer): close(), or #expire, which has told of the stalled server already.
    if (error instanceof DisconnectsClientError) return;
    if (!this.#client.isReady && this.#downSince === undefined) this.#downSince = Date.now();
    this.#lastProblem = error;
    this.#wake();
    // After close(), what node-redis still reports is about the client being taken down: nothing to tell.
    if (!this.#onError || this.#closed) return;
    try {
      const translated = this.#fatal ?? this.#translate(error);
      this.#onError(translated instanceof ClientError ? translated : this.#unavailable(error));
    } catch {
      // A listener's own failure must not reach node-redis's event loop, where it would end the process.
    }
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  async #waitForConnection(waitMs = this.#settings.offlineWaitMs): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.#closed) throw new RedisClosedError(`the Redis client for ${this.use} (${this.display}) is closed: open another with connectRedis()`);
      if (this.#fatal) throw this.#fatal;
      if (this.#client.isReady) return;
      const left = deadline - Date.now();
      if (left <= 0) throw this.#unavailable();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  /** `failed`: the error a command failed with, where the connection dropped under it. */
  #unavailable(failed?: unknown): RedisUnavailableError {
    const cause = this.#lastProblem ?? failed;
    const down = this.#downSince === undefined ? 0 : Date.now() - this.#downSince;
    const why = cause === undefined ? 'no connection yet' : this.#describe(cause);
    return new RedisUnavailableError(
      `Redis at ${this.display} (from ${this.#target.source}) is not reachable: ${why}${down >= 100 ? `; no connection for ${seconds(down)}` : ''}. ` +
        `Commands fail after ${seconds(this.#settings.offlineWaitMs)} without one; the client keeps reconnecting, at most ${seconds(this.#settings.reconnectMaxDelayMs)} apart. ` +
        'Check that the server is up and reachable from here.',
      { cause },
    );
  }

  /** A connection problem in a few words, for a person; never the password. */
  #describe(error: unknown): string {
    if (error instanceof ConnectionTimeoutError) return `no answer to the connection within ${seconds(this.#settings.connectTimeoutMs)}`;
    if (error instanceof SocketTimeoutError) return `the server stopped answering: no reply within ${seconds(this.#settings.commandTimeoutMs)}`;
    if (error instanceof SocketClosedUnexpectedlyError) return 'the server closed the connection';
    // An error reply to the handshake that is retried: a full server, one loading its data.
    if (error instanceof ErrorReply) return `the server refused the connection (${redact(error.message, this.#target)})`;
    const e = (error ?? {}) as { code?: string; message?: string };
    return networkProblem(e.code, this.#target) ?? redact(e.message ?? String(error), this.#target);
  }

  /** `answeredMs`: how long ago the server last answered, where it did within commandTimeoutMs (the connection is kept). */
  #timeout(cause: unknown, answeredMs: number | undefined): RedisTimeoutError {
    const where = `Redis at ${this.display} (from ${this.#target.source})`;
    const within = seconds(this.#settings.commandTimeoutMs);
    if (answeredMs !== undefined) {
      return new RedisTimeoutError(
        `${where}: run() did not finish within ${within} (commandTimeoutMs), though the server answered ${seconds(answeredMs)} ago: it is overloaded, or the work given to run() does more than Redis commands (do that outside run())`,
        { cause },
      );
    }
    return new RedisTimeoutError(
      `${where} did not answer within ${within} (commandTimeoutMs): the server is stalled or overloaded, or the network dropped the connection; the client reconnects`,
      { cause },
    );
  }

  /** node-redis's error as this module's; errors about the data itself (WRONGTYPE, a bad argument) pass as they are. */
  #translate(error: unknown): unknown {
    if (error instanceof ClientError) return error;
    const where = `Redis at ${this.display} (from ${this.#target.source})`;
    if (error instanceof ErrorReply) {
      const code = replyCode(error);
      const reply = redact(error.message, this.#target);
      if (code === 'NOPERM') {
        return new RedisPermissionError(
          `user ${this.#target.user ?? 'default'} may not do this at ${where} (${reply}): the stack's ACL refuses @admin and @dangerous commands (KEYS, SORT, FLUSHDB, CONFIG, ...); use another command (SCAN for KEYS) or change the ACL in the stack`,
          { cause: error },
        );
      }
      if (code === 'WRONGPASS' || code === 'NOAUTH') return this.#fatal ?? new RedisLoginError(`${where} refused the login (${reply}): check the user and password in ${this.#target.source}`, { cause: error });
      return error;
    }
    if (error instanceof SocketTimeoutError || error instanceof TimeoutError) return this.#timeout(error, undefined);
    if (error instanceof Error && error.message === 'The queue is full') {
      return new RedisQueueFullError(`${this.#settings.maxPendingCommands} commands already wait for ${where} (maxPendingCommands): send fewer at once, or find why the server answers slowly`, { cause: error });
    }
    if (this.#fatal) return this.#fatal;
    if (error instanceof ClientClosedError || error instanceof DisconnectsClientError) {
      if (this.#closed) return new RedisClosedError(`the Redis client for ${this.use} (${this.display}) was closed while the command waited`);
    }
    if (
      error instanceof ClientOfflineError ||
      error instanceof ClientClosedError ||
      error instanceof DisconnectsClientError ||
      error instanceof SocketClosedUnexpectedlyError ||
      error instanceof ConnectionTimeoutError ||
      // A socket's own error (ECONNRESET, EPIPE...), as node's net module raises it, with the call that failed.
      (error instanceof Error && 'syscall' in error)
    ) {
      return this.#unavailable(error);
    }
    return error;
  }
}

/** The first word of an error reply: WRONGPASS, NOPERM, LOADING... */
function replyCode(error: ErrorReply): string {
  return error.message.split(' ')[0];
}

/** Whether an error reply to the handshake refuses the login itself (LOGIN_REFUSED_CODES, LOGIN_REFUSED_ERRS). */
function refusesLogin(error: ErrorReply): boolean {
  return LOGIN_REFUSED_CODES.has(replyCode(error)) || LOGIN_REFUSED_ERRS.some((start) => error.message.startsWith(start));
}

/**
 * A client for one use (`cache`, `sessions`, `rateLimits`), logged in from REDIS_URL, connected
 * within `offlineWaitMs` or a RedisUnavailableError (RedisLoginError for a refused login).
 */
export function connectRedis(use: RedisUse, options: RedisOptions = {}): Promise<AppRedis> {
  return AppRedis.connect(use, options);
}
