import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { getTableName } from 'drizzle-orm';
import { Client } from 'pg';
import { APP_ENV } from '../common/names';
import { checkPostgres } from '../lib/health/postgres';
import { readMigrations } from '../lib/migrations/files';
import { LOCK_NAME, migrate, MigrationError, PROGRESS_TABLE } from '../lib/migrations/runner';
import { DEMO_SEEDS, REFERENCE_SEEDS, seed } from '../lib/migrations/seeder';
import { connect, parseDatabaseUrl, UserFacingError } from '../lib/postgres/connection';
import { DEMO_DOCUMENTS } from '../schema/seeds/demo';
import { freshDatabase, type TestDatabase } from './helpers/db';
import { MigrationsCopy } from './helpers/migrations-copy';

/**
 * The runner's and the seeder's traps (issue 12), called as the commands call them: on the shared
 * test PostgreSQL, with a real role that lacks rights, a connection that stops answering after
 * the login, and broken seed data.
 */

const MIGRATIONS = readMigrations();
const HISTORY = 'drizzle.__drizzle_migrations';

async function catalogFingerprint(client: Client): Promise<string> {
  const { rows } = await client.query(`
    SELECT md5(string_agg(x, '|' ORDER BY x)) AS f FROM (
      SELECT c.oid::text || c.relname::text || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      UNION ALL SELECT proname::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace) s(x)`);
  return rows[0].f as string;
}

const rejection = (work: Promise<unknown>) => work.then(() => undefined, (e: unknown) => e as Error);

/**
 * A TCP proxy to the database's server that passes everything until freeze(), then nothing: a
 * server that accepted the login and then stopped answering. A client that gives up closes the
 * server's side too.
 */
async function freezingProxy(url: string): Promise<{ url: string; freeze(): void; close(): void }> {
  const target = new URL(url);
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((downstream) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const [from, to] of [[downstream, upstream], [upstream, downstream]] as const) {
      sockets.add(from);
      from.on('data', (chunk) => frozen || to.write(chunk));
      from.on('error', () => undefined);
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(url);
  proxied.port = String((proxy.address() as net.AddressInfo).port);
  return {
    url: proxied.toString(),
    freeze: () => (frozen = true),
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}

describe('a migration that manages its own transaction', () => {
  let t: TestDatabase;
  let copy: MigrationsCopy;
  beforeEach(async () => {
    t = await freshDatabase({ migrated: true });
    copy = new MigrationsCopy();
  });
  afterEach(async () => {
    await t.close();
    copy.cleanup();
  });

  it('is refused before anything runs, naming the file and the line of the COMMIT; the database is untouched', async () => {
    copy.add(
      '9001_commits_halfway',
      [
        'CREATE TABLE lessons (id uuid PRIMARY KEY);',
        "INSERT INTO feature_flags (name) VALUES ('half_done');\nCOMMIT;",
        'INSERT INTO lessons (id) SELECT id FROM teachers;',
      ].join('\n--> statement-breakpoint\n'),
    );
    const before = await catalogFingerprint(t.client);
    const flags = await t.client.query('SELECT count(*)::int AS n FROM feature_flags');
    const error = await rejection((async () => migrate(t.client, readMigrations(copy.dir)))());
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error?.message).toMatch(/\S*9001_commits_halfway\.sql line 4: COMMIT ends the transaction the migration runs in: a later failure/);
    expect(await catalogFingerprint(t.client)).toBe(before);
    expect(await t.client.query('SELECT count(*)::int AS n FROM feature_flags')).toMatchObject({ rows: flags.rows });
    expect(await t.client.query(`SELECT count(*)::int AS n FROM ${HISTORY}`)).toMatchObject({ rows: [{ n: MIGRATIONS.length }] });
  });

  it('is applied when BEGIN and END are only inside a DO block and a function body', async () => {
    copy.add(
      '9001_bodies',
      [
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM feature_flags WHERE name = 'from_do') THEN INSERT INTO feature_flags (name) VALUES ('from_do'); END IF; END $$;",
        "CREATE FUNCTION lesson_count() RETURNS int LANGUAGE plpgsql AS $fn$\nBEGIN\n  RETURN 42;\nEND;\n$fn$;",
        'CREATE FUNCTION lesson_total() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END;',
      ].join('\n--> statement-breakpoint\n'),
    );
    const result = await migrate(t.client, readMigrations(copy.dir));
    expect(result.appliedNow.map((m) => m.name)).toEqual(['9001_bodies']);
    expect(await t.client.query('SELECT lesson_count() AS a, lesson_total() AS b')).toMatchObject({ rows: [{ a: 42, b: 1 }] });
    expect(await t.client.query(`SELECT count(*)::int AS n FROM feature_flags WHERE name = 'from_do'`)).toMatchObject({ rows: [{ n: 1 }] });
  });
});

