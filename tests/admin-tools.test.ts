import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { getTableColumns, getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { Client as S3Client } from 'minio';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { BUCKETS, DATABASE_NAME, ROLES, STORAGE_USERS } from '../common/names';
import * as schema from '../schema';
import { ADMINER_STOP_SIGNAL } from '../stacks/containers/admin';
import { pgbouncerUserlist } from '../stacks/containers/pgbouncer-settings';
import { ADMINER, PGBOUNCER, POSTGRES, S3_REGION } from '../stacks/services';
import { freshDatabase, withClient, type TestDatabase } from './helpers/db';
import { startMinio, type MinioServer } from './helpers/minio';
import { applyDeclaredStorage } from './helpers/minio-provider';
import { freePort } from './helpers/postgres';
import { committedStackConfig, one, ROOT, runProgram, type ProgramRun } from './helpers/program';
import { plain } from './helpers/pulumi-mocks';
import { sharedServer } from './helpers/shared-server';
import { createStackRoles, type StackRoles } from './helpers/stack-roles';
import { containerSpec, TwinHost, type ContainerSpec } from './helpers/twin';

/**
 * The specification's "database administration tools accessible" (docs/spec/stage-2-database-and-containers.md),
 * in a real browser: the dev stack's Adminer and MinIO console, used as a person would, in headless
 * Debian Chromium driven by playwright-core.
 *
 * - Adminer is what the dev stack's Adminer container runs: Debian bookworm's adminer package (the
 *   release the image installs, stacks/containers/adminer.Dockerfile; checked below) served by the
 *   container's declared command line and health check, run here with this machine's php with only
 *   the address moved. Behind it, PgBouncer with the stack's declared pgbouncer.ini (its aliases,
 *   ports and database name moved to this machine) in front of a migrated database on the shared
 *   PostgreSQL 15, holding a stack's roles and grants (tests/helpers/stack-roles.ts). The login is
 *   the stack's `adminUrls.adminer` output: the form it fills in, then the read-only role's
 *   credentials as `readonlyDatabaseUrl` gives them (a person types the password; the rest is in
 *   the form).
 * - The MinIO console is the test MinIO's (the stack's release), switched on as a stack with
 *   adminTools switches it on, holding the dev stack's buckets, users and policies as @pulumi/minio
 *   creates them (tests/helpers/minio-provider.ts); the login is the app's credential (`s3AccessKey`,
 *   `s3SecretKey`).
 *
 * Each step checks the page's content; a screenshot of each is kept in .tmp/artifacts/admin-tools/
 * (written by this process only; printed at the end). Passwords are typed, never printed: not in a
 * log, an error message or a file name.
 */

const run = promisify(execFile);
const CONTAINER = 'docker:index/container:Container';
/** Debian's Chromium (.ci/run installs the package; the pull-request workflow runs it in Debian bookworm). */
const CHROMIUM = '/usr/bin/chromium';
/**
 * What Chromium needs in this sandbox and on CI: as root it must run without its sandbox; no GPU,
 * no QUIC, and none of the calls home a first run, extensions, component updates and sync make.
 */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** The longest any one page step may take: a navigation, an element, a text. */
const STEP_MS = 15_000;
const ARTIFACTS = path.join(ROOT, '.tmp', 'artifacts', 'admin-tools');
jest.setTimeout(120_000);

let dev: ProgramRun;
let db: TestDatabase;
let stack: StackRoles;
let host: TwinHost;
let bouncerPort: number;
let adminerPort: number;
let adminer: { child: ChildProcess; log: () => string };
let minio: MinioServer;
let browserDir: string;
let browser: BrowserContext | undefined;
let page: Page;
const screenshots: string[] = [];

const spec = (service: string): ContainerSpec => containerSpec(one(dev, CONTAINER, service));
const output = (name: string) => dev.outputs[name].value;

/** Every table of the schema, as its Drizzle definitions name them (schema/index.ts). */
const SCHEMA_TABLES = (Object.values(schema) as unknown[])
  .filter((x): x is PgTable => is(x, PgTable))
  .map((t) => getTableName(t))
  .sort();

/**
 * The dev stack's PgBouncer, as declared: its command line, its pgbouncer.ini with the alias
 * `postgres`, the ports and the database name moved to the shared server's, and a userlist in the
 * program's format holding the read-only role's SCRAM secret as PostgreSQL stores it (as the
 * stack's does: stacks/containers/pgbouncer-settings.ts). Returns its port once it answers.
 */
async function startPgbouncer(database: string, role: string): Promise<number> {
  const s = spec('pgbouncer');
  const server = sharedServer();
  const scramSecret = await withClient(server.url(), async (c) => (await c.query<{ s: string }>('SELECT rolpassword AS s FROM pg_authid WHERE rolname = $1', [role])).rows[0].s);
  const port = host.mapPort(PGBOUNCER.port, await freePort());
  host.mapPort(POSTGRES.port, server.port);
  host.mapAlias(POSTGRES.alias);
  host.mapListenAll();
  const uploads = s.uploads.map((u) => {
    if (u.file === PGBOUNCER.configFile) return { ...u, content: u.content.replaceAll(DATABASE_NAME, database) };
    if (u.file === PGBOUNCER.authFile) return { ...u, content: pgbouncerUserlist([{ user: role, scramSecret }]) };
    throw new Error(`PgBouncer uploads ${u.file}, which this test does not know`);
  });
  host.writeUploads({ ...s, uploads }, [PGBOUNCER.configFile]);
  const [binary, ...args] = s.command;
  const bouncer = host.start('pgbouncer', binary, args.map((a) => host.translate(a)));
  await host.healthy(s.healthcheck.map((part) => part.replaceAll(DATABASE_NAME, database)), bouncer);
  return port;
}

/**
 * The Adminer container's command line, run by this machine's php as the unprivileged user the
 * other test servers run as (the image's is www-data): only its listening address is moved, from
 * every address of the container to loopback. The declared health check, likewise moved, is what
 * says it is up.
 */
async function startAdminer(s: ContainerSpec): Promise<{ port: number; server: { child: ChildProcess; log: () => string } }> {
  const port = await freePort();
  const listen = `0.0.0.0:${ADMINER.port}`;
  expect(s.command.filter((a) => a === listen)).toHaveLength(1);
  const [binary, ...args] = s.command.map((a) => (a === listen ? `127.0.0.1:${port}` : a));
  const server = host.start('adminer', binary, args);
  const check = s.healthcheck.map((part) => part.replace(`//127.0.0.1:${ADMINER.port}/`, `//127.0.0.1:${port}/`));
  expect(check).not.toEqual(s.healthcheck);
  await host.healthy(check, server);
  return { port, server };
}

/** A screenshot of the page as it is now, kept under ARTIFACTS. */
async function snap(name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: options.fullPage ?? false, timeout: STEP_MS });
  screenshots.push(file);
}

