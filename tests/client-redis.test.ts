/**
 * client/redis.ts against a real redis-server started with the stack's command line and ACL file
 * (tests/helpers/redis.ts): the app user's login and what its ACL allows, the key prefixes, a
 * server restart, a server that stays down, one that stalls, and close(). One server for the file;
 * the clients' bounds are set short so that the waits stay small.
 */
import * as net from 'node:net';
import { APP_ENV } from '../common/names';
import { ClientError, InvalidArgumentError, InvalidVariableError, MissingVariableError } from '../client/errors';
import {
  type AppRedis,
  connectRedis,
  KEY_PREFIXES,
  RedisClosedError,
  RedisLoginError,
  RedisPermissionError,
  RedisQueueFullError,
  RedisTimeoutError,
  RedisUnavailableError,
  type RedisOptions,
  type RedisUse,
} from '../client/redis';
import { CONFIG_KEYS } from '../stacks/config/keys';
import { redisAcl } from '../stacks/containers/redis-settings';
import { REDIS } from '../stacks/services';
import { freePort } from './helpers/postgres';
import { startRedis, type RedisServer } from './helpers/redis';

/** Short bounds, so that a test of them waits about a second. */
const FAST = { connectTimeoutMs: 500, commandTimeoutMs: 1_000, offlineWaitMs: 1_500, reconnectMaxDelayMs: 200 } satisfies RedisOptions;

let server: RedisServer;
const opened: AppRedis[] = [];

/** A client of `use` for the test server's app user, closed after the file. */
async function open(use: RedisUse, options: RedisOptions = {}): Promise<AppRedis> {
  const redis = await connectRedis(use, { vars: { [APP_ENV.redisUrl]: server.url }, ...FAST, ...options });
  opened.push(redis);
  return redis;
}

/** What `work` fails with, and after how long. */
async function failure(work: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: Date.now() - started };
}

/** The password of the test server, which no message may hold. */
const expectNoPassword = (error: unknown) => expect(String((error as Error).message)).not.toContain(server.appPassword);

beforeAll(async () => {
  server = await startRedis({ maxmemoryMb: CONFIG_KEYS.redisMaxmemoryMb.default, maxmemoryPolicy: CONFIG_KEYS.redisMaxmemoryPolicy.default });
});

afterAll(async () => {
  for (const redis of opened) await redis.close();
  await server?.stop();
});

test("logs in as the stack's ACL user, which may use data commands and not the @dangerous ones", async () => {
  const redis = await open('cache');
  expect(await redis.run((c) => c.aclWhoAmI())).toBe(REDIS.appUser);
  await redis.run((c) => c.set('greeting', 'hello', { expiration: { type: 'EX', value: 60 } }));
  expect(await redis.run((c) => c.get('greeting'))).toBe('hello');

  // KEYS is @dangerous in the ACL: refused by the server, named, with what to use instead.
  const { error } = await failure(redis.run((c) => c.keys('*')));
  expect(error).toBeInstanceOf(RedisPermissionError);
  expect((error as ClientError).code).toBe('REDIS_NOT_PERMITTED');
  expect((error as Error).message).toMatch(/^user app may not do this at Redis at redis:\/\/app@127\.0\.0\.1:\d+ \(from REDIS_URL\) \(NOPERM .*\): .* \(SCAN for KEYS\)/);
  // The connection is still good after a refusal.
  expect(await redis.run((c) => c.ping())).toBe('PONG');
});

test('a wrong password is refused at once, without retrying, and never printed', async () => {
  const wrong = 'Wrong-password-1234567890';
  const url = server.url.replace(server.appPassword, wrong);
  const { error, ms } = await failure(connectRedis('cache', { ...FAST, vars: { [APP_ENV.redisUrl]: url } }));
  expect(error).toBeInstanceOf(RedisLoginError);
  expect((error as ClientError).code).toBe('REDIS_LOGIN_FAILED');
  expect((error as Error).message).toBe(
    `Redis at redis://app@127.0.0.1:${server.port} (from REDIS_URL) refused the login of user app (WRONGPASS invalid username-password pair or user is disabled.): ` +
      'check the user, password and database in REDIS_URL. The client has stopped; connect again once it is corrected.',
  );
  expect((error as Error).message).not.toContain(wrong);
  // Well within offlineWaitMs: the strategy stops at the first refusal.
  expect(ms).toBeLessThan(FAST.offlineWaitMs / 2);
});

