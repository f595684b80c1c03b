import * as net from 'node:net';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as drizzleMigrate } from 'drizzle-orm/node-postgres/migrator';
import { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { LOCK_NAME, migrate, MigrationError, migrationStatus } from '../lib/migrations/runner';
import { migrationsPath } from '../common/paths';
import { freshDatabase, npmRun, tableContents, type TestDatabase } from './helpers/db';
import { MigrationsCopy } from './helpers/migrations-copy';
import { freePort } from './helpers/postgres';
import { sharedServer } from './helpers/shared-server';

const MIGRATIONS = readMigrations();
const HISTORY = 'drizzle.__drizzle_migrations';

async function history(client: Client) {
  const { rows } = await client.query(`SELECT id, hash, created_at::text, name FROM ${HISTORY} ORDER BY id`);
  return rows;
}

async function publicTables(client: Client): Promise<string[]> {
  const { rows } = await client.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
  );
  return rows.map((r) => r.table_name as string);
}

/** A fingerprint of the whole catalog of the database: any DDL changes it. */
async function catalogFingerprint(client: Client): Promise<string> {
  const { rows } = await client.query(`
    SELECT md5(string_agg(x, '|' ORDER BY x)) AS f FROM (
      SELECT c.oid::text || c.relname::text || c.relkind::text || c.relnatts::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      UNION ALL SELECT conname::text || pg_get_constraintdef(oid) FROM pg_constraint
      UNION ALL SELECT extname::text || extversion FROM pg_extension
      UNION ALL SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal) s(x)`);
  return rows[0].f as string;
}

const leaks = (r: { stdout: string; stderr: string }, secret: string) => `${r.stdout}${r.stderr}`.includes(secret);