/**
 * Types a password into a field. Should it fail, the error is rethrown without the password:
 * playwright's messages may quote what an action was given.
 */
async function typeSecret(field: Locator, secret: string): Promise<void> {
  try {
    await field.fill(secret);
  } catch (error) {
    const scrub = (text = '') => text.split(secret).join('[password]');
    const e = error as Error;
    throw Object.assign(new Error(scrub(e.message)), { stack: scrub(e.stack) });
  }
}

/** The visible text of the page's main content. */
const text = (selector = 'body') => page.locator(selector).first().innerText({ timeout: STEP_MS });

/**
 * Runs the steps at once and waits for all of them, each keeping what it started as it starts it,
 * so that afterAll stops everything that started even when another step failed; then rethrows.
 */
async function together(...steps: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

beforeAll(async () => {
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  host = await new TwinHost().init();
  await together(runProgram('dev').then((r) => (dev = r)), freshDatabase({ migrated: true }).then((d) => (db = d)));
  stack = await createStackRoles(db.url, `admin_tools_${process.pid}`);
  const database = decodeURIComponent(new URL(db.url).pathname.slice(1));
  // The console as the dev stack's MinIO container has it: MINIO_BROWSER as declared (on, with adminTools).
  const browserSwitch = spec('minio').envs.MINIO_BROWSER;
  expect(browserSwitch).toBe('on');
  browserDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-chromium-'));
  await together(
    startPgbouncer(database, stack.roles.readonly).then((port) => (bouncerPort = port)),
    startAdminer(spec('adminer')).then((a) => ({ port: adminerPort, server: adminer } = a)),
    startMinio({ env: { MINIO_BROWSER: browserSwitch } }).then((m) => (minio = m)),
    chromium
      .launchPersistentContext(browserDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000, viewport: { width: 1280, height: 900 } })
      .then((b) => (browser = b)),
  );
  if (!browser) throw new Error('no browser'); // for the compiler: together() has thrown otherwise
  browser.setDefaultTimeout(STEP_MS);
  browser.setDefaultNavigationTimeout(STEP_MS);
  page = browser.pages()[0] ?? (await browser.newPage());
  const root = new S3Client({ endPoint: minio.endPoint, port: minio.port, useSSL: false, region: S3_REGION, accessKey: minio.rootUser, secretKey: minio.rootPassword });
  await applyDeclaredStorage(dev, minio, root);
});

