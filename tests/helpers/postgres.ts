import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { serverStopper } from './server-process';

const run = promisify(execFile);

/** PostgreSQL's binaries: PG_BIN, or Debian's PostgreSQL 15. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const SUPERUSER = 'postgres';

export interface PostgresServer {
  host: string;
  port: number;
  password: string;
  dataDir: string;
  /** Superuser URL of a database on this server. */
  url(database?: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** postgres refuses to run as root: as root, run it as the `postgres` user, or `nobody`. */
export async function serverIdentity(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number((await run('id', ['-u', user])).stdout.trim());
      const gid = Number((await run('id', ['-g', user])).stdout.trim());
      return { uid, gid };
    } catch {
      // try the next user
    }
  }
  throw new Error('running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as');
}

async function waitReady(url: string, child: ChildProcess, logFile: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`postgres exited with code ${child.exitCode}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections in ${timeoutMs} ms: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Starts a throwaway PostgreSQL 15 on a free loopback port with a generated superuser password.
 * `settings` are passed as `-c name=value`, as a container's command line would.
 */
export async function startPostgres(options: { settings?: Record<string, string>; fast?: boolean } = {}): Promise<PostgresServer> {
  const postgresBin = path.join(PG_BIN, 'postgres');
  if (!fs.existsSync(postgresBin)) {
    throw new Error(`no PostgreSQL server at ${postgresBin}: install postgresql-15 (Debian) or set PG_BIN to its bin directory`);
  }
  const identity = await serverIdentity();
  const spawnOpts = identity ?? {};
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-pg-'));
  const dataDir = path.join(root, 'data');
  const password = randomBytes(18).toString('base64url');
  const pwFile = path.join(root, 'pw');
  fs.writeFileSync(pwFile, password, { mode: 0o600 });
  if (identity) {
    fs.chownSync(root, identity.uid, identity.gid);
    fs.chownSync(pwFile, identity.uid, identity.gid);
  }
  await run(
    path.join(PG_BIN, 'initdb'),
    ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${pwFile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--locale=C'],
    spawnOpts,
  );
  fs.rmSync(pwFile);

  const host = '127.0.0.1';
  const fast = options.fast ?? true;
  // Durability off only for throwaway test data: it makes initdb-to-ready and DDL much faster.
  const durability = fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {};
  const settings = { listen_addresses: host, unix_socket_directories: root, ...durability, ...options.settings };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const logFile = path.join(root, `postgres-${attempt}.log`);
    const log = fs.openSync(logFile, 'w');
    if (identity) fs.fchownSync(log, identity.uid, identity.gid);
    const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const child = spawn(postgresBin, args, { ...spawnOpts, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const url = (database = 'postgres') => `postgres://${SUPERUSER}:${password}@${host}:${port}/${database}`;
    try {
      await waitReady(url(), child, logFile);
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
      if (/could not bind|already in use/i.test(String(error))) continue;
      break;
    }
    const stop = serverStopper(child, root, 'SIGINT');
    return { host, port, password, dataDir, url, stop };
  }
  fs.rmSync(root, { recursive: true, force: true });
  throw lastError;
}

/** Runs one statement as the superuser on the server's `postgres` database. */
export async function adminQuery(server: PostgresServer, sql: string): Promise<void> {
  const client = new Client({ connectionString: server.url() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let counter = 0;
/** A new empty database on the server; returns its superuser URL. */
export async function createDatabase(server: PostgresServer, prefix = 'test'): Promise<string> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  await adminQuery(server, `CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  return server.url(name);
}