describe('connected as a role that may not migrate or seed', () => {
  const role = `mig_app_${process.pid}`;
  const password = randomBytes(12).toString('hex');
  let t: TestDatabase;
  let asApp: Client;
  let copy: MigrationsCopy;

  const appUrl = (url: string) => {
    const u = new URL(url);
    u.username = role;
    u.password = password;
    return u.toString();
  };

  beforeAll(async () => {
    const admin = await freshDatabase();
    await admin.client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await admin.close();
  });
  afterAll(async () => {
    const admin = await freshDatabase();
    await admin.client.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.close();
  });
  beforeEach(async () => {
    t = await freshDatabase({ migrated: true });
    copy = new MigrationsCopy().add('9001_lessons', 'CREATE TABLE lessons (id uuid PRIMARY KEY);');
    asApp = await connect(parseDatabaseUrl(appUrl(t.url), 'DATABASE_URL'), 'db:migrate');
  });
  afterEach(async () => {
    await asApp.end();
    await t.client.query(`DROP OWNED BY ${role}`);
    await t.close();
    copy.cleanup();
  });

  const roleMessage = (what: string, serverMessage: string) =>
    `connected as role "${role}", which may not run ${what} (${serverMessage}); `;
  const fix = 'Migrations and seeds run as the migrator, the role that owns database';

  it('migrate says which role it is connected as and to use MIGRATOR_DATABASE_URL, changing nothing', async () => {
    const before = await catalogFingerprint(t.client);
    const error = await rejection(migrate(asApp, readMigrations(copy.dir)));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error?.message).toContain(roleMessage('migrations', 'permission denied for schema drizzle'));
    expect(error?.message).toContain(`${fix} "${new URL(t.url).pathname.slice(1)}" (postgres): set ${APP_ENV.migratorDatabaseUrl} to its URL`);
    expect(await catalogFingerprint(t.client)).toBe(before);
  });

  it('migrate says so too when the role may read the history but not change the schema', async () => {
    // The online migrations' progress as well: the committed migrations include one.
    await t.client.query(`GRANT USAGE ON SCHEMA drizzle TO ${role}; GRANT SELECT ON ${HISTORY}, drizzle.${PROGRESS_TABLE} TO ${role}`);
    const error = await rejection(migrate(asApp, readMigrations(copy.dir)));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error?.message).toContain(roleMessage('migrations', 'must be owner of table __drizzle_migrations'));
    expect(error?.message).toContain(APP_ENV.migratorDatabaseUrl);
  });

  it('migrate says so on an empty database, where it would create the history', async () => {
    const empty = await freshDatabase();
    const client = await connect(parseDatabaseUrl(appUrl(empty.url)), 'db:migrate');
    try {
      const error = await rejection(migrate(client, MIGRATIONS));
      expect(error).toBeInstanceOf(MigrationError);
      expect(error?.message).toMatch(new RegExp(`^connected as role "${role}", which may not run migrations \\(permission denied for database \\w+\\); nothing was changed`));
    } finally {
      await client.end();
      await empty.close();
    }
  });

  it('seed says so, for the history and for a table, inserting nothing', async () => {
    const first = await rejection(seed(asApp, MIGRATIONS));
    expect(first).toBeInstanceOf(MigrationError);
    expect(first?.message).toContain(roleMessage('seeds', 'permission denied for schema drizzle'));
    await t.client.query(`GRANT USAGE ON SCHEMA drizzle TO ${role}; GRANT SELECT ON ${HISTORY} TO ${role}`);
    const second = await rejection(seed(asApp, MIGRATIONS));
    expect(second).toBeInstanceOf(MigrationError);
    expect(second?.message).toContain(`${roleMessage('seeds', 'permission denied for table ai_providers')}nothing was seeded. ${fix}`);
    expect(await t.client.query('SELECT count(*)::int AS n FROM ai_providers')).toMatchObject({ rows: [{ n: 0 }] });
  });
});