afterAll(async () => {
  // Each one stopped whatever happened to the others.
  await Promise.allSettled([browser?.close(), minio?.stop(), host?.stop()]);
  fs.rmSync(browserDir ?? path.join(os.tmpdir(), 'pa-chromium-none'), { recursive: true, force: true });
  await db?.close();
  await stack?.drop([db.url]);
  if (screenshots.length > 0) process.stdout.write(`admin-tools screenshots:\n${screenshots.map((f) => `  ${f}`).join('\n')}\n`);
});

describe('Adminer', () => {
  test("the image's release: this machine runs Debian's adminer package of the version the image pins", async () => {
    const { stdout } = await run('dpkg-query', ['--show', '--showformat=${Version}', 'adminer'], { timeout: 10_000 });
    expect(stdout).toBe(ADMINER.debianVersion);
    const build = plain(one(dev, 'docker:index/image:Image', 'adminer-image').raw).build;
    expect(build.args.ADMINER_VERSION).toBe(ADMINER.debianVersion);
    // The page says which Adminer it is: the release Debian's package holds.
    await page.goto(`http://127.0.0.1:${adminerPort}/`);
    expect(await text('#h1, h1')).toMatch(new RegExp(`^Adminer ${ADMINER.debianVersion.replace(/-\d+$/, '').replace(/\./g, '\\.')}$`));
  });

  test('logs in as the read-only role through PgBouncer, from the login form the adminUrls output fills in', async () => {
    // What a person gets from the stack: Adminer's address with the form filled in...
    const config = committedStackConfig('dev');
    const login = new URL((output('adminUrls') as { adminer: string }).adminer);
    expect(login.host).toBe(`127.0.0.1:${config.adminerPort}`);
    // ...for the role, pool and database of readonlyDatabaseUrl, which the host reaches on PgBouncer's published port.
    const readonly = new URL(output('readonlyDatabaseUrl') as string);
    expect([readonly.username, readonly.host, readonly.pathname]).toEqual([ROLES.readonly, `127.0.0.1:${config.pgbouncerPort}`, `/${DATABASE_NAME}`]);
    login.host = `127.0.0.1:${adminerPort}`;
    await page.goto(login.toString());
    const field = (name: string) => page.locator(`[name="auth[${name}]"]`);
    expect(await field('driver').inputValue()).toBe('pgsql');
    expect([await field('server').inputValue(), await field('username').inputValue(), await field('db').inputValue()]).toEqual([
      `${PGBOUNCER.alias}:${PGBOUNCER.port}`,
      readonly.username,
      readonly.pathname.slice(1),
    ]);
    // This test's stack: its PgBouncer on this machine, its read-only role, its database.
    const database = decodeURIComponent(new URL(db.url).pathname.slice(1));
    await field('server').fill(`127.0.0.1:${bouncerPort}`);
    await field('username').fill(stack.roles.readonly);
    await field('db').fill(database);
    await snap('01-adminer-login');
    await typeSecret(field('password'), stack.password);
    await Promise.all([page.waitForLoadState('load'), page.locator('input[type=submit][value=Login]').click()]);
    await page.locator('#tables').waitFor();
    // Logged in: no error message, and the page is the database's.
    expect(await page.locator('.error').count()).toBe(0);
    expect(await text('#breadcrumb, p.breadcrumb')).toContain(database);
  });

  test("lists every table of the schema, as the migrated database has them", async () => {
    const inDatabase = (await db.client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    expect(inDatabase).toEqual(SCHEMA_TABLES);
    const listed = (await page.locator('#tables li a.structure, #tables li a[href*="table="]').allInnerTexts()).map((t) => t.trim()).sort();
    expect(listed).toEqual(SCHEMA_TABLES);
    await snap('02-adminer-tables');
  });

  test('opens documents: its columns, as the schema defines them', async () => {
    await page.locator('#tables a', { hasText: /^documents$/ }).click();
    await page.locator('h2', { hasText: 'documents' }).waitFor();
    const columns = Object.values(getTableColumns(schema.documents)).map((c) => c.name).sort();
    const shown = (await page.locator('#content table th').allInnerTexts()).map((t) => t.trim());
    expect(shown).toEqual(expect.arrayContaining(columns));
    await snap('03-adminer-documents');
  });

  test("an insert into documents is refused, and Adminer shows PostgreSQL's permission error", async () => {
    await page.locator('a', { hasText: 'New item' }).first().click();
    await page.locator('h2', { hasText: 'Insert' }).waitFor();
    // A row PostgreSQL would take from a role that may insert: the required values, and the
    // generated search_vector as DEFAULT. Adminer 4.8.1 fills that field with the column's
    // generation expression as a value, a text PostgreSQL refuses as a tsvector ("syntax error in
    // tsvector") before it looks at privileges; choosing the SQL function with DEFAULT is what a
    // person does (upstream changed its handling of such columns in 4.9.3: vrana/adminer
    // CHANGELOG.md, "PostgreSQL: Fix editing record that contains a field with GENERATED ALWAYS
    // default value").
    await page.locator('[name="fields[title]"]').fill('Written from Adminer');
    await page.locator('[name="fields[user_id]"]').fill('00000000-0000-4000-8000-000000000000');
    await page.locator('[name="function[search_vector]"]').selectOption('SQL');
    await page.locator('[name="fields[search_vector]"]').fill('DEFAULT');
    await snap('04-adminer-insert-form', { fullPage: true });
    await Promise.all([page.waitForLoadState('load'), page.locator('input[type=submit][value=Save]').click()]);
    // Raised when the statement runs, after PostgreSQL has parsed it: the privilege is all that is missing.
    const error = page.locator('.error').first();
    await error.waitFor();
    expect(await error.innerText()).toMatch(/^ERROR: {1,2}permission denied for table documents\b/);
    await snap('05-adminer-insert-refused');
    expect((await db.client.query('SELECT count(*)::int AS n FROM documents')).rows[0].n).toBe(0);
  });

  test('stops on the declared stop signal, within the grace period Docker gives it; PHP reported no error on the way', async () => {
    // Adminer 4.8.1 does log PHP 8's "Undefined variable" warnings (its table statistics script), on
    // the server's output only; none stopped a page.
    expect(adminer.log()).not.toMatch(/PHP (Fatal|Parse) error/);
    const container = plain(one(dev, CONTAINER, 'adminer').raw);
    expect(container.stopSignal).toBe(ADMINER_STOP_SIGNAL);
    const exited = new Promise<void>((resolve) => adminer.child.once('exit', () => resolve()));
    adminer.child.kill(container.stopSignal);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), container.destroyGraceSeconds * 1000)));
    expect(await Promise.race([exited.then(() => 'stopped'), bound])).toBe('stopped');
    clearTimeout(timer);
  });
});

describe('MinIO console', () => {
  test("logs in with the app's credential and shows its three buckets, not backups", async () => {
    const accessKey = output('s3AccessKey') as string;
    expect(accessKey).toBe(STORAGE_USERS.app);
    await page.goto(`http://127.0.0.1:${minio.consolePort}/`);
    const user = page.locator('#accessKey');
    await user.waitFor();
    await user.fill(accessKey);
    await snap('06-minio-console-login');
    await typeSecret(page.locator('#secretKey'), output('s3SecretKey') as string);
    await page.locator('button[type=submit]').click();
    const buckets = BUCKETS.filter((b) => b !== 'backups').map((b) => (output('buckets') as Record<string, string>)[b]);
    for (const name of buckets) await page.getByText(name, { exact: true }).first().waitFor();
    const shown = await text();
    for (const name of buckets) expect(shown).toContain(name);
    expect(shown).not.toMatch(/\bbackups\b/);
    await snap('07-minio-console-buckets');
  });
});
