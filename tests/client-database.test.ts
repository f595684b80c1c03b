import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { Client } from 'pg';
// The errors as a service imports them: from the module, which re-exports the shared ones of client/errors.ts.
import {
  ClientError,
  connectDatabase,
  DatabaseBehindError,
  DatabaseUnavailableError,
  InvalidArgumentError,
  InvalidVariableError,
  MigratorLoginError,
  MissingVariableError,
  QueryTimeoutError,
  type Database,
  type DatabaseOptions,
} from '../client/database';
import { APP_ENV, DATABASE_NAME } from '../common/names';
import { ROOT } from '../common/paths';
import { readMigrations, type Migration } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { documents, users } from '../schema';
import journal from '../schema/migrations/meta/_journal.json';
import { pgbouncerSettingsOf } from '../stacks/containers/pgbouncer-settings';
import { scramSha256Secret } from '../stacks/scram';
import { startPgbouncer, type PgbouncerServer } from './helpers/pgbouncer';
import { withClient } from './helpers/db';
import { adminQuery, createDatabase, freePort, startPostgres, type PostgresServer } from './helpers/postgres';
import { committedStackConfig } from './helpers/stack-files';
import { createStackRoles, type StackRoles } from './helpers/stack-roles';

/**
 * client/database.ts on real servers: a PostgreSQL 15 of this file's own, holding the stack's
 * database (its own name, so that PgBouncer's [databases] entry is the stack's), migrated by the
 * stack's migrator with the project's migrations, with the stack's roles and grants (namespaced, as
 * on a shared server); and Debian's PgBouncer started from the dev stack's pgbouncer.ini and user
 * list, its SCRAM secrets computed as the stack computes them (tests/helpers/pgbouncer.ts).
 */

jest.setTimeout(30_000);

let server: PostgresServer;
let bouncer: PgbouncerServer;
let stack: StackRoles;
/** DATABASE_URL, DIRECT_DATABASE_URL and MIGRATOR_DATABASE_URL, as `npm run env` writes them into `.env.<stack>`. */
let env: Record<string, string>;
const adminUrl = () => server.url(DATABASE_NAME);

beforeAll(async () => {
  server = await startPostgres();
  await adminQuery(server, `CREATE DATABASE ${DATABASE_NAME} TEMPLATE template0 ENCODING 'UTF8'`);
  stack = await createStackRoles(adminUrl(), `client_db_${process.pid}`);
  // As the stack does (stacks/scram.ts): PostgreSQL and PgBouncer hold the same SCRAM secret, never the password.
  const secret = scramSha256Secret(stack.password, randomBytes(16).toString('base64'));
  for (const key of ['app', 'readonly'] as const) await adminQuery(server, `ALTER ROLE "${stack.roles[key]}" PASSWORD '${secret}'`);
  const migrator = await connect(parseDatabaseUrl(stack.urlAs(adminUrl(), 'migrator')), 'db:migrate');
  try {
    await migrate(migrator, readMigrations());
  } finally {
    await migrator.end();
  }
  const dev = committedStackConfig('dev');
  bouncer = await startPgbouncer(
    {
      postgres: server,
      logins: [stack.roles.app, stack.roles.readonly].map((user) => ({ user, scramSecret: secret })),
      settings: pgbouncerSettingsOf(dev),
    },
    { user: stack.roles.app, password: stack.password },
  );
  env = {
    [APP_ENV.databaseUrl]: bouncer.url(stack.roles.app, stack.password),
    [APP_ENV.directDatabaseUrl]: stack.urlAs(adminUrl(), 'app'),
    [APP_ENV.migratorDatabaseUrl]: stack.urlAs(adminUrl(), 'migrator'),
  };
});

afterAll(async () => {
  await bouncer?.stop();
  await server?.stop();
});

