// pg is loaded when a command first connects, not when it starts: `--help` and a usage error stay fast.
import type { Client } from 'pg';

/** An error whose message is written for the person running the command; printed without a stack. */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
}

/** A validated connection target. `display` is safe to print: it never holds the password. */
export interface DatabaseTarget {
  /** The variable the URL came from, for messages. */
  source: string;
  url: string;
  display: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  connectTimeoutMs: number;
}

const EXAMPLE = 'postgres://USER:PASSWORD@HOST:5432/pronunciation_assistant';
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 5;

/**
 * A server URL with a login in it, parsed. `decode` undoes percent-encoding (the user name and
 * password are left to the caller, which may check the scheme first) and `invalid` words a
 * problem, as the parser does.
 */
export interface LoginUrl {
  url: URL;
  /** The value, trimmed. */
  text: string;
  decode: (text: string) => string;
  invalid: (why: string) => UserFacingError;
}

/**
 * Parses a URL that holds a login (`scheme://USER:PASSWORD@HOST...`) from the variable `source`.
 * Messages never repeat the value: a malformed URL may still hold a password.
 */
export function parseLoginUrl(value: string | undefined, source: string, what: string, example: string): LoginUrl {
  if (value === undefined || value.trim() === '') {
    throw new UserFacingError(`${source} is not set. Set it to the ${what} to use, e.g. ${source}=${example}`);
  }
  const invalid = (why: string) =>
    new UserFacingError(`${source} is not a valid URL (its value is not shown: it may hold a password): ${why}. Expected ${example}`);
  let url: URL;
  try {
    // WHATWG URL takes "localhost:5432/db" as a URL with the scheme "localhost:"; we do not.
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim())) throw invalid('it has no scheme://');
    url = new URL(value.trim());
  } catch (error) {
    throw error instanceof UserFacingError ? error : invalid('it cannot be parsed; percent-encode special characters in the user name and password');
  }
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw invalid('a "%" in it is not followed by two hex digits; write a literal % in the user name or password as %25');
    }
  };
  return { url, text: value.trim(), decode, invalid };
}