describe('key prefixes', () => {
  test('each use writes under its own prefix: the same key in two uses is two keys', async () => {
    const cache = await open('cache');
    const sessions = await open('sessions');
    const limits = await open('rateLimits');
    await cache.run((c) => c.set('user:42', 'cached'));
    await sessions.run((c) => c.set('user:42', 'session'));
    await limits.run((c) => c.incr('user:42'));
    expect(await cache.run((c) => c.get('user:42'))).toBe('cached');
    expect(await sessions.run((c) => c.get('user:42'))).toBe('session');
    expect(await limits.run((c) => c.get('user:42'))).toBe('1');
    // On the server: three keys, each under its use's prefix (SCAN's MATCH is not prefixed by node-redis).
    const stored = await cache.run(async (c) => (await c.scan('0', { MATCH: '*user:42', COUNT: 1000 })).keys.sort());
    expect(stored).toEqual(['pa:cache:user:42', 'pa:ratelimit:user:42', 'pa:session:user:42']);
    expect([cache.prefix, sessions.prefix, limits.prefix]).toEqual([KEY_PREFIXES.cache, KEY_PREFIXES.sessions, KEY_PREFIXES.rateLimits]);
  });

  test("no prefix begins another, and each lies within the app user's key patterns in the stack's ACL", () => {
    const prefixes = Object.values(KEY_PREFIXES);
    for (const a of prefixes) for (const b of prefixes) if (a !== b) expect(`${b} begins with ${a}: ${b.startsWith(a)}`).toBe(`${b} begins with ${a}: false`);
    // The app user's line of the ACL file the stack writes: its ~pattern (and %R~/%W~) tokens, or allkeys.
    const line = redisAcl('any password').split('\n').find((l) => l.startsWith(`user ${REDIS.appUser} `)) as string;
    const patterns = line.split(' ').flatMap((token) => (token === 'allkeys' ? ['*'] : (/^(?:%RW?|%W)?~(.+)$/.exec(token)?.slice(1) ?? [])));
    expect(patterns.length).toBeGreaterThan(0);
    // Redis's glob, for the characters a pattern of ours may hold: * and ? (no [...] classes in the ACL today).
    const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    for (const prefix of prefixes) {
      const key = `${prefix}any:key`;
      expect({ key, allowed: patterns.some((p) => glob(p).test(key)) }).toEqual({ key, allowed: true });
    }
  });
});

/** Waits, 2 s at most, until the client has seen its connection go (or come back): a server's exit reaches it a moment later. */
async function until(redis: AppRedis, connected: boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (redis.connected !== connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(redis.connected).toBe(connected);
}

test('comes back after a server restart, with its data, having told its error listener of the outage', async () => {
  const seen: ClientError[] = [];
  const redis = await open('sessions', { onError: (e) => seen.push(e) });
  await redis.run((c) => c.set('session:restart', 'kept', { expiration: { type: 'EX', value: 600 } }));
  // The loss is seen as soon as the server closes the connection.
  await server.restart(() => until(redis, false));
  // The append-only file brought the key back; the client reconnected on its own.
  expect(await redis.run((c) => c.get('session:restart'))).toBe('kept');
  expect(redis.connected).toBe(true);
  expect(seen.length).toBeGreaterThan(0);
  for (const e of seen) {
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expectNoPassword(e);
  }
});

test('a server that stays down: commands fail after offlineWaitMs with a clear error; the client comes back with the server', async () => {
  const redis = await open('cache');
  const impatient = await open('cache', { offlineWaitMs: 0 });
  await server.restart(async () => {
    await Promise.all([until(redis, false), until(impatient, false)]);
    // A transaction too: node-redis gives MULTI no timeout of its own; run()'s wait bounds it. Both wait at once.
    const [{ error, ms }, multi] = await Promise.all([
      failure(redis.run((c) => c.get('anything'))),
      failure(redis.run((c) => c.multi().set('a', '1').incr('b').exec())),
    ]);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as ClientError).code).toBe('REDIS_UNAVAILABLE');
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Redis at redis://app@127\\.0\\.0\\.1:${server.port} \\(from REDIS_URL\\) is not reachable: connection refused: is the server running and listening on 127\\.0\\.0\\.1:${server.port}\\?; ` +
          'no connection for \\d+(\\.\\d)? s\\. Commands fail after 1\\.5 s without one; the client keeps reconnecting, at most 0\\.2 s apart\\. Check that the server is up and reachable from here\\.$',
      ),
    );
    expectNoPassword(error);
    expect(ms).toBeGreaterThanOrEqual(FAST.offlineWaitMs - 50);
    expect(ms).toBeLessThan(FAST.offlineWaitMs + 1_000);
    expect(multi.error).toBeInstanceOf(RedisUnavailableError);
    expect(multi.ms).toBeLessThan(FAST.offlineWaitMs + 1_000);
    // offlineWaitMs 0: no wait at all.
    const now = await failure(impatient.run((c) => c.get('anything')));
    expect(now.error).toBeInstanceOf(RedisUnavailableError);
    expect(now.ms).toBeLessThan(100);
  });
  expect(await redis.run((c) => c.ping())).toBe('PONG');
  // The impatient one reconnects on its own too, at most reconnectMaxDelayMs after the server is back.
  await until(impatient, true);
  expect(await impatient.run((c) => c.ping())).toBe('PONG');
});