/** The module as a service opens it, with this file's variables; closed after the test. */
const opened: Database[] = [];
async function open(options: DatabaseOptions = {}): Promise<Database> {
  const database = await connectDatabase({ env, applicationName: 'client-database-test', ...options });
  opened.push(database);
  return database;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

/** The first error of a promise that must fail. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  if (!outcome) throw new Error('expected a failure, and it succeeded');
  return outcome;
}

/** The chain of causes of an error (Drizzle wraps the driver's error as `cause`). */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/** The server's sessions running `text`, as the superuser sees them. */
async function running(text: string): Promise<number> {
  const admin = new Client({ connectionString: server.url() });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`, [`%${text}%`]);
    return rows[0].n;
  } finally {
    await admin.end();
  }
}

/** Waits until `check` holds, for at most `ms`. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a service writes a document with its user through PgBouncer, outlives a PgBouncer restart, and another process reads it back', async () => {
  const email = `service-${process.pid}@example.com`;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tests/helpers/database-service.ts'), email, 'Written through PgBouncer'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const next = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const wake of next) wake();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = async (n: number) => {
    while (lines.length < n) {
      if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}): ${stderr}`);
      await new Promise<void>((resolve) => {
        next.add(resolve);
        setTimeout(resolve, 100);
      });
    }
    return JSON.parse(lines[n - 1]) as Record<string, string>;
  };
  const written = await line(1);
  // The service's idle connection dies with PgBouncer: a warning, not a crash; its next query opens another.
  await bouncer.restart({ signal: 'SIGTERM' });
  child.stdin.write('read\n');
  expect(await line(2)).toEqual({ title: 'Written through PgBouncer' });
  child.stdin.end();
  expect(await closed).toBe(0);
  expect(stderr).toMatch(
    new RegExp(
      `^\\(node:\\d+\\) \\[PA_DATABASE_CONNECTION_LOST\\] Warning: lost a connection to PostgreSQL at postgresql://${stack.roles.app}@127\\.0\\.0\\.1:${bouncer.port}/` +
        `${DATABASE_NAME} \\(from DATABASE_URL\\): .+; the pool has dropped it and opens another when needed\\n`,
    ),
  );
  expect(stderr).not.toContain(stack.password);

  // Read back on another pool: this process, straight to PostgreSQL, through db.query and the relations.
  const direct = await open({ connection: 'direct' });
  const document = await direct.db.query.documents.findFirst({ where: eq(documents.id, written.documentId), with: { owner: true } });
  expect(document).toMatchObject({ id: written.documentId, title: 'Written through PgBouncer', content: 'Written by a service.', status: 'UPLOADING' });
  expect(document?.owner).toMatchObject({ id: written.userId, email });
  expect(direct.target).toBe(`postgres://${stack.roles.app}@127.0.0.1:${server.port}/${DATABASE_NAME} (from ${APP_ENV.directDatabaseUrl})`);
});