describe('npm run db:migrate', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase();
  });
  afterEach(() => t.close());

  it('migrates an empty database to the whole schema, and a rerun changes nothing', async () => {
    const first = await npmRun('db:migrate', [], { DATABASE_URL: t.url });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    for (const m of MIGRATIONS) expect(first.stdout).toContain(`applied ${m.name}`);
    expect(await publicTables(t.client)).toHaveLength(15);
    const applied = await history(t.client);
    expect(applied.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(applied.map((r) => r.hash)).toEqual(MIGRATIONS.map((m) => m.hash));

    const before = await catalogFingerprint(t.client);
    const second = await npmRun('db:migrate', [], { DATABASE_URL: t.url });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`is up to date (${MIGRATIONS.length} migrations applied)`);
    expect(second.stdout).not.toContain('applied 0');
    expect(await history(t.client)).toEqual(applied);
    expect(await catalogFingerprint(t.client)).toBe(before);
  });

  it('--dry-run lists the pending migrations and changes nothing', async () => {
    const before = await catalogFingerprint(t.client);
    const r = await npmRun('db:migrate', ['--dry-run'], { DATABASE_URL: t.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${MIGRATIONS.length} migrations would be applied`);
    for (const m of MIGRATIONS) expect(r.stdout).toContain(`${m.name}  (${m.file}`);
    expect(await catalogFingerprint(t.client)).toBe(before);
    expect(await publicTables(t.client)).toEqual([]);
    const schema = await t.client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'drizzle'`);
    expect(schema.rowCount).toBe(0);
  });

  it('eight concurrent runs apply each migration exactly once, and all succeed', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => npmRun('db:migrate', [], { DATABASE_URL: t.url })));
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const output = runs.map((r) => r.stdout).join('\n');
    for (const m of MIGRATIONS) {
      expect(output.split(`applied ${m.name} `).length - 1).toBe(1);
    }
    const applied = await history(t.client);
    expect(applied.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('waits for the lock of another run and gives up after --lock-timeout, changing nothing', async () => {
    const holder = new Client({ connectionString: t.url, application_name: 'other-deploy' });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [LOCK_NAME]);
      const r = await npmRun('db:migrate', ['--lock-timeout', '1'], { DATABASE_URL: t.url });
      expect(r.code).toBe(1);
      const session = /PostgreSQL session \(backend pid \d+, role postgres, application_name "other-deploy", client 127\.0\.0\.1\)/.source;
      expect(r.stdout).toMatch(new RegExp(`waiting up to 1 s for another migration run to finish: its ${session} holds the migration lock`));
      expect(r.stderr).toMatch(new RegExp(`another migration run held the lock for over 1 s \\(its ${session}\\); nothing was changed`));
      expect(await publicTables(t.client)).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it('fails with a clear message when DATABASE_URL is missing', async () => {
    const r = await npmRun('db:migrate');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: neither MIGRATOR_DATABASE_URL nor DATABASE_URL is set: set MIGRATOR_DATABASE_URL to the migrator');
  });

  it.each([
    ['no scheme', 'app:s3cret-Pa55@localhost:5432/app', 'DATABASE_URL is not a valid URL (its value is not shown'],
    ['not parseable', 'postgres://app:s3cret-Pa55@[::1/app', 'DATABASE_URL is not a valid URL (its value is not shown'],
    ['another scheme', 'mysql://app:s3cret-Pa55@localhost/app', 'DATABASE_URL must start with postgres:// or postgresql://, not mysql://'],
    ['no database', 'postgres://app:s3cret-Pa55@localhost:5432/', 'DATABASE_URL names no database'],
    ['a bad timeout', 'postgres://app:s3cret-Pa55@localhost/db?connect_timeout=soon', 'connect_timeout=soon: it must be a positive number'],
  ])('rejects a malformed DATABASE_URL (%s) without printing it', async (_label, url, message) => {
    const r = await npmRun('db:migrate', [], { DATABASE_URL: url });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(leaks(r, 's3cret-Pa55')).toBe(false);
  });

  it('fails fast when nothing listens on the port', async () => {
    const port = await freePort();
    const r = await npmRun('db:migrate', [], { DATABASE_URL: `postgres://app:s3cret-Pa55@127.0.0.1:${port}/app` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot connect to PostgreSQL at postgres://app@127.0.0.1:${port}/app (from DATABASE_URL): connection refused`);
    expect(leaks(r, 's3cret-Pa55')).toBe(false);
  });

  it('gives up after connect_timeout when the server never answers, instead of hanging', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const r = await npmRun('db:migrate', [], { DATABASE_URL: `postgres://app:s3cret-Pa55@127.0.0.1:${port}/app?connect_timeout=1` });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no answer within 1 s');
      expect(r.ms).toBeLessThan(10_000);
      expect(leaks(r, 's3cret-Pa55')).toBe(false);
    } finally {
      silent.close();
    }
  });

  it('names the user, never the password, when authentication fails', async () => {
    const server = sharedServer();
    const wrong = 'Wr0ng-pa55word';
    const r = await npmRun('db:migrate', [], { DATABASE_URL: `postgres://postgres:${wrong}@${server.host}:${server.port}/postgres` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('password authentication failed for user "postgres": check the user and password in DATABASE_URL');
    expect(leaks(r, wrong)).toBe(false);
  });

  it.each([['0'], ['-1'], ['soon'], ['2147484']])('rejects --lock-timeout %s as bad usage, exit status 2', async (value) => {
    const r = await npmRun('db:migrate', [`--lock-timeout=${value}`], { DATABASE_URL: t.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: option '--lock-timeout <seconds>' argument '${value}' is invalid. must be a number of seconds from 0.001 to 2147483`);
    expect(r.stderr).toContain('(add --help for usage)');
  });

  it('explains a literal % in the password instead of failing with a stack', async () => {
    const r = await npmRun('db:migrate', [], { DATABASE_URL: 'postgres://app:50%off@localhost/app' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('write a literal % in the user name or password as %25');
    expect(r.stderr).not.toContain('URIError');
    expect(leaks(r, '50%off')).toBe(false);
  });

  it('names an unreadable certificate file instead of failing with a stack', async () => {
    const server = sharedServer();
    const r = await npmRun('db:migrate', [], {
      DATABASE_URL: `postgres://postgres:${server.password}@${server.host}:${server.port}/postgres?sslmode=verify-full&sslrootcert=/nonexistent/root.crt`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a file named in DATABASE_URL cannot be read \(.*\/nonexistent\/root\.crt.*\): check sslrootcert/);
    expect(leaks(r, server.password)).toBe(false);
  });

  it('keeps messages intact when the password is a common word', async () => {
    const server = sharedServer();
    const r = await npmRun('db:migrate', [], { DATABASE_URL: `postgres://postgres:postgres@${server.host}:${server.port}/postgres` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot connect to PostgreSQL at postgres://postgres@${server.host}:${server.port}/postgres (from DATABASE_URL): password authentication failed for user "postgres"`);
  });

  it('rejects an unknown flag, suggesting the one meant', async () => {
    const r = await npmRun('db:migrate', ['--dryrun'], { DATABASE_URL: t.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown option '--dryrun'\n(Did you mean --dry-run?)");
    expect(r.stderr).toContain('(add --help for usage)');
  });
});

describe('the migration runner', () => {
  let t: TestDatabase;
  let copy: MigrationsCopy;
  beforeEach(async () => {
    t = await freshDatabase();
    copy = new MigrationsCopy();
  });
  afterEach(async () => {
    await t.close();
    copy.cleanup();
  });

  it('rolls a failing migration back completely and names the file, statement and line', async () => {
    await migrate(t.client, readMigrations(copy.dir));
    const flagsBefore = await tableContents(t.client, 'feature_flags');
    const historyBefore = await history(t.client);
    copy.add(
      '9001_broken',
      [
        'CREATE TABLE lessons (id uuid PRIMARY KEY);',
        "INSERT INTO feature_flags (name) VALUES ('half_done');",
        'INSERT INTO lessons (id)\n  SELECT id FROM teachers;',
      ].join('\n--> statement-breakpoint\n'),
    );
    const error = await migrate(t.client, readMigrations(copy.dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    const message = (error as Error).message;
    expect(message).toContain('9001_broken.sql failed at statement 3 of 3 (line 6): relation "teachers" does not exist');
    expect(message).toContain('    INSERT INTO lessons (id)\n      SELECT id FROM teachers;');
    expect(message).toContain('9001_broken was rolled back completely');
    expect(await t.client.query(`SELECT to_regclass('public.lessons') AS t`)).toMatchObject({ rows: [{ t: null }] });
    expect(await tableContents(t.client, 'feature_flags')).toEqual(flagsBefore);
    expect(await history(t.client)).toEqual(historyBefore);
  });

  it('refuses, before changing anything, when an applied migration was edited', async () => {
    await migrate(t.client, readMigrations(copy.dir));
    const before = await catalogFingerprint(t.client);
    copy.edit('0002_updated_at_triggers', (sql) => `${sql}\n-- a harmless-looking edit\n`);
    copy.add('9001_new', 'CREATE TABLE lessons (id uuid PRIMARY KEY);');
    const error = await migrate(t.client, readMigrations(copy.dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/refusing to migrate, nothing was changed:\n {2}- \S*0002_updated_at_triggers\.sql was changed after it was applied/);
    expect(await catalogFingerprint(t.client)).toBe(before);
  });

  it('refuses when an applied migration was removed, naming it', async () => {
    await migrate(t.client, readMigrations(copy.dir));
    const before = await catalogFingerprint(t.client);
    copy.remove('0002_updated_at_triggers');
    const error = await migrate(t.client, readMigrations(copy.dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect(await catalogFingerprint(t.client)).toBe(before);
    expect((error as Error).message).toContain(
      '0002_updated_at_triggers.sql was applied to this database but is no longer among the migration files',
    );
  });

  it('refuses a pending migration older than the newest applied one, which drizzle would skip', async () => {
    // Branch B's migration was deployed first; branch A's, written earlier, arrives with the merge.
    const base = copy.journal().entries.at(-1)!.when;
    const branchB = 'CREATE TABLE lessons (id uuid PRIMARY KEY);';
    await migrate(t.client, readMigrations(copy.add('9001_branch_b', branchB, base + 2000).dir));
    const merged = new MigrationsCopy();
    try {
      merged.add('9001_branch_a', 'CREATE TABLE courses (id uuid PRIMARY KEY);', base + 1000).add('9002_branch_b', branchB, base + 2000);
      const error = await migrate(t.client, readMigrations(merged.dir)).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/9001_branch_a\.sql is older than the newest applied migration, so drizzle's migrator would skip it/);
      expect(await t.client.query(`SELECT to_regclass('public.courses') AS t`)).toMatchObject({ rows: [{ t: null }] });
    } finally {
      merged.cleanup();
    }
  });

  it('refuses a journal whose entries are not in time order', () => {
    const oldest = copy.journal().entries[0].when;
    copy.add('9001_misdated', 'CREATE TABLE lessons (id uuid PRIMARY KEY);', oldest + 1);
    const newest = MIGRATIONS[MIGRATIONS.length - 1].name;
    expect(() => readMigrations(copy.dir)).toThrow(`9001_misdated is not newer than ${newest}`);
  });

  it('rolls a migration back when a statement waits longer than the DDL lock timeout for a busy table', async () => {
    await migrate(t.client, readMigrations(copy.dir));
    copy.add('9001_add_column', 'ALTER TABLE feature_flags ADD COLUMN owner text;');
    const busy = new Client({ connectionString: t.url });
    await busy.connect();
    try {
      await busy.query('BEGIN');
      await busy.query('SELECT * FROM feature_flags'); // a long transaction that read the table
      const error = await migrate(t.client, readMigrations(copy.dir), { ddlLockTimeoutSeconds: 0.2 }).catch((e: unknown) => e);
      expect((error as Error).message).toContain('9001_add_column.sql failed at statement 1 of 1 (line 1): canceling statement due to lock timeout');
      expect((error as Error).message).toContain('It waited over 0.2 s for a lock that another session holds');
    } finally {
      await busy.end();
    }
    const column = await t.client.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'feature_flags' AND column_name = 'owner'`);
    expect(column.rowCount).toBe(0);
    expect((await migrate(t.client, readMigrations(copy.dir))).appliedNow.map((m) => m.name)).toEqual(['9001_add_column']);
  });

  it('says the connection was lost, not that the statement failed, when the server ends the session', async () => {
    await migrate(t.client, readMigrations(copy.dir));
    copy.add('9001_slow', 'CREATE TABLE lessons (id uuid PRIMARY KEY);\n--> statement-breakpoint\nSELECT pg_sleep(30);');
    const runner = new Client({ connectionString: t.url, application_name: 'doomed-runner' });
    runner.on('error', () => undefined);
    await runner.connect();
    const running = migrate(runner, readMigrations(copy.dir)).catch((e: unknown) => e);
    for (let i = 0; i < 100; i++) {
      const { rowCount } = await t.client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doomed-runner' AND query LIKE 'SELECT pg_sleep%'`,
      );
      if (rowCount) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const error = await running;
    await runner.end().catch(() => undefined);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/lost the connection to the server while applying \S*9001_slow\.sql .*nothing of 9001_slow was committed/);
    expect(await t.client.query(`SELECT to_regclass('public.lessons') AS t`)).toMatchObject({ rows: [{ t: null }] });
  });

  it("does not let one migration's session settings leak into the next", async () => {
    copy.add('9001_sets_search_path', "SET search_path = nowhere;\n--> statement-breakpoint\nSELECT 1;");
    copy.add('9002_creates_a_table', 'CREATE TABLE leak_probe (id int);');
    await migrate(t.client, readMigrations(copy.dir));
    expect(await t.client.query(`SELECT to_regclass('public.leak_probe') IS NOT NULL AS ok`)).toMatchObject({ rows: [{ ok: true }] });
  });

  it('applies only what is pending after a partial run', async () => {
    const all = readMigrations(copy.dir);
    await migrate(t.client, all.slice(0, 1));
    const status = await migrationStatus(t.client, all);
    expect(status.pending.map((m) => m.name)).toEqual(all.slice(1).map((m) => m.name));
    const result = await migrate(t.client, all);
    expect(result.appliedNow.map((m) => m.name)).toEqual(all.slice(1).map((m) => m.name));
  });

  it("shares drizzle's bookkeeping: what drizzle-kit applied is applied for the runner, which applies only the rest", async () => {
    // drizzle-kit runs every migration in one transaction (drizzle-orm's pg-core/dialect.ts,
    // migrate), where PostgreSQL refuses an online migration's CREATE INDEX CONCURRENTLY.
    await expect(drizzleMigrate(drizzle(t.client), { migrationsFolder: migrationsPath })).rejects.toThrow(/Failed query: -- pa-data: no-transaction/);
    const online = MIGRATIONS.findIndex((m) => !m.transactional);
    for (const m of MIGRATIONS.slice(online)) copy.remove(m.name);
    await drizzleMigrate(drizzle(t.client), { migrationsFolder: copy.dir });
    const before = await catalogFingerprint(t.client);
    const prefix = await migrate(t.client, MIGRATIONS.slice(0, online));
    expect(prefix.appliedNow).toEqual([]);
    // The runner only adds its nullable `name` column when it has something to apply.
    expect(await catalogFingerprint(t.client)).toBe(before);
    const result = await migrate(t.client, MIGRATIONS);
    expect(result.appliedNow.map((m) => m.name)).toEqual(MIGRATIONS.slice(online).map((m) => m.name));
  });
});
