import * as net from 'node:net';
import { createClient, ConnectionTimeoutError, ErrorReply, SocketClosedUnexpectedlyError, SocketTimeoutError, TimeoutError } from '@redis/client';
import { APP_ENV } from '../../common/names';
import { parseLoginUrl, redact, UserFacingError } from '../postgres/connection';
import { CHECK_TIMEOUT_MS, configurationRow, fail, networkProblem, pass, type HealthRow, type HealthVars } from './check';

/** The redis:// scheme's port when a URL names none. */
const REDIS_SCHEME_PORT = 6379;
const EXAMPLE = 'redis://USER:PASSWORD@HOST:6379';

/** A validated REDIS_URL. `display` is safe to print: it never holds the password. */
export interface RedisTarget {
  source: string;
  host: string;
  port: number;
  /** rediss://: TLS, checked against the system's CAs (and NODE_EXTRA_CA_CERTS). */
  tls: boolean;
  /** The ACL user; undefined logs in as Redis's default user. */
  user: string | undefined;
  password: string;
  display: string;
}

/** Validates a Redis URL before anything connects. Messages never repeat the value: it holds a password. */
export function parseRedisUrl(value: string | undefined, source = 'REDIS_URL'): RedisTarget {
  const { url, decode, invalid } = parseLoginUrl(value, source, 'Redis', EXAMPLE);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UserFacingError(`${source} must start with redis:// or rediss://, not ${url.protocol}//`);
  }
  if (url.hostname === '') throw invalid('it names no host');
  const user = decode(url.username);
  const password = decode(url.password);
  if (password === '') throw new UserFacingError(`${source} holds no password: Redis must be logged in to, as in ${EXAMPLE}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? REDIS_SCHEME_PORT : Number(url.port);
  const display = `${url.protocol}//${user ? `${encodeURIComponent(user)}@` : ''}${url.hostname}:${port}`;
  return { source, host, port, tls: url.protocol === 'rediss:', user: user || undefined, password, display };
}

/**
 * A node-redis client for one health check: it fails rather than waits. Its options, as
 * node_modules/@redis/client/dist/lib/client reads them:
 * - socket.js: `connectTimeout` bounds the TCP (and TLS) connect; `socketTimeout`, set once
 *   connected, destroys a socket idle that long with a SocketTimeoutError, and is what bounds the
 *   wait for a reply; `reconnectStrategy: false` makes a failed connect reject with the socket's
 *   own error (its `code`: ECONNREFUSED...) and a lost connection end the client, where the
 *   default retries forever.
 * - commands-queue.js: `commandOptions.timeout` bounds a command's wait to be written only (its
 *   listener is removed in commandsToWrite), not the wait for its reply.
 * - index.js: `disableOfflineQueue` rejects a command sent while not connected instead of keeping
 *   it for a reconnect. The handshake (#getHandshakeCommands) is left empty, so that connect()
 *   waits for the socket alone and the login is our own AUTH, whose failure is told apart: RESP 2
 *   (the default, 3 in ../RESP/types.js, sends HELLO; maintNotifications then defaults to
 *   disabled, as set here), no credentials, and `disableClientInfo` (no CLIENT SETINFO).
 * - The URL is never given to it (parseURL would put it into a TypeError's `input`): the socket
 *   options are built from the parsed target.
 * The client emits 'error' for each failure too; the listener keeps that from crashing the
 * process, and the failed promise carries the same error, but for an answer that is not RESP: the
 * decoder's error (../RESP/decoder.js, "Unknown RESP type") is only emitted, and the command waits
 * on until the socket times out. `spokeOtherProtocol` says whether that happened.
 */
/**
 * node-redis's socket options for `target` with `options` (timeouts, reconnection): TLS for
 * rediss://, naming the host for SNI unless it is an IP address, which SNI does not carry.
 */
export function redisSocket<O extends object>(target: RedisTarget, options: O) {
  const socket = { host: target.host, port: target.port, ...options };
  return target.tls ? { ...socket, tls: true as const, servername: net.isIP(target.host) ? undefined : target.host } : socket;
}

function healthClient(target: RedisTarget) {
  const client = createClient({
    socket: redisSocket(target, { connectTimeout: CHECK_TIMEOUT_MS, socketTimeout: CHECK_TIMEOUT_MS, reconnectStrategy: false as const }),
    RESP: 2,
    maintNotifications: 'disabled',
    disableOfflineQueue: true,
    disableClientInfo: true,
    commandOptions: { timeout: CHECK_TIMEOUT_MS },
  });
  let otherProtocol = false;
  client.on('error', (error: unknown) => {
    if (error instanceof Error && error.message.startsWith('Unknown RESP type')) otherProtocol = true;
  });
  return Object.assign(client, { spokeOtherProtocol: () => otherProtocol });
}