describe('the start-up check names each mistake, and leaves no connection open', () => {
  /** Sessions on the server of `applicationName` (PgBouncer passes application_name on). */
  const sessions = async (applicationName: string) => {
    const admin = new Client({ connectionString: server.url() });
    await admin.connect();
    try {
      return (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])).rows[0].n;
    } finally {
      await admin.end();
    }
  };

  test('a variable missing', async () => {
    const pooled = await failure(connectDatabase({ env: { [APP_ENV.directDatabaseUrl]: env[APP_ENV.directDatabaseUrl] } }));
    expect(pooled).toBeInstanceOf(MissingVariableError);
    expect(pooled).toMatchObject({ code: 'MISSING_VARIABLE', variable: 'DATABASE_URL' });
    expect(pooled.message).toMatch(/^DATABASE_URL is not set: it holds the app role's login through PgBouncer \(the stack's databaseUrl output\)\. .*npm run env -- --stack <stack>/);
    const direct = await failure(connectDatabase({ connection: 'direct', env: { [APP_ENV.databaseUrl]: env[APP_ENV.databaseUrl] } }));
    expect(direct).toMatchObject({ code: 'MISSING_VARIABLE', variable: 'DIRECT_DATABASE_URL' });
  });

  test('a variable that is no PostgreSQL URL, named without its value', async () => {
    const password = 'Pa55-not-to-be-shown';
    for (const [value, why] of [
      [`mysql://app:${password}@127.0.0.1:3306/${DATABASE_NAME}`, /^DATABASE_URL must start with postgres:\/\/ or postgresql:\/\/, not mysql:\/\/$/],
      [`postgresql://app:${password}@127.0.0.1:${bouncer.port}`, /^DATABASE_URL names no database: put it after the host and port/],
      [`postgresql://app:${password}%zz@127.0.0.1/${DATABASE_NAME}`, /^DATABASE_URL is not a valid URL \(its value is not shown: it may hold a password\): a "%" in it/],
    ] as const) {
      const error = await failure(connectDatabase({ env: { DATABASE_URL: value } }));
      expect(error).toBeInstanceOf(InvalidVariableError);
      expect(error).toMatchObject({ code: 'INVALID_VARIABLE', variable: 'DATABASE_URL' });
      expect(error.message).toMatch(why);
      expect(error.message).not.toContain(password);
    }
  });

  test('an option out of range', async () => {
    for (const [options, name] of [
      [{ poolSize: 0 }, 'poolSize'],
      [{ statementTimeoutMs: 0 }, 'statementTimeoutMs'],
      [{ connection: 'session' as never }, 'connection'],
      [{ applicationName: 'é' }, 'applicationName'],
    ] as const) {
      const error = await failure(connectDatabase({ env, ...options }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', argument: name });
    }
  });

  test('a wrong password and a server that is not there, without the password', async () => {
    const wrong = bouncer.url(stack.roles.app, 'Wrong-Pa55word');
    const refused = await failure(connectDatabase({ env: { DATABASE_URL: wrong }, applicationName: 'wrong-password' }));
    expect(refused).toBeInstanceOf(DatabaseUnavailableError);
    expect(refused.message).toBe(
      `cannot connect to PostgreSQL at postgresql://${stack.roles.app}@127.0.0.1:${bouncer.port}/${DATABASE_NAME} (from DATABASE_URL): SASL authentication failed: ` +
        'the password is wrong, or PgBouncer has no login for this role (only the app and read-only roles log in through it)',
    );
    const port = await freePort();
    const gone = await failure(connectDatabase({ env: { DATABASE_URL: `postgresql://app:Secret-Pa55@127.0.0.1:${port}/${DATABASE_NAME}` } }));
    expect(gone).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect(gone.message).toContain(`connection refused: is the server running and listening on 127.0.0.1:${port}?`);
    expect(gone.message).not.toContain('Secret-Pa55');
  });

  test("the migrator's login, or a superuser's, judged by ownership and not by the role's name", async () => {
    const migrator = await failure(connectDatabase({ env: { DATABASE_URL: env[APP_ENV.migratorDatabaseUrl] }, applicationName: 'migrator-as-app' }));
    expect(migrator).toBeInstanceOf(MigratorLoginError);
    expect(migrator).toMatchObject({ code: 'MIGRATOR_LOGIN', role: stack.roles.migrator, owner: stack.roles.migrator });
    expect(migrator.message).toBe(
      `DATABASE_URL logs in as role "${stack.roles.migrator}", the owner of database "${DATABASE_NAME}", which may change its schema: that is the ` +
        "migrator's login (MIGRATOR_DATABASE_URL), for db:migrate and db:seed only. Set DATABASE_URL to the stack's databaseUrl output, " +
        'the app role (`npm run env -- --stack <stack>` writes it).',
    );
    expect(migrator.message).not.toContain(stack.password);
    const superuser = await failure(connectDatabase({ connection: 'direct', env: { DIRECT_DATABASE_URL: adminUrl() }, applicationName: 'superuser-as-app' }));
    expect(superuser).toMatchObject({ code: 'MIGRATOR_LOGIN', role: 'postgres', owner: stack.roles.migrator });
    expect(superuser.message).toMatch(
      new RegExp(`^DIRECT_DATABASE_URL logs in as role "postgres", a superuser or a member of "${stack.roles.migrator}", the owner of database .* Set DIRECT_DATABASE_URL to the stack's directDatabaseUrl output`),
    );
    expect(superuser.message).not.toContain(server.password);
    // Not every role but the app's: the read-only one passes the check (its writes fail on privileges, not here).
    const readonly = await open({ env: { DATABASE_URL: bouncer.url(stack.roles.readonly, stack.password) } });
    expect((await readonly.db.execute(sql`SELECT current_user AS role`)).rows).toEqual([{ role: stack.roles.readonly }]);
    // A refused start-up closed its pool: nothing of it is left on the server.
    expect(await until(async () => (await sessions('migrator-as-app')) + (await sessions('superuser-as-app')) === 0, 2000)).toBe(true);
  });

  test('the app role gets 42501 reading the migration history itself: it reads it through public.applied_migrations()', async () => {
    const database = await open();
    const error = await failure(database.db.execute(sql`SELECT count(*) FROM drizzle.__drizzle_migrations`));
    expect(causes(error).map((e) => (e as { code?: string }).code)).toContain('42501');
  });
});

