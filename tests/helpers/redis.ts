import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createClient } from '@redis/client';
import { redisAcl, redisCommand, type RedisSettings } from '../../stacks/containers/redis-settings';
import { REDIS } from '../../stacks/services';
import { freePort } from './postgres';
import { endProcess, serverStopper } from './server-process';

export interface RedisServer {
  port: number;
  /** The redis-server process: SIGSTOP makes a server that accepts connections and never answers. */
  pid: number;
  /** The app user's password, as the stack generates it. */
  appPassword: string;
  /** redis://app:PASSWORD@127.0.0.1:PORT, as the stack's redisUrl output. */
  url: string;
  /**
   * Stops the server as `docker stop` does (SIGTERM: it writes its append-only file and exits) and
   * starts it again with the same command line, port, data folder and ACL file, as a container
   * restart does. `whileDown` runs in between: what a client sees while the server is gone.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/** The value after `flag` in a command line, replaced: the container's paths and port become this machine's. */
function replaceArg(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  if (i < 0 || i === args.length - 1) throw new Error(`the declared redis command has no ${flag} <value>: ${args.join(' ')}`);
  return [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}

/**
 * Waits until the default user's PING (all the stack's health check does) answers PONG. One
 * node-redis client per try, with the options lib/health/redis.ts explains: it neither reconnects
 * nor queues, and a try waits at most a second for the connection and for the answer.
 */
async function waitReady(port: number, child: ReturnType<typeof spawn>, logFile: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${fs.readFileSync(logFile, 'utf8')}`);
    const client = createClient({
      socket: { host: '127.0.0.1', port, connectTimeout: 1000, socketTimeout: 1000, reconnectStrategy: false },
      RESP: 2,
      maintNotifications: 'disabled',
      disableOfflineQueue: true,
      disableClientInfo: true,
      commandOptions: { timeout: 1000 },
    });
    client.on('error', () => undefined);
    const pong = await client
      .connect()
      .then((c) => c.ping())
      .then(
        (reply) => reply === 'PONG',
        () => false,
      )
      .finally(() => client.destroy());
    if (pong) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING in ${timeoutMs} ms:\n${fs.readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What a test may add to the stack's command line. */
export interface RedisTestOptions {
  /** `--maxclients`: how many connections the server takes before it answers the next one "-ERR max number of clients reached" and closes it. */
  maxclients?: number;
}

/**
 * A throwaway redis-server on a free loopback port, started with the command line and ACL file
 * the stack declares (stacks/containers/redis-settings.ts), with a generated app password. Only the data
 * folder, the ACL file's path and the port are this machine's, plus what `options` adds.
 */
export async function startRedis(settings: RedisSettings, options: RedisTestOptions = {}): Promise<RedisServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-redis-'));
  const appPassword = randomBytes(24).toString('base64url');
  const aclFile = path.join(root, 'users.acl');
  fs.writeFileSync(aclFile, redisAcl(appPassword), { mode: 0o600 });
  const [binary, ...declared] = redisCommand(settings);
  const port = await freePort();
  let args = replaceArg(declared, '--port', String(port));
  args = replaceArg(args, '--dir', root);
  args = replaceArg(args, '--aclfile', aclFile);
  if (options.maxclients !== undefined) args = [...args, '--maxclients', String(options.maxclients)];
  const logFile = path.join(root, 'redis.log');
  const launch = () => {
    const log = fs.openSync(logFile, 'a');
    const started = spawn(binary, [...args, '--bind', '127.0.0.1', '--daemonize', 'no'], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    return started;
  };
  let child = launch();
  // Whichever process runs now: a restart replaces it.
  const stopAll = serverStopper(() => child, root, 'SIGTERM');
  try {
    await waitReady(port, child, logFile);
  } catch (error) {
    await stopAll();
    throw error;
  }
  const server: RedisServer = {
    port,
    pid: child.pid as number,
    appPassword,
    url: `redis://${REDIS.appUser}:${appPassword}@127.0.0.1:${port}`,
    async restart(whileDown) {
      await endProcess(child, 'SIGTERM');
      try {
        if (whileDown) await whileDown();
      } finally {
        // Up again even when what ran in between failed: the next test needs the server.
        child = launch();
        server.pid = child.pid as number;
        await waitReady(port, child, logFile);
      }
    },
    stop: stopAll,
  };
  return server;
}