describe('a server that stops answering after the login', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase();
  });
  afterEach(() => t.close());

  it('migrate gives up within its bound, naming the server, and changes nothing', async () => {
    const proxy = await freezingProxy(t.url);
    const target = parseDatabaseUrl(proxy.url, 'MIGRATOR_DATABASE_URL');
    const client = await connect(target, 'db:migrate');
    try {
      proxy.freeze();
      const started = Date.now();
      const error = await rejection(migrate(client, MIGRATIONS, { queryTimeoutSeconds: 1 }));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(MigrationError);
      expect(error?.message).toBe(
        `PostgreSQL at ${target.display} gave no answer within 1 s to one of the runner's own queries (--query-timeout); the ` +
          "connection was closed, and no migration was being applied. Check the server's load and logs, then run db:migrate again.",
      );
    } finally {
      await client.end();
      proxy.close();
    }
    expect(await t.client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'drizzle'`)).toMatchObject({ rowCount: 0 });
  });

  it('seed gives up within its bound too', async () => {
    await migrate(t.client, MIGRATIONS);
    const proxy = await freezingProxy(t.url);
    const target = parseDatabaseUrl(proxy.url, 'MIGRATOR_DATABASE_URL');
    const client = await connect(target, 'db:seed');
    try {
      proxy.freeze();
      const started = Date.now();
      const error = await rejection(seed(client, MIGRATIONS, { queryTimeoutSeconds: 1 }));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error?.message).toMatch(new RegExp(`^PostgreSQL at ${target.display.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} gave no answer within 1 s while seeding`));
    } finally {
      await client.end();
      proxy.close();
    }
  });

  it('a statement of a migration is bounded separately, and cutting it rolls the migration back', async () => {
    const copy = new MigrationsCopy().add('9001_slow', 'CREATE TABLE lessons (id uuid PRIMARY KEY);\n--> statement-breakpoint\nSELECT pg_sleep(3);');
    const client = await connect(parseDatabaseUrl(t.url), 'db:migrate slow');
    try {
      const started = Date.now();
      const error = await rejection(migrate(client, readMigrations(copy.dir), { migrationQueryTimeoutSeconds: 1, ddlLockTimeoutSeconds: 0.5 }));
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(error).toBeInstanceOf(MigrationError);
      expect(error?.message).toMatch(/gave no answer within 1 s to statement 2 of 2 \(line 3\) of \S*9001_slow\.sql \(--migration-query-timeout\)/);
      expect(error?.message).toContain('nothing of 9001_slow is committed');
    } finally {
      await client.end();
      copy.cleanup();
    }
    // The backend sleeps on, then finds its client gone and rolls back.
    for (let i = 0; i < 100; i++) {
      const { rowCount } = await t.client.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'db:migrate slow'`);
      if (rowCount === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await t.client.query(`SELECT to_regclass('public.lessons') AS t`)).toMatchObject({ rows: [{ t: null }] });
    const names = (await t.client.query(`SELECT name FROM ${HISTORY} ORDER BY id`)).rows.map((r) => r.name);
    expect(names).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('refuses a migration bound no longer than the DDL lock timeout', async () => {
    const error = await rejection(migrate(t.client, MIGRATIONS, { migrationQueryTimeoutSeconds: 10, ddlLockTimeoutSeconds: 10 }));
    expect(error?.message).toContain('--migration-query-timeout (10 s) must be longer than --ddl-lock-timeout (10 s)');
  });
});

describe('the history', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase({ migrated: true });
  });
  afterEach(() => t.close());

  it('names a migration recorded twice, in the runner and in the health check, instead of counting it twice', async () => {
    await t.client.query(`INSERT INTO ${HISTORY} (hash, created_at, name) SELECT hash, created_at, name FROM ${HISTORY} WHERE name = '0001_schema'`);
    const ids = (await t.client.query(`SELECT id FROM ${HISTORY} WHERE name = '0001_schema' ORDER BY id`)).rows.map((r) => r.id);
    const duplicate = `0001_schema is recorded 2 times in drizzle.__drizzle_migrations (ids ${ids.join(', ')})`;

    const error = await rejection(migrate(t.client, MIGRATIONS));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error?.message).toContain(`refusing to migrate, nothing was changed:\n  - ${duplicate}`);
    expect(error?.message).toContain(`DELETE FROM "drizzle"."__drizzle_migrations" WHERE id IN (${ids[1]});`);
    const dryRun = await rejection(migrate(t.client, MIGRATIONS, { dryRun: true }));
    expect(dryRun?.message).toContain(duplicate);

    const health = await checkPostgres({ [APP_ENV.migratorDatabaseUrl]: t.url });
    const row = health.rows.find((r) => r.check === 'migrations');
    expect(row).toMatchObject({ ok: false, detail: expect.stringContaining(`the history does not match the migration files: ${duplicate}`) });
    expect(row?.detail).not.toContain(`${MIGRATIONS.length + 1} applied`);
  });

  it('the health check still counts each applied migration once when all is well', async () => {
    const health = await checkPostgres({ [APP_ENV.migratorDatabaseUrl]: t.url });
    expect(health.rows.find((r) => r.check === 'migrations')).toMatchObject({ ok: true, detail: `${MIGRATIONS.length} applied, none pending` });
  });
});

