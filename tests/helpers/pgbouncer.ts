import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DATABASE_NAME } from '../../common/names';
import { pgbouncerIni, pgbouncerUserlist, type PgbouncerSettings, type PoolLogin } from '../../stacks/containers/pgbouncer-settings';
import { PGBOUNCER, POSTGRES } from '../../stacks/services';
import { freePort, serverIdentity } from './postgres';
import { endProcess, serverStopper } from './server-process';

/** Debian's PgBouncer (the package CI installs), or PGBOUNCER_BIN. */
export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

export interface PgbouncerOptions {
  /** The PostgreSQL server PgBouncer passes the logins through to (the container's `postgres` alias). */
  postgres: { host: string; port: number };
  /** Who may log in: roles with the SCRAM secret PostgreSQL stores for each (stacks/scram.ts), or a plain password. */
  logins: PoolLogin[];
  /** The stack's pool sizes (its pgbouncerPoolSize and pgbouncerMaxClientConnections). */
  settings: PgbouncerSettings;
  /**
   * [pgbouncer] settings changed from the stack's, for tests of what the stack does not run (another
   * pool_mode, say): each replaces the stack's line of that name, or is added. None for the stack's own.
   */
  change?: Record<string, string>;
  /** [databases] entries beside the stack's database, by name (`*`, the fallback, for any database), each pointing at `postgres`. */
  databases?: string[];
}

/** A login of `logins` with its password, and a database it may reach: how start and restart know PgBouncer is up. */
export interface Probe {
  user: string;
  password: string;
  database?: string;
}

export interface PgbouncerServer {
  port: number;
  /** The PgBouncer process now running (a restart replaces it): SIGSTOP makes a pooler that accepts connections and never answers. */
  readonly pid: number;
  /** A URL of `database` (the stack's by default) through this PgBouncer, logging in as `user`. */
  url(user: string, password: string, database?: string): string;
  /**
   * Stops PgBouncer (`signal`: SIGINT, its safe shutdown, by default; SIGTERM, its immediate one) and
   * starts it again with the same files on the same port, as a container restart does. `whileDown`
   * runs in between: what a client sees while the pooler is gone.
   */
  restart(options?: { signal?: NodeJS.Signals; whileDown?: () => Promise<void> }): Promise<void>;
  stop(): Promise<void>;
}

/** Replaces the one line of the ini that starts with `key =`; fails when the stack's ini has none (it changed). */
function replaceLine(ini: string, key: string, value: string): string {
  const pattern = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} = .*$`, 'm');
  if (!pattern.test(ini)) throw new Error(`the stack's pgbouncer.ini has no "${key} = ..." line to replace:\n${ini}`);
  return ini.replace(pattern, `${key} = ${value}`);
}

/**
 * The stack's pgbouncer.ini (stacks/containers/pgbouncer-settings.ts) as this machine runs it: only
 * the address and port it listens on, the host and port of PostgreSQL, the auth file's path and a
 * log file are this machine's (as tests/helpers/redis.ts changes only redis-server's port and
 * folders), then `change` and `databases`, for the tests that ask for them.
 */
function localIni(options: PgbouncerOptions, port: number, root: string): string {
  const { postgres, settings, change = {}, databases = [] } = options;
  let ini = pgbouncerIni(settings);
  // The stack's database entry keeps everything but its host and port (its dbname and any option).
  const entry = new RegExp(`^${DATABASE_NAME} = (.*)$`, 'm').exec(ini)?.[1] ?? '';
  const local = entry.replace(`host=${POSTGRES.alias} `, `host=${postgres.host} `).replace(`port=${POSTGRES.port} `, `port=${postgres.port} `);
  if (!entry.includes(`host=${POSTGRES.alias} port=${POSTGRES.port} dbname=`)) {
    throw new Error(`the stack's pgbouncer.ini no longer names ${DATABASE_NAME} as "host=${POSTGRES.alias} port=${POSTGRES.port} dbname=...":\n${ini}`);
  }
  ini = replaceLine(ini, DATABASE_NAME, local);
  // The container listens on every interface of its own network; here, loopback only.
  ini = replaceLine(ini, 'listen_addr', '127.0.0.1');
  ini = replaceLine(ini, 'listen_port', String(port));
  ini = replaceLine(ini, 'auth_file', path.join(root, path.basename(PGBOUNCER.authFile)));
  for (const [key, value] of Object.entries(change)) {
    ini = new RegExp(`^${key} = `, 'm').test(ini) ? replaceLine(ini, key, value) : `${ini}${key} = ${value}\n`;
  }
  const extra = databases.map((name) => `${name} = host=${postgres.host} port=${postgres.port}\n`).join('');
  ini = ini.replace('\n\n[pgbouncer]\n', `\n${extra}\n[pgbouncer]\n`);
  // The container logs to its stdout; here, to a file that a failure quotes.
  return `${ini}logfile = ${path.join(root, 'pgbouncer.log')}\n`;
}

/** Waits until `url` gets an answer through PgBouncer (10 s at most), or PgBouncer exits. */
async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`PgBouncer did not start: ${(error as Error).message}\n${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Starts Debian's PgBouncer with the stack's pgbouncer.ini and user list on a free loopback port,
 * and waits until `probe` gets an answer through it. As root, it runs as the user PostgreSQL runs
 * as (PgBouncer refuses root). It is killed if this process exits without stopping it.
 */
export async function startPgbouncer(options: PgbouncerOptions, probe: Probe): Promise<PgbouncerServer> {
  if (!fs.existsSync(PGBOUNCER_BIN)) throw new Error(`no PgBouncer at ${PGBOUNCER_BIN}: install pgbouncer (Debian) or set PGBOUNCER_BIN`);
  const identity = await serverIdentity();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-pgbouncer-'));
  const port = await freePort();
  const iniFile = path.join(root, 'pgbouncer.ini');
  fs.writeFileSync(iniFile, localIni(options, port, root));
  fs.writeFileSync(path.join(root, path.basename(PGBOUNCER.authFile)), pgbouncerUserlist(options.logins), { mode: 0o600 });
  if (identity) for (const f of ['', ...fs.readdirSync(root)]) fs.chownSync(path.join(root, f), identity.uid, identity.gid);
  const logFile = path.join(root, 'pgbouncer.log');
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const url = (user: string, password: string, database = DATABASE_NAME) =>
    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const probeUrl = url(probe.user, probe.password, probe.database);

  let child: ChildProcess;
  const launch = async () => {
    child = spawn(PGBOUNCER_BIN, [iniFile], { ...(identity ?? {}), stdio: 'ignore' });
    await waitReady(probeUrl, child, log);
  };
  // Whichever process runs now: a restart replaces it.
  const stop = serverStopper(() => child, root, 'SIGINT');
  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    get pid() {
      return child.pid as number;
    },
    url,
    restart: async ({ signal = 'SIGINT', whileDown } = {}) => {
      await endProcess(child, signal);
      await whileDown?.();
      await launch();
    },
    stop,
  };
}