/** What failed, for a person; the text of the server is redacted first. */
function describe(error: unknown, target: RedisTarget, user: string, command: string, otherProtocol: boolean): string {
  const seconds = CHECK_TIMEOUT_MS / 1000;
  if (otherProtocol) return `${target.display} (from ${target.source}) answered ${command}, but not as a Redis server does: check the port in ${target.source}`;
  if (error instanceof ErrorReply) {
    const reply = redact(error.message, target);
    const code = reply.split(' ')[0];
    if (code === 'WRONGPASS') return `authentication failed for user ${user} at ${target.display}: check the user and password in ${target.source} (${reply})`;
    if (code === 'NOPERM') return `user ${user} may not run ${command} (${reply}): check its ACL`;
    return `Redis at ${target.display} answered ${command} with: ${reply}`;
  }
  if (error instanceof SocketTimeoutError || error instanceof TimeoutError) {
    return `Redis at ${target.display} (from ${target.source}) accepted the connection but did not answer ${command} within ${seconds} s: check that the port is Redis's and that the server is not stalled`;
  }
  if (error instanceof SocketClosedUnexpectedlyError) {
    return `Redis at ${target.display} (from ${target.source}) closed the connection before answering ${command}: check the scheme (rediss:// for TLS) and that it accepts connections from here`;
  }
  const where = `cannot reach Redis at ${target.display} (from ${target.source})`;
  if (error instanceof ConnectionTimeoutError) return `${where}: no answer within ${seconds} s: check the host and port, firewalls, and that the server is up`;
  const e = (error ?? {}) as { code?: string; message?: string };
  const text = redact(e.message ?? String(error), target);
  const reason = networkProblem(e.code, target);
  if (reason) return `${where}: ${reason}`;
  if (/SSL|TLS|certificate|CERT_/i.test(`${e.code ?? ''} ${text}`)) {
    return `${where}: TLS failed (${text}): check that the server speaks TLS (rediss://) and that its certificate is trusted (NODE_EXTRA_CA_CERTS)`;
  }
  return `${where}: ${text}`;
}

/** An INFO reply's `field:value` lines as an object. */
export function parseInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/** The checks in the order they run, with the command each sends: a failure ends the run, so it belongs to the first check without a row. */
const CHECKS = [
  ['login', 'AUTH'],
  ['ping', 'PING'],
  ['memory', 'INFO'],
] as const;

/**
 * Logs in as REDIS_URL's user (the stack's `app`, whose ACL allows INFO but not CONFIG), then PING
 * and the memory bound from `INFO memory`. A failed login or a lost connection ends the checks.
 */
export async function checkRedis(vars: HealthVars): Promise<HealthRow[]> {
  const source = APP_ENV.redisUrl;
  const unset = configurationRow('redis', vars, [source]);
  if (unset) return [unset];
  let target: RedisTarget;
  try {
    target = parseRedisUrl(vars[source], source);
  } catch (error) {
    return [fail('redis', 'login', (error as Error).message)];
  }
  const user = target.user ?? 'default';
  const client = healthClient(target);
  const rows: HealthRow[] = [];
  try {
    await client.connect();
    await client.auth({ username: target.user, password: target.password });
    rows.push(pass('redis', 'login', `user ${user} at ${target.display} (from ${source})`));

    const pong = await client.ping();
    rows.push(pong === 'PONG' ? pass('redis', 'ping', 'PONG') : fail('redis', 'ping', `expected PONG, got ${JSON.stringify(pong)}`));

    const info = parseInfo(String(await client.info('memory')));
    const policy = info.maxmemory_policy ?? 'unknown';
    rows.push(
      Number(info.maxmemory) > 0
        ? pass('redis', 'memory', `maxmemory ${info.maxmemory_human}, used ${info.used_memory_human}, policy ${policy}`)
        : fail('redis', 'memory', `maxmemory is 0 (policy ${policy}): the cache may grow until the host runs out of memory; set maxmemory (the stack's redisMaxmemoryMb)`),
    );
  } catch (error) {
    const [check, command] = CHECKS[rows.length];
    rows.push(fail('redis', check, describe(error, target, user, command, client.spokeOtherProtocol())));
  } finally {
    client.destroy();
  }
  return rows;
}