describe("the start-up check compares the database's migration history with the code's migrations", () => {
  const MIGRATION_0008 = '0008_applied_migrations';
  const everyTag = journal.entries.map((e) => e.tag);
  /** What every DatabaseBehindError ends with: the fix. */
  const fix =
    'Apply the migrations before starting the service: `pulumi up --stack <stack>` (its post-deploy step migrates), or `npm run db:migrate` ' +
    "from a checkout of this code's version, as the migrator (MIGRATOR_DATABASE_URL, the stack's migratorDatabaseUrl output).";

  /**
   * A database of its own on this file's server, owned and granted as the stack's, that the stack's
   * migrator has migrated with `migrations` (none: never migrated); the app role's direct login to it.
   */
  async function databaseWith(migrations: Migration[]): Promise<{ admin: string; migrator: string; app: string; display: string }> {
    const admin = await createDatabase(server, 'client_db_history');
    await stack.grantDatabase(admin);
    await stack.grantSchema(admin);
    const migrator = stack.urlAs(admin, 'migrator');
    if (migrations.length > 0) await withClient(migrator, (c) => migrate(c, migrations).then(() => undefined));
    const url = new URL(admin);
    return { admin, migrator, app: stack.urlAs(admin, 'app'), display: `postgres://${stack.roles.app}@127.0.0.1:${server.port}${url.pathname} (from DIRECT_DATABASE_URL)` };
  }
  const openDirect = (app: string, applicationName: string) => connectDatabase({ connection: 'direct', env: { DIRECT_DATABASE_URL: app }, applicationName });
  const migrationsBefore = (name: string) => readMigrations().slice(0, readMigrations().findIndex((m) => m.name === name));

  test("the happy path: every migration applied, the service starts; the app role reads the journal's times and nothing else", async () => {
    const database = await open();
    const { rows, fields } = await database.db.execute(sql`SELECT * FROM public.applied_migrations() AS history(created_at)`);
    expect(fields.map((f) => f.name)).toEqual(['created_at']);
    expect(rows.map((r) => Number(r.created_at))).toEqual(journal.entries.map((e) => e.when));
    // Run as its owner, the migrator that applied it, with a search_path of its own.
    const owner = await withClient(adminUrl(), async (c) =>
      (await c.query(`SELECT pg_get_userbyid(proowner) AS owner, prosecdef, proconfig FROM pg_proc WHERE oid = 'public.applied_migrations()'::regprocedure`)).rows[0],
    );
    expect(owner).toEqual({ owner: stack.roles.migrator, prosecdef: true, proconfig: ['search_path=pg_catalog, pg_temp'] });
  });

  test('behind: a database migrated up to 0007 only has no history to read, says so, and starts once migrated', async () => {
    const upTo0007 = migrationsBefore(MIGRATION_0008);
    expect(upTo0007.at(-1)?.name).toBe('0007_public_head_search_per_field');
    const { migrator, app, display } = await databaseWith(upTo0007);
    const error = await failure(openDirect(app, 'behind-0007'));
    expect(error).toBeInstanceOf(DatabaseBehindError);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: 'DATABASE_BEHIND', name: 'DatabaseBehindError', historyReadable: false, missing: everyTag, target: display });
    expect(error.message).toBe(
      `no migration history readable at ${display}: migrate first. The database has no function public.applied_migrations(), which migration ` +
        `${MIGRATION_0008} creates for services to read its history: it was never migrated, or not since before ${MIGRATION_0008}. ${fix}`,
    );
    expect(error.message).not.toContain(stack.password);
    expect((error as Error & { cause?: { code?: string } }).cause?.code).toBe('42883');
    // The fix the message names: the migrator applies the rest, and the service starts.
    await withClient(migrator, (c) => migrate(c, readMigrations()).then(() => undefined));
    const database = await openDirect(app, 'behind-0007-migrated');
    opened.push(database);
    expect((await database.db.execute(sql`SELECT count(*)::int AS n FROM public.applied_migrations()`)).rows).toEqual([{ n: journal.entries.length }]);
  });

  test('behind: code newer than the database (a migration of its journal not applied there) is named, with the fix', async () => {
    // The service's code as the next release will have it: the committed journal and one migration more.
    const later = { idx: journal.entries.length, version: '7', when: journal.entries[journal.entries.length - 1].when + 1000, tag: '0099_from_newer_code', breakpoints: true };
    let newer!: typeof import('../client/database');
    jest.isolateModules(() => {
      jest.doMock('../schema/migrations/meta/_journal.json', () => ({ ...journal, entries: [...journal.entries, later] }));
      newer = require('../client/database') as typeof import('../client/database');
    });
    jest.dontMock('../schema/migrations/meta/_journal.json');
    const error = await failure(newer.connectDatabase({ env, applicationName: 'newer-code' }));
    const display = `postgresql://${stack.roles.app}@127.0.0.1:${bouncer.port}/${DATABASE_NAME} (from DATABASE_URL)`;
    // The class of that module registry, not this file's import.
    expect(error).toBeInstanceOf(newer.DatabaseBehindError);
    expect(error).toMatchObject({ code: 'DATABASE_BEHIND', historyReadable: true, missing: ['0099_from_newer_code'], target: display });
    expect(error.message).toBe(`the database at ${display} is behind this code: it lacks 1 migration of the code's (0099_from_newer_code). ${fix}`);
    expect(error.message).not.toContain(stack.password);
  });

  test('no history at all: a database never migrated, and one whose history table is gone, each said distinctly', async () => {
    const never = await databaseWith([]);
    const error = await failure(openDirect(never.app, 'never-migrated'));
    expect(error).toBeInstanceOf(DatabaseBehindError);
    expect(error).toMatchObject({ code: 'DATABASE_BEHIND', historyReadable: false, missing: everyTag });
    expect(error.message).toMatch(/^no migration history readable at .*: migrate first\. The database has no function public\.applied_migrations\(\)/);

    const lost = await databaseWith(readMigrations());
    await withClient(lost.admin, (c) => c.query('DROP SCHEMA drizzle CASCADE'));
    const gone = await failure(openDirect(lost.app, 'history-gone'));
    expect(gone).toMatchObject({ code: 'DATABASE_BEHIND', historyReadable: false, missing: everyTag });
    expect(gone.message).toBe(
      `no migration history readable at ${lost.display}: migrate first. Its history table drizzle.__drizzle_migrations is gone (public.applied_migrations() ` +
        'reads it). If the schema is still there, `npm run db:baseline` records the history again instead (README, "Adopting an existing database"). ' +
        fix,
    );
    expect((gone as Error & { cause?: { code?: string } }).cause?.code).toBe('42P01');
  });

  test('ahead: a migration the code does not know (an older service during a rolling deploy) does not stop it', async () => {
    const ahead = await databaseWith(readMigrations());
    const newer = journal.entries[journal.entries.length - 1].when + 1000;
    await withClient(ahead.migrator, (c) =>
      c.query(`INSERT INTO drizzle.__drizzle_migrations (hash, created_at, name) VALUES ($1, $2, '0099_from_newer_code')`, ['0'.repeat(64), newer]),
    );
    const database = await openDirect(ahead.app, 'ahead');
    opened.push(database);
    const { rows } = await database.db.execute(sql`SELECT created_at FROM public.applied_migrations() AS history(created_at)`);
    expect(rows.map((r) => Number(r.created_at))).toEqual([...journal.entries.map((e) => e.when), newer]);
  });
});