test('a stalled server: a command fails after commandTimeoutMs, one over maxPendingCommands at once; the client reconnects once the server answers again', async () => {
  const redis = await open('rateLimits');
  const tight = await open('rateLimits', { maxPendingCommands: 10 });
  await redis.run((c) => c.set('counter', '1'));
  // SIGSTOP: the kernel still holds the connection and takes the request; nobody answers.
  process.kill(server.pid, 'SIGSTOP');
  try {
    const stalled = failure(redis.run((c) => c.incr('counter')));
    // Ten commands wait for their reply (one may be the client's own PING): the next is refused at once.
    const waiting = Array.from({ length: 10 }, (_, i) => failure(tight.run((c) => c.get(`key:${i}`))));
    const full = await failure(tight.run((c) => c.get('c')));
    expect(full.error).toBeInstanceOf(RedisQueueFullError);
    expect((full.error as ClientError).code).toBe('REDIS_QUEUE_FULL');
    expect((full.error as Error).message).toBe(
      `10 commands already wait for Redis at redis://app@127.0.0.1:${server.port} (from REDIS_URL) (maxPendingCommands): send fewer at once, or find why the server answers slowly`,
    );
    expect(full.ms).toBeLessThan(100);

    const { error, ms } = await stalled;
    expect(error).toBeInstanceOf(RedisTimeoutError);
    expect((error as ClientError).code).toBe('REDIS_TIMEOUT');
    expect((error as Error).message).toBe(
      `Redis at redis://app@127.0.0.1:${server.port} (from REDIS_URL) did not answer within 1 s (commandTimeoutMs): the server is stalled or overloaded, or the network dropped the connection; the client reconnects`,
    );
    // run()'s own bound.
    expect(ms).toBeGreaterThanOrEqual(FAST.commandTimeoutMs - 50);
    expect(ms).toBeLessThan(FAST.commandTimeoutMs + FAST.commandTimeoutMs / 2 + 500);
    for (const { error: late } of await Promise.all(waiting)) expect([RedisTimeoutError, RedisQueueFullError]).toContain((late as object).constructor);
  } finally {
    process.kill(server.pid, 'SIGCONT');
  }
  // The INCR may have run on the server once it woke: a timeout says nothing about that.
  expect(['1', '2']).toContain(await redis.run((c) => c.get('counter')));
  expect(await tight.run((c) => c.ping())).toBe('PONG');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a stalled server under steady traffic: every command fails within commandTimeoutMs, not when the queue fills; the client comes back once the server answers', async () => {
  const seen: ClientError[] = [];
  // offlineWaitMs below commandTimeoutMs: the commands sent while the client reconnects fail within the bound too.
  const redis = await open('cache', { offlineWaitMs: 500, onError: (e) => seen.push(e) });
  await redis.run((c) => c.set('steady', 'yes'));
  // What a failed command leaves behind must not surface as an unhandled rejection.
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const sent: Promise<{ error: unknown; ms: number }>[] = [];
  process.kill(server.pid, 'SIGSTOP');
  try {
    // A service's steady traffic, one command every 100 ms for 2 s: each write restarts the socket's idle timer.
    for (const stop = Date.now() + 2_000; Date.now() < stop; await sleep(100)) sent.push(failure(redis.run((c) => c.get('steady'))));
    const outcomes = await Promise.all(sent);
    // Those sent while the client reconnects fail after offlineWaitMs, unreachable; the others time out.
    for (const [i, { error, ms }] of outcomes.entries()) {
      const name = (error as Error | undefined)?.name;
      expect({ i, name, ms, failedInTime: ms < FAST.commandTimeoutMs + 250 }).toEqual({ i, name: expect.stringMatching(/^Redis(Timeout|Unavailable)Error$/), ms, failedInTime: true });
      expectNoPassword(error);
    }
    // The first waited its whole commandTimeoutMs for a reply that never came.
    expect(outcomes[0].error).toBeInstanceOf(RedisTimeoutError);
    expect((outcomes[0].error as Error).message).toBe(
      `Redis at redis://app@127.0.0.1:${server.port} (from REDIS_URL) did not answer within 1 s (commandTimeoutMs): the server is stalled or overloaded, or the network dropped the connection; the client reconnects`,
    );
    expect(outcomes[0].ms).toBeGreaterThanOrEqual(FAST.commandTimeoutMs - 50);
  } finally {
    process.kill(server.pid, 'SIGCONT');
  }
  // The stalled connection was dropped and another made once the server answered again.
  await until(redis, true);
  expect(await redis.run((c) => c.get('steady'))).toBe('yes');
  expect(seen.some((e) => e instanceof RedisTimeoutError)).toBe(true);
  process.removeListener('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

test("work that outlasts commandTimeoutMs on a live server: run() fails in time, saying the server still answers; the connection is kept", async () => {
  const seen: ClientError[] = [];
  const redis = await open('cache', { onError: (e) => seen.push(e) });
  await redis.run((c) => c.set('slow', 'kept'));
  // Other work than Redis commands, longer than the bound; the client's own PINGs are answered meanwhile.
  const { error, ms } = await failure(redis.run(async (c) => {
    await c.get('slow');
    await sleep(FAST.commandTimeoutMs + 500);
  }));
  expect(error).toBeInstanceOf(RedisTimeoutError);
  expect((error as Error).message).toMatch(
    new RegExp(`^Redis at redis://app@127\\.0\\.0\\.1:${server.port} \\(from REDIS_URL\\): run\\(\\) did not finish within 1 s \\(commandTimeoutMs\\), though the server answered 0(\\.\\d)? s ago: it is overloaded, or the work given to run\\(\\) does more than Redis commands \\(do that outside run\\(\\)\\)$`),
  );
  expect(ms).toBeGreaterThanOrEqual(FAST.commandTimeoutMs - 50);
  expect(ms).toBeLessThan(FAST.commandTimeoutMs + 500);
  // Not taken for a stalled server: nothing was dropped or told.
  expect(redis.connected).toBe(true);
  expect(seen).toEqual([]);
  expect(await redis.run((c) => c.get('slow'))).toBe('kept');
});

/**
 * Holds the only connection a `--maxclients 1` server takes: a plain socket whose PING was
 * answered (the default user may PING), so that the server counts it. A try that meets the slot
 * still held (the readiness check's connection, closed a moment ago) is made again.
 */
async function holdOnlySlot(port: number): Promise<net.Socket> {
  for (const deadline = Date.now() + 2_000; ; await sleep(20)) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const reply = await new Promise<string>((resolve) => {
      socket.once('data', (d) => resolve(d.toString()));
      socket.once('close', () => resolve('closed'));
      socket.write('PING\r\n');
    });
    if (reply.startsWith('+PONG')) return socket;
    socket.destroy();
    if (Date.now() > deadline) throw new Error(`could not take the only connection of the server on port ${port}: ${reply}`);
  }
}

test('a server at maxclients: connectRedis retries, telling onError, and connects once a connection frees, within offlineWaitMs', async () => {
  const full = await startRedis({ maxmemoryMb: CONFIG_KEYS.redisMaxmemoryMb.default, maxmemoryPolicy: CONFIG_KEYS.redisMaxmemoryPolicy.default }, { maxclients: 1 });
  const hog = await holdOnlySlot(full.port);
  let redis: AppRedis | undefined;
  try {
    const seen: ClientError[] = [];
    const held = 600;
    setTimeout(() => hog.destroy(), held);
    const started = Date.now();
    redis = await connectRedis('cache', { ...FAST, vars: { [APP_ENV.redisUrl]: full.url }, onError: (e) => seen.push(e) });
    const ms = Date.now() - started;
    expect(await redis.run((c) => c.aclWhoAmI())).toBe(REDIS.appUser);
    expect(ms).toBeGreaterThanOrEqual(held - 50);
    expect(ms).toBeLessThan(FAST.offlineWaitMs);
    // Each refused try was told, as the server's being unreachable, never as a refused login.
    expect(seen.length).toBeGreaterThan(0);
    for (const e of seen) {
      expect(e).toBeInstanceOf(RedisUnavailableError);
      expect(String(e.message)).not.toContain(full.appPassword);
    }
    expect(seen.map((e) => e.message)).toContainEqual(
      expect.stringMatching(
        new RegExp(`^Redis at redis://app@127\\.0\\.0\\.1:${full.port} \\(from REDIS_URL\\) is not reachable: the server refused the connection \\(ERR max number of clients reached\\)`),
      ),
    );
  } finally {
    hog.destroy();
    await redis?.close();
    await full.stop();
  }
});

test('connectRedis: no server there fails within offlineWaitMs; close() ends the client, twice is fine', async () => {
  const nobody = await freePort();
  const { error, ms } = await failure(connectRedis('cache', { ...FAST, vars: { [APP_ENV.redisUrl]: `redis://app:secret-password@127.0.0.1:${nobody}` } }));
  expect(error).toBeInstanceOf(RedisUnavailableError);
  expect((error as Error).message).toContain(`is not reachable: connection refused: is the server running and listening on 127.0.0.1:${nobody}?`);
  expect((error as Error).message).not.toContain('secret-password');
  expect(ms).toBeGreaterThanOrEqual(FAST.offlineWaitMs - 50);
  expect(ms).toBeLessThan(FAST.offlineWaitMs + 1_000);

  const redis = await open('cache');
  await redis.close();
  await redis.close();
  expect(redis.connected).toBe(false);
  const closed = await failure(redis.run((c) => c.ping()));
  expect(closed.error).toBeInstanceOf(RedisClosedError);
  expect((closed.error as ClientError).code).toBe('REDIS_CLOSED');
  expect(closed.ms).toBeLessThan(100);
});

test('variables and options are checked before anything connects, and named', async () => {
  const missing = await failure(connectRedis('cache', { vars: {} }));
  expect(missing.error).toBeInstanceOf(MissingVariableError);
  expect((missing.error as Error).message).toMatch(/^REDIS_URL is not set: .*`npm run env -- --stack <stack>`/);

  const password = 'Secret-Value-987';
  for (const [url, why] of [
    [`http://app:${password}@127.0.0.1:6379`, /^REDIS_URL must start with redis:\/\/ or rediss:\/\/, not http:\/\/$/],
    [`redis://app:${password}@127.0.0.1:6379/cache`, /^REDIS_URL names "\/cache" after the host: only a database number may follow it/],
    [`redis://app:${password}@127.0.0.1:6379/0?ssl=true`, /^REDIS_URL has a query or fragment, which this client does not read/],
  ] as const) {
    const { error } = await failure(connectRedis('cache', { vars: { [APP_ENV.redisUrl]: url } }));
    expect(error).toBeInstanceOf(InvalidVariableError);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).not.toContain(password);
  }

  const vars = { [APP_ENV.redisUrl]: server.url };
  const option = await failure(connectRedis('cache', { vars, commandTimeoutMs: 5 }));
  expect(option.error).toBeInstanceOf(InvalidArgumentError);
  expect((option.error as Error).message).toBe('commandTimeoutMs must be a whole number of milliseconds from 100 to 60000; got 5. Leave it out for the default, 5000.');
  const use = await failure(connectRedis('queue' as RedisUse, { vars }));
  expect(use.error).toBeInstanceOf(InvalidArgumentError);
  expect((use.error as Error).message).toMatch(/^use must be one of cache, sessions, rateLimits; got "queue"/);
});

test('a database number in REDIS_URL is obeyed: its keys are not database 0\'s', async () => {
  const inOne = await connectRedis('cache', { ...FAST, vars: { [APP_ENV.redisUrl]: `${server.url}/1` } });
  opened.push(inOne);
  expect(inOne.display).toBe(`redis://app@127.0.0.1:${server.port}/1`);
  const inZero = await open('cache');
  await inOne.run((c) => c.set('where', 'one'));
  await inZero.run((c) => c.set('where', 'zero'));
  expect(await inOne.run((c) => c.get('where'))).toBe('one');
  expect(await inZero.run((c) => c.get('where'))).toBe('zero');
});