/** Validates a PostgreSQL URL before anything connects. */
export function parseDatabaseUrl(value: string | undefined, source = 'DATABASE_URL'): DatabaseTarget {
  const { url, text, decode } = parseLoginUrl(value, source, 'database', EXAMPLE);
  const user = decode(url.username);
  // libpq and node-pg also take the password as a query parameter; it must be known to be hidden.
  const password = decode(url.password) || (url.searchParams.get('password') ?? '');
  const database = decode(url.pathname.replace(/^\//, ''));
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UserFacingError(`${source} must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const socketHost = url.searchParams.get('host');
  if (url.hostname === '' && !socketHost) {
    throw new UserFacingError(`${source} names no host. Expected ${EXAMPLE}`);
  }
  if (database === '' || database.includes('/')) {
    throw new UserFacingError(`${source} names no database: put it after the host and port, as in ${EXAMPLE}`);
  }
  const timeoutParam = url.searchParams.get('connect_timeout');
  const timeoutSeconds = timeoutParam === null ? DEFAULT_CONNECT_TIMEOUT_SECONDS : Number(timeoutParam);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UserFacingError(
      `${source} has connect_timeout=${timeoutParam}: it must be a positive number of seconds (default ${DEFAULT_CONNECT_TIMEOUT_SECONDS}).`,
    );
  }
  const host = url.hostname || (socketHost as string);
  const port = url.port === '' ? 5432 : Number(url.port);
  const display = `${url.protocol}//${user ? `${encodeURIComponent(user)}@` : ''}${url.hostname ? `${url.hostname}:${port}` : ''}/${database}`;
  return { source, url: text, display, host, port, database, user, password, connectTimeoutMs: Math.round(timeoutSeconds * 1000) };
}

/** The same server and login, another database (a URL's other parameters kept). */
export function withDatabase(target: DatabaseTarget, database: string): DatabaseTarget {
  const url = new URL(target.url);
  url.pathname = `/${encodeURIComponent(database)}`;
  return parseDatabaseUrl(url.toString(), target.source);
}

/**
 * Removes every spelling of the password from text we did not write (server errors, stack traces,
 * a child's output). Our own messages are built from `display` and never hold it; redacting them
 * too would turn a password such as "postgres" into *** wherever the word appears, and so show it.
 */
export function redact(text: string, target: Pick<DatabaseTarget, 'password'> | undefined): string {
  if (!target || target.password === '') return text;
  let out = text;
  for (const form of new Set([target.password, encodeURIComponent(target.password)])) {
    out = out.split(form).join('***');
  }
  return out;
}

interface PgLikeError {
  code?: string;
  message?: string;
}

/** Turns a failed connect into a message that says what is wrong and how to fix it. */
export function describeConnectError(error: unknown, target: DatabaseTarget): UserFacingError {
  const e = (error ?? {}) as PgLikeError;
  const where = `PostgreSQL at ${target.display} (from ${target.source})`;
  const seconds = target.connectTimeoutMs / 1000;
  const reasons: Record<string, string> = {
    ECONNREFUSED: `connection refused: is the server running and listening on ${target.host}:${target.port}?`,
    ENOTFOUND: `host "${target.host}" not found: check the host name in ${target.source}`,
    EAI_AGAIN: `host "${target.host}" could not be resolved now: check DNS or the host name`,
    EHOSTUNREACH: `host ${target.host} is unreachable from here`,
    ECONNRESET: 'the server closed the connection: check that it accepts connections from here',
    '28P01': `password authentication failed for user "${target.user}": check the user and password in ${target.source}`,
    '28000': `the server refused user "${target.user}" (pg_hba.conf or role settings): check the user in ${target.source}`,
    '3D000': `database "${target.database}" does not exist: create it or fix the database name in ${target.source}`,
    '57P03': 'the server is starting up or shutting down: try again in a moment',
    '53300': 'the server has no free connection slots: try again later or raise max_connections',
  };
  const code = e.code ?? '';
  const message = e.message ?? String(error);
  let reason = reasons[code];
  if (!reason && /timeout/i.test(message)) {
    reason = `no answer within ${seconds} s: check the host and port, firewalls, and that the server is up (connect_timeout in the URL sets the limit)`;
  }
  if (!reason && code === 'ENOENT') {
    reason = `a file named in ${target.source} cannot be read (${redact(message, target)}): check sslrootcert, sslcert and sslkey`;
  }
  if (!reason && /SSL|TLS|certificate/i.test(message)) {
    reason = `TLS failed (${redact(message, target)}): check sslmode and the certificates in ${target.source}`;
  }
  return new UserFacingError(`cannot connect to ${where}: ${reason ?? redact(message, target)}`);
}

/**
 * pg, loaded with the global `Response` out of sight. As it loads, pg 8.23.1's lib/stream.js asks
 * whether it runs in a Cloudflare Worker (isCloudflareRuntime): it reads `navigator.userAgent`, and
 * where there is no `navigator` (Node.js 20) it reads `Response`, whose first read makes Node.js
 * load its whole fetch implementation (undici): 20-30 ms of a 190 ms no-op `db:migrate`, for
 * nothing pg uses. Hidden for that synchronous moment, the probe answers "not a Worker", as it
 * would anyway, and the global is put back exactly as it was (still lazy) before anything else
 * can run. Node.js 21 and later have `navigator`, and pg never reaches `Response` there.
 */
function loadPg(): typeof import('pg') {
  const response = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  const hide = !('navigator' in globalThis) && response?.configurable === true && response.get !== undefined;
  if (hide) delete (globalThis as { Response?: unknown }).Response;
  try {
    return require('pg') as typeof import('pg');
  } finally {
    if (hide) Object.defineProperty(globalThis, 'Response', response);
  }
}

/** The target each client of connect() was opened with, for a second session to the same place. */
const targets = new WeakMap<Client, DatabaseTarget>();

/** The target `client` was opened with by connect(); undefined for a client made otherwise. */
export const targetOf = (client: Client): DatabaseTarget | undefined => targets.get(client);

/**
 * Connects with a bounded timeout, never hanging. The returned client has an error listener, so a
 * server that goes away surfaces as a failed query rather than an uncaught exception. Settings that
 * pg reads while building the client (an unreadable sslrootcert, say) fail here with a message too.
 */
export async function connect(target: DatabaseTarget, applicationName: string): Promise<Client> {
  const { Client: PgClient } = loadPg();
  let client: Client | undefined;
  try {
    client = new PgClient({
      connectionString: target.url,
      connectionTimeoutMillis: target.connectTimeoutMs,
      application_name: applicationName,
      // A server that vanishes without closing the connection is noticed instead of waited on forever.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client.on('error', () => undefined);
    await client.connect();
    targets.set(client, target);
    return client;
  } catch (error) {
    await client?.end().catch(() => undefined);
    throw describeConnectError(error, target);
  }
}
