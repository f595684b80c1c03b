import type { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { migrate, MigrationError } from '../lib/migrations/runner';
import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { freshDatabase, type TestDatabase } from './helpers/db';
import { startPgbouncer as startPgbouncerServer, type PgbouncerServer } from './helpers/pgbouncer';
import { SUPERUSER } from './helpers/postgres';
import { sharedServer } from './helpers/shared-server';

/**
 * The migration runner behind PgBouncer (the Debian package's binary, with the stack's
 * pgbouncer.ini, as the stack's container runs it) in front of the shared test PostgreSQL: refused
 * where the pooler does not keep the session, working where it does.
 */

const MIGRATIONS = readMigrations();

/**
 * A PgBouncer with the stack's pgbouncer.ini (tests/helpers/pgbouncer.ts) in front of the shared
 * server, changed as each case says (the pool mode, its size), admitting the superuser (its plain
 * password in the user list) to any database: the fresh ones each test makes.
 */
function startPgbouncer(poolSize: number, change: Record<string, string> = {}): Promise<PgbouncerServer> {
  const server = sharedServer();
  return startPgbouncerServer(
    {
      postgres: server,
      logins: [{ user: SUPERUSER, scramSecret: server.password }],
      settings: { poolSize, maxClientConnections: 100 },
      change,
      databases: ['*'],
    },
    { user: SUPERUSER, password: server.password, database: 'postgres' },
  );
}

/** Nothing in the test's database, and no advisory lock on it (other test files migrate their own databases on the shared server meanwhile). */
async function untouched(client: Client): Promise<void> {
  const { rows } = await client.query(
    `SELECT (SELECT count(*)::int FROM pg_namespace WHERE nspname = 'drizzle') AS drizzle,
            (SELECT count(*)::int FROM information_schema.tables WHERE table_schema = 'public') AS tables,
            (SELECT count(*)::int FROM pg_locks l JOIN pg_database d ON d.oid = l.database
              WHERE l.locktype = 'advisory' AND d.datname = current_database()) AS locks`,
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
    ["PgBouncer in transaction mode (the stack's)", {}],
    ['PgBouncer in transaction mode, servers taken round-robin', { min_pool_size: '3', server_round_robin: '1' }],
    ['PgBouncer in statement mode', { pool_mode: 'statement' }],
  ])('is refused before the lock, naming MIGRATOR_DATABASE_URL, and changes nothing: %s', async (_label, change: Record<string, string>) => {
    const bouncer = await startPgbouncer(4, change);
    const database = new URL(t.url).pathname.slice(1);
    const client = await connect(parseDatabaseUrl(bouncer.url(SUPERUSER, sharedServer().password, database), 'MIGRATOR_DATABASE_URL'), 'db:migrate');
    try {
      const error = await migrate(client, MIGRATIONS).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      const message = (error as Error).message;
      expect(message).toMatch(
        new RegExp(`^PostgreSQL at postgresql://postgres@127\\.0\\.0\\.1:\\d+/${database} does not keep this connection on one PostgreSQL session: `),
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
    ['PgBouncer in session mode', 4],
    // The check's second session then waits for a server that only a session's end frees: no evidence, no refusal.
    ['PgBouncer in session mode, its pool full', 1],
  ])('works: %s', async (_label, poolSize) => {
    const bouncer = await startPgbouncer(poolSize, { pool_mode: 'session' });
    const database = new URL(t.url).pathname.slice(1);
    const client = await connect(parseDatabaseUrl(bouncer.url(SUPERUSER, sharedServer().password, database), 'MIGRATOR_DATABASE_URL'), 'db:migrate');
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