describe("the runner's and the seeder's messages", () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase({ migrated: true });
  });
  afterEach(() => t.close());

  it('say "1 statement", not "1 statements"', async () => {
    const copy = new MigrationsCopy().add('9001_one', 'CREATE TABLE lessons (id uuid PRIMARY KEY);').add('9002_two', 'SELECT 1;\n--> statement-breakpoint\nSELECT 2;');
    const lines: string[] = [];
    try {
      await migrate(t.client, readMigrations(copy.dir), { log: (line) => lines.push(line) });
    } finally {
      copy.cleanup();
    }
    expect(lines).toEqual([expect.stringMatching(/^applied 9001_one \(1 statement, \d+ ms\)$/), expect.stringMatching(/^applied 9002_two \(2 statements, \d+ ms\)$/)]);
  });

  it('name the holder of the lock as a PostgreSQL session: backend pid, application_name, client address', async () => {
    const holder = new Client({ connectionString: t.url, application_name: 'other-deploy' });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [LOCK_NAME]);
      const pid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const session = `PostgreSQL session (backend pid ${pid}, role postgres, application_name "other-deploy", client 127.0.0.1)`;
      const lines: string[] = [];
      const error = await rejection(migrate(t.client, MIGRATIONS, { lockTimeoutSeconds: 0.3, log: (line) => lines.push(line) }));
      expect(lines).toEqual([`waiting up to 0.3 s for another migration run to finish: its ${session} holds the migration lock`]);
      expect(error?.message).toBe(
        `another migration run held the lock for over 0.3 s (its ${session}); nothing was changed. Wait for it, or raise --lock-timeout. ` +
          `What it is doing: SELECT state, query FROM pg_stat_activity WHERE pid = ${pid};`,
      );
    } finally {
      await holder.end();
    }
  });

  it('a failed demo seed names the table, the row and the server\'s message, never the row\'s values, and inserts nothing', async () => {
    await t.client.query('ALTER TABLE documents ADD CONSTRAINT reject_demo CHECK (false) NOT VALID');
    const error = await rejection(seed(t.client, MIGRATIONS, { demo: true }));
    expect(error).toBeInstanceOf(MigrationError);
    const first = DEMO_DOCUMENTS[0];
    expect(error?.message).toBe(
      `seeding table documents failed at row 1 of ${DEMO_DOCUMENTS.length} (id "${first.id}"): new row for relation "documents" ` +
        'violates check constraint "reject_demo" (constraint reject_demo); nothing was seeded (the seed runs in one transaction, rolled back).',
    );
    for (const doc of DEMO_DOCUMENTS) {
      expect(error?.message).not.toContain(doc.title);
      expect(error?.message).not.toContain(doc.content?.slice(0, 40));
    }
    expect(await t.client.query('SELECT count(*)::int AS n FROM ai_providers')).toMatchObject({ rows: [{ n: 0 }] });
  });
});

describe('seed', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase({ migrated: true });
  });
  afterEach(() => t.close());

  it('inserts the missing rows, one transaction, and a second run inserts none', async () => {
    const sets = [...REFERENCE_SEEDS, ...DEMO_SEEDS];
    const first = await seed(t.client, MIGRATIONS, { demo: true });
    expect(first).toEqual(sets.map((s) => ({ table: getTableName(s.table), inserted: s.rows.length, alreadyPresent: 0 })));
    const second = await seed(t.client, MIGRATIONS, { demo: true });
    expect(second).toEqual(sets.map((s) => ({ table: getTableName(s.table), inserted: 0, alreadyPresent: s.rows.length })));
    expect(await t.client.query('SELECT count(*)::int AS n FROM documents')).toMatchObject({ rows: [{ n: DEMO_DOCUMENTS.length }] });
  });
});
