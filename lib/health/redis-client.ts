import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseLoginUrl, redact, UserFacingError } from '../postgres/connection';
import { networkProblem } from './check';

/**
 * Just enough of Redis's protocol (RESP2) for a health check: one connection, commands one at a
 * time, simple replies. Every wait is bounded and every failure is a message for a person; no
 * reconnecting and no retrying, which is what a client library would otherwise do by default.
 */

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

/** An error reply of the server (`-WRONGPASS ...`, `-NOPERM ...`). Its text is the server's: redact it before printing. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
  /** The reply's first word: WRONGPASS, NOPERM, ERR... */
  readonly code: string;
  constructor(reply: string) {
    super(reply);
    this.code = reply.split(' ')[0];
  }
}

export type RedisReply = string | number | null;

interface Waiter {
  resolve: (reply: RedisReply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Turns a failed connection into a message that says what is wrong and how to fix it. */
function describeSocketError(error: unknown, target: RedisTarget): UserFacingError {
  const e = (error ?? {}) as { code?: string; message?: string };
  const text = redact(e.message ?? String(error), target);
  let reason = networkProblem(e.code, target);
  if (!reason && /SSL|TLS|certificate|CERT_/i.test(`${e.code ?? ''} ${text}`)) {
    reason = `TLS failed (${text}): check that the server speaks TLS (rediss://) and that its certificate is trusted (NODE_EXTRA_CA_CERTS)`;
  }
  return new UserFacingError(`cannot reach Redis at ${target.display} (from ${target.source}): ${reason ?? text}`);
}

export class RedisConnection {
  private buffer = Buffer.alloc(0);
  private readonly waiting: Waiter[] = [];
  private broken: UserFacingError | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly target: RedisTarget,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.readReplies();
    });
    socket.on('error', (error) => this.fail(describeSocketError(error, target)));
    socket.on('close', () => this.fail(new UserFacingError(`Redis at ${target.display} closed the connection`)));
  }

  /** Connects within `timeoutMs`, or rejects with a message naming the server and the likely fix. */
  static open(target: RedisTarget, timeoutMs: number): Promise<RedisConnection> {
    return new Promise((resolve, reject) => {
      const socket = target.tls
        ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host })
        : net.connect({ host: target.host, port: target.port });
      const connected = target.tls ? 'secureConnect' : 'connect';
      const onConnect = () => settle();
      const onError = (error: Error) => settle(describeSocketError(error, target));
      const settle = (error?: UserFacingError) => {
        clearTimeout(timer);
        socket.off(connected, onConnect).off('error', onError);
        if (!error) return resolve(new RedisConnection(socket, target, timeoutMs));
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () => settle(new UserFacingError(`cannot reach Redis at ${target.display} (from ${target.source}): no answer within ${timeoutMs / 1000} s: check the host and port, firewalls, and that the server is up`)),
        timeoutMs,
      );
      socket.once(connected, onConnect).once('error', onError);
    });
  }

  /** Sends one command; resolves with its reply, rejects with RedisReplyError for an error reply. */
  command(args: string[]): Promise<RedisReply> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.fail(
            new UserFacingError(
              `Redis at ${this.target.display} (from ${this.target.source}) accepted the connection but did not answer ${args[0]} ` +
                `within ${this.timeoutMs / 1000} s: check that the port is Redis's and that the server is not stalled`,
            ),
          ),
        this.timeoutMs,
      );
      this.waiting.push({ resolve, reject, timer });
      this.socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  }

  close(): void {
    this.broken ??= new UserFacingError('the connection is closed');
    this.socket.destroy();
  }

  /** Fails every waiting command and any later one: after a lost connection or a timeout, replies cannot be matched to commands. */
  private fail(error: UserFacingError): void {
    this.broken ??= error;
    this.socket.destroy();
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.broken);
    }
  }

  private readReplies(): void {
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end < 0) return;
      const type = String.fromCharCode(this.buffer[0]);
      const line = this.buffer.subarray(1, end).toString('utf8');
      let consumed = end + 2;
      let reply: RedisReply | RedisReplyError;
      if (type === '+') reply = line;
      else if (type === '-') reply = new RedisReplyError(redact(line, this.target));
      else if (type === ':') reply = Number(line);
      else if (type === '$' && Number(line) < 0) reply = null;
      else if (type === '$') {
        const length = Number(line);
        if (this.buffer.length < consumed + length + 2) return; // the rest of the bulk string is still on its way
        reply = this.buffer.subarray(consumed, consumed + length).toString('utf8');
        consumed += length + 2;
      } else {
        return this.fail(new UserFacingError(`${this.target.display} did not answer as a Redis server does: check the port in ${this.target.source}`));
      }
      this.buffer = this.buffer.subarray(consumed);
      const waiter = this.waiting.shift();
      if (!waiter) return this.fail(new UserFacingError(`Redis at ${this.target.display} sent a reply nobody asked for`));
      clearTimeout(waiter.timer);
      if (reply instanceof RedisReplyError) waiter.reject(reply);
      else waiter.resolve(reply);
    }
  }
}
