import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { migrate, MigrationError } from '../lib/migrations/runner';
import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { freshDatabase, type TestDatabase } from './helpers/db';
import { freePort, serverIdentity, SUPERUSER } from './helpers/postgres';
import { serverStopper } from './helpers/server-process';
import { sharedServer } from './helpers/shared-server';

/**
 * The migration runner behind PgBouncer (the Debian package's binary, as the stack's container
 * runs it) in front of the shared test PostgreSQL: refused where the pooler does not keep the
 * session, working where it does.
 */

const PGBOUNCER = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';
const MIGRATIONS = readMigrations();

interface Bouncer {
  url(database: string): string;
  stop(): Promise<void>;
}

/** A throwaway PgBouncer on a free port; `settings` go into its [pgbouncer] section. */
async function startPgbouncer(settings: Record<string, string>): Promise<Bouncer> {
  if (!fs.existsSync(PGBOUNCER)) throw new Error(`no PgBouncer at ${PGBOUNCER}: install pgbouncer (Debian) or set PGBOUNCER_BIN`);
  const server = sharedServer();
  const identity = await serverIdentity();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-pgbouncer-'));
  const port = await freePort();
  const ini = [
    '[databases]',
    `* = host=${server.host} port=${server.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${path.join(root, 'userlist.txt')}`,
    `logfile = ${path.join(root, 'pgbouncer.log')}`,
    'max_client_conn = 100',
    ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
  ].join('\n');
  fs.writeFileSync(path.join(root, 'pgbouncer.ini'), `${ini}\n`);
  fs.writeFileSync(path.join(root, 'userlist.txt'), `"${SUPERUSER}" "${server.password}"\n`, { mode: 0o600 });
  if (identity) for (const f of ['', 'pgbouncer.ini', 'userlist.txt']) fs.chownSync(path.join(root, f), identity.uid, identity.gid);
  const child = spawn(PGBOUNCER, [path.join(root, 'pgbouncer.ini')], { ...(identity ?? {}), stdio: 'ignore' });
  const stop = serverStopper(child, root, 'SIGINT');
  const url = (database: string) => `postgres://${SUPERUSER}:${server.password}@127.0.0.1:${port}/${database}`;
  for (const deadline = Date.now() + 10_000; ; ) {
    const probe = new Client({ connectionString: url('postgres'), connectionTimeoutMillis: 1000 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      await probe.end();
      return { url, stop };
    } catch (error) {
      await probe.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) {
        const log = fs.existsSync(path.join(root, 'pgbouncer.log')) ? fs.readFileSync(path.join(root, 'pgbouncer.log'), 'utf8') : '';
        await stop();
        throw new Error(`PgBouncer did not start: ${(error as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function untouched(client: Client): Promise<void> {
  const { rows } = await client.query(
    `SELECT (SELECT count(*)::int FROM pg_namespace WHERE nspname = 'drizzle') AS drizzle,
            (SELECT count(*)::int FROM information_schema.tables WHERE table_schema = 'public') AS tables,
            (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory') AS locks`,
  );
  expect(rows[0]).toEqual({ drizzle: 0, tables: 0, locks: 0 });
}

describe('migrating through a pooler that does not keep the session', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase();
  });
  afterEach(() => t.close());

  it.each([
    ['PgBouncer in transaction mode', { pool_mode: 'transaction', default_pool_size: '4' }],
    ['PgBouncer in transaction mode, servers taken round-robin', { pool_mode: 'transaction', default_pool_size: '4', min_pool_size: '3', server_round_robin: '1' }],
    ['PgBouncer in statement mode', { pool_mode: 'statement', default_pool_size: '4' }],
  ])('is refused before the lock, naming MIGRATOR_DATABASE_URL, and changes nothing: %s', async (_label, settings) => {
    const bouncer = await startPgbouncer(settings);
    const database = new URL(t.url).pathname.slice(1);
    const client = await connect(parseDatabaseUrl(bouncer.url(database), 'MIGRATOR_DATABASE_URL'), 'db:migrate');
    try {
      const error = await migrate(client, MIGRATIONS).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      const message = (error as Error).message;
      expect(message).toMatch(
        new RegExp(`^PostgreSQL at postgres://postgres@127\\.0\\.0\\.1:\\d+/${database} does not keep this connection on one PostgreSQL session: `),
      );
      expect(message).toMatch(/(two of its queries reached different backends|another connection was given its backend)/);
      expect(message).toContain('Nothing was changed. Migrate over a direct connection to PostgreSQL: set MIGRATOR_DATABASE_URL');
      expect(message).not.toContain(sharedServer().password);
      await untouched(t.client);
    } finally {
      await client.end();
      await bouncer.stop();
    }
  });
});

describe('migrating through a pooler that keeps the session', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase();
  });
  afterEach(() => t.close());

  it.each([
    ['PgBouncer in session mode', { pool_mode: 'session', default_pool_size: '4' }],
    // The check's second session then waits for a server that only a session's end frees: no evidence, no refusal.
    ['PgBouncer in session mode, its pool full', { pool_mode: 'session', default_pool_size: '1' }],
  ])('works: %s', async (_label, settings) => {
    const bouncer = await startPgbouncer(settings);
    const database = new URL(t.url).pathname.slice(1);
    const client = await connect(parseDatabaseUrl(bouncer.url(database), 'MIGRATOR_DATABASE_URL'), 'db:migrate');
    try {
      const result = await migrate(client, MIGRATIONS);
      expect(result.appliedNow.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
    } finally {
      await client.end();
      await bouncer.stop();
    }
    const { rows } = await t.client.query('SELECT name FROM drizzle.__drizzle_migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('a direct connection is never refused, even when PostgreSQL hands out backends in any order', async () => {
    // Eight direct runs at once: each connection is its own backend, which the check must recognise.
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect(parseDatabaseUrl(t.url), 'db:migrate')));
    try {
      const results = await Promise.all(clients.map((c) => migrate(c, MIGRATIONS)));
      expect(results.flatMap((r) => r.appliedNow.map((m) => m.name)).sort()).toEqual(MIGRATIONS.map((m) => m.name).sort());
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