describe('through PgBouncer, no session state and a bound on every wait', () => {
  test('a statement over the timeout in db.transaction() is stopped by the server, and the connection stays usable', async () => {
    const database = await open({ statementTimeoutMs: 300, poolSize: 1 });
    const started = Date.now();
    const error = await failure(database.db.transaction((tx) => tx.execute(sql`SELECT pg_sleep(5) AS stopped_in_transaction`)));
    const elapsed = Date.now() - started;
    // The server's own statement_timeout (SET LOCAL), before the client-side bound (300 + 1000 ms).
    expect(causes(error).map((e) => (e as { code?: string }).code)).toContain('57014');
    expect(elapsed).toBeLessThan(1300);
    expect(await running('stopped_in_transaction')).toBe(0);
    // The same connection answers the next query, outside the transaction, where the SET LOCAL no longer holds.
    expect((await database.db.execute(sql`SELECT current_setting('statement_timeout') AS t`)).rows).toEqual([{ t: '0' }]);
    expect(database.pool.totalCount).toBe(1);
  });

  test('a direct connection carries the timeout into every statement: the server stops a single one too', async () => {
    const database = await open({ connection: 'direct', statementTimeoutMs: 300, poolSize: 1 });
    const started = Date.now();
    const error = await failure(database.db.execute(sql`SELECT pg_sleep(5) AS stopped_direct`));
    expect(causes(error).map((e) => (e as { code?: string }).code)).toContain('57014');
    expect(Date.now() - started).toBeLessThan(1300);
    expect(await running('stopped_direct')).toBe(0);
    expect((await database.db.execute(sql`SELECT current_setting('statement_timeout') AS t`)).rows).toEqual([{ t: '300ms' }]);
  });

  test('a single statement over the timeout is cut on the client side, and the pool goes on', async () => {
    const database = await open({ statementTimeoutMs: 300, poolSize: 1 });
    const started = Date.now();
    const error = await failure(database.db.execute(sql`SELECT pg_sleep(3) AS cut_by_client`));
    const elapsed = Date.now() - started;
    const timeout = causes(error).find((e) => e instanceof QueryTimeoutError) as QueryTimeoutError;
    expect(timeout).toMatchObject({ code: 'QUERY_TIMEOUT', timeoutMs: 1300 });
    expect(timeout.message).toMatch(/^PostgreSQL at postgresql:\/\/.*@127\.0\.0\.1:\d+\/pronunciation_assistant \(from DATABASE_URL\) gave no answer within 1300 ms; the connection was closed\./);
    expect(elapsed).toBeGreaterThanOrEqual(1300);
    expect(elapsed).toBeLessThan(2500);
    expect((await database.db.execute(sql`SELECT 1 AS ok`)).rows).toEqual([{ ok: 1 }]);
  });

  test('PgBouncer refuses a statement_timeout sent at login, which is why the module sends none', async () => {
    for (const login of [{ statement_timeout: 1000 }, { options: '-c statement_timeout=1000' }]) {
      const client = new Client({ connectionString: env[APP_ENV.databaseUrl], ...login });
      client.on('error', () => undefined);
      const error = await failure(client.connect());
      await client.end().catch(() => undefined);
      expect(error.message).toMatch(/^unsupported startup parameter: (statement_timeout|options)$/);
    }
  });

  test("a transaction whose BEGIN gets no answer gives its connection back (Drizzle's transaction() would keep it)", async () => {
    const database = await open({ statementTimeoutMs: 300, poolSize: 1 });
    await database.db.execute(sql`SELECT 1`);
    process.kill(bouncer.pid, 'SIGSTOP');
    let error: Error;
    try {
      error = await failure(database.db.transaction((tx) => tx.execute(sql`SELECT 1`)));
    } finally {
      process.kill(bouncer.pid, 'SIGCONT');
    }
    expect(causes(error).some((e) => e instanceof QueryTimeoutError)).toBe(true);
    // A pool of one: were the connection still checked out, this would wait for it and fail after connect_timeout (5 s).
    const started = Date.now();
    expect((await database.db.execute(sql`SELECT 2 AS again`)).rows).toEqual([{ again: 2 }]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test("a transaction whose BEGIN the server refuses gives its connection back (Drizzle's transaction() would keep it)", async () => {
    // A BEGIN that gets an ErrorResponse on a healthy connection: Drizzle writes isolationLevel into
    // BEGIN as it is (node_modules/drizzle-orm/pg-core/session.cjs, getTransactionConfigSQL), so a
    // misspelt one, as a JavaScript service can pass, is a syntax error (42601). A hot standby refuses
    // accessMode 'read write' at BEGIN the same way (25006).
    for (const connection of ['pooled', 'direct'] as const) {
      const database = await open({ connection, poolSize: 1 });
      const refused = await failure(database.db.transaction((tx) => tx.execute(sql`SELECT 1`), { isolationLevel: 'repeatable_read' as never }));
      expect(causes(refused).map((e) => (e as { code?: string }).code)).toContain('42601');
      // A pool of one: were the connection still checked out, this would wait for it and fail after connect_timeout (5 s).
      const started = Date.now();
      expect((await database.db.execute(sql`SELECT 3 AS after_refused_begin`)).rows).toEqual([{ after_refused_begin: 3 }]);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await database.db.transaction((tx) => tx.execute(sql`SELECT 'again' AS t`)).then((r) => r.rows)).toEqual([{ t: 'again' }]);
      expect(database.pool.totalCount).toBe(1);
      expect(database.pool.idleCount).toBe(1);
    }
  });

  test('a connection given back inside a transaction is closed, not handed to the next query', async () => {
    const database = await open({ poolSize: 1 });
    const held = await database.pool.connect();
    await held.query('BEGIN');
    await held.query("SET LOCAL application_name = 'left-in-a-transaction'");
    held.release();
    const { rows } = await database.db.execute(sql`SELECT current_setting('application_name') AS name, now() = statement_timestamp() AS own_transaction`);
    expect(rows).toEqual([{ name: 'client-database-test', own_transaction: true }]);
  });

  test("Drizzle's named prepared statements run on whichever server PgBouncer hands out", async () => {
    const holders: Client[] = [];
    /**
     * PgBouncer hands out the server released last first (the runner's assertOwnSession relies on
     * it too): a transaction left open on another connection takes that server, and the next query
     * gets another one.
     */
    const takeLastServer = async () => {
      const holder = new Client({ connectionString: env[APP_ENV.databaseUrl] });
      holders.push(holder);
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT 1');
    };
    const plain = new Client({ connectionString: env[APP_ENV.databaseUrl] });
    try {
      // What the module prevents: pg, given a name, sends Bind alone the second time on a connection.
      await plain.connect();
      await plain.query({ name: 'probe', text: 'SELECT 1' });
      await takeLastServer();
      expect(await failure(plain.query({ name: 'probe', text: 'SELECT 1' }))).toMatchObject({ code: '26000', message: 'prepared statement "probe" does not exist' });

      const database = await open({ poolSize: 1 });
      const byEmail = database.db.select({ id: users.id }).from(users).where(eq(users.email, sql.placeholder('email'))).prepare('user_by_email');
      expect(await byEmail.execute({ email: 'nobody@example.com' })).toEqual([]);
      await takeLastServer();
      expect(await byEmail.execute({ email: 'nobody@example.com' })).toEqual([]);
    } finally {
      await Promise.all([plain, ...holders].map((c) => c.end().catch(() => undefined)));
    }
  });

  test('the pool outlives a PgBouncer restart: no crash, no unhandled error, the next queries succeed', async () => {
    const lost: Error[] = [];
    const database = await open({ poolSize: 3, onConnectionLost: (error) => lost.push(error) });
    // Three connections: one left idle in the pool, one held by the service, one in a transaction.
    await Promise.all([1, 2, 3].map((n) => database.db.execute(sql`SELECT ${n}::int, pg_sleep(0.05)`)));
    const held = await database.pool.connect();
    let proceed!: () => void;
    const gate = new Promise<void>((resolve) => (proceed = resolve));
    let begun!: () => void;
    const inTransaction = new Promise<void>((resolve) => (begun = resolve));
    const transaction = database.db
      .transaction(async (tx) => {
        await tx.execute(sql`SELECT 1`);
        begun();
        await gate;
        return tx.execute(sql`SELECT 2`);
      })
      .then(
        () => 'committed',
        () => 'failed',
      );
    await inTransaction;
    await bouncer.restart({
      // As `docker restart` does: SIGTERM, PgBouncer's immediate shutdown.
      signal: 'SIGTERM',
      whileDown: async () => {
        // While it is down, a query fails (it is not queued for later).
        await failure(database.db.execute(sql`SELECT 1`));
      },
    });
    proceed();
    expect(await transaction).toBe('failed');
    expect(() => held.release()).not.toThrow();
    // The idle connection and the held one were reported; the transaction's failed its own query.
    expect(lost.length).toBeGreaterThanOrEqual(2);
    const results = await Promise.all([1, 2, 3, 4].map((n) => database.db.execute(sql`SELECT ${n}::int AS n`)));
    expect(results.map((r) => r.rows[0])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    expect(await database.db.transaction((tx) => tx.execute(sql`SELECT 'again' AS t`)).then((r) => r.rows)).toEqual([{ t: 'again' }]);
  });

  test('close() ends within its bound with a query outstanding, which fails saying so', async () => {
    const database = await open({ statementTimeoutMs: 60_000, closeTimeoutMs: 300 });
    const outstanding = failure(database.db.execute(sql`SELECT pg_sleep(20) AS outstanding_at_close`));
    expect(await until(async () => (await running('outstanding_at_close')) === 1, 5000)).toBe(true);
    const started = Date.now();
    await database.close();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(300 + 1000);
    const error = await outstanding;
    expect(causes(error).find((e) => e instanceof ClientError)).toMatchObject({ code: 'DATABASE_CLOSED' });
    expect(database.pool.ended).toBe(true);
    // A second close() is the first one's promise, not a second end() (pg-pool refuses that).
    await expect(database.close()).resolves.toBeUndefined();
  });
});

describe('the password is in nothing a log or util.inspect can reach', () => {
  /** The object as a logger that guards against cycles writes it (JSON.stringify: enumerable string keys, any depth). */
  function asLoggedJson(value: unknown): string {
    const seen = new WeakSet<object>();
    return JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v !== null && typeof v === 'object') {
        if (seen.has(v)) return '[seen]';
        seen.add(v);
      }
      return v;
    });
  }

  /** The paths of every string reachable from `root` through enumerable own properties (string and symbol keys), at any depth, that contains `secret`. */
  function pathsHolding(root: unknown, secret: string): string[] {
    const found: string[] = [];
    const seen = new WeakSet<object>();
    const walk = (value: unknown, where: string): void => {
      if (typeof value === 'string') {
        if (value.includes(secret)) found.push(where);
        return;
      }
      if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value) || Buffer.isBuffer(value)) return;
      seen.add(value);
      if (value instanceof Map) for (const [k, v] of value) (walk(k, `${where}.<key>`), walk(v, `${where}.get(${String(k)})`));
      if (value instanceof Set) for (const v of value) walk(v, `${where}.<item>`);
      for (const key of Reflect.ownKeys(value)) {
        const descriptor = Object.getOwnPropertyDescriptor(value, key);
        if (!descriptor?.enumerable || !('value' in descriptor)) continue;
        walk(descriptor.value, `${where}.${String(key)}`);
      }
    };
    walk(root, '$');
    return found;
  }

  test.each([
    ['pooled, through PgBouncer', () => ({ connection: 'pooled' as const, env })],
    ['direct', () => ({ connection: 'direct' as const, env })],
    [
      'direct, the password in the query string',
      () => {
        const url = new URL(env[APP_ENV.directDatabaseUrl]);
        url.password = '';
        url.searchParams.set('password', stack.password);
        return { connection: 'direct' as const, env: { [APP_ENV.directDatabaseUrl]: url.toString() } };
      },
    ],
  ])('%s: the database, its pool, db.$client and a connection', async (_name, options) => {
    const database = await open({ ...options(), poolSize: 2 });
    // One connection idle in the pool, one held: both are reachable from the pool (pg-pool's _clients).
    await Promise.all([1, 2].map((n) => database.db.execute(sql`SELECT ${n}::int, pg_sleep(0.05)`)));
    const held = await database.pool.connect();
    try {
      expect(database.pool.totalCount).toBe(2);
      for (const [what, value] of Object.entries({ database, pool: database.pool, $client: (database.db as typeof database.db & { $client: unknown }).$client, held })) {
        expect({ what, inspected: inspect(value, { depth: 6 }).includes(stack.password) }).toEqual({ what, inspected: false });
        expect({ what, json: asLoggedJson(value).includes(stack.password) }).toEqual({ what, json: false });
        expect({ what, paths: pathsHolding(value, stack.password) }).toEqual({ what, paths: [] });
      }
    } finally {
      held.release();
    }
  });
});
