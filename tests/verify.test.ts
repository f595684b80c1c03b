import * as fs from 'node:fs';
import { ROOT } from '../common/paths';
import { checkPostgres } from '../lib/health/postgres';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { expectedCatalogPath, readExpectedCatalog, verifyDatabase } from '../lib/migrations/verify';
import { catalogJson, compareCatalogs, readCatalog } from '../lib/postgres/catalog';
import { stackRolesOf } from '../lib/postgres/grants';
import { runProcess, withClient } from './helpers/db';
import { adminQuery, createDatabase } from './helpers/postgres';
import { sharedServer } from './helpers/shared-server';
import { createStackRoles, type StackRoles } from './helpers/stack-roles';

/**
 * `db:verify` on the shared PostgreSQL 15: a database built by the committed migrations, as the
 * migrator of a stack whose roles hold what the program grants, matches the committed catalog; each
 * planted difference, on a copy of it, is reported by name, and alone.
 */

const TIMEOUT = { queryTimeoutSeconds: 10 };
const server = sharedServer();
const namespace = `verify_${process.pid}`;
let base: string;
let stack: StackRoles;
const copies: string[] = [];

beforeAll(async () => {
  base = await createDatabase(server, 'verify');
  stack = await createStackRoles(base, namespace);
  await withClient(stack.urlAs(base, 'migrator'), (c) => migrate(c, readMigrations()).then(() => undefined));
});

afterAll(async () => {
  await stack?.drop([base, ...copies]);
  for (const url of [...copies, base]) await adminQuery(server, `DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}"`).catch(() => undefined);
});

/** A copy of the migrated database, owned and granted as the stack's; `plant` runs there as the superuser. */
async function copyWith(plant: string): Promise<string> {
  const name = `${new URL(base).pathname.slice(1)}_c${copies.length}`;
  await adminQuery(server, `CREATE DATABASE "${name}" TEMPLATE "${new URL(base).pathname.slice(1)}"`);
  const url = server.url(name);
  copies.push(url);
  await stack.grantDatabase(url);
  if (plant) await withClient(url, (c) => c.query(plant).then(() => undefined));
  return url;
}

const differencesOf = (url: string) => withClient(url, (c) => verifyDatabase(c, TIMEOUT));
const verifyCli = (url: string, args: string[] = []) =>
  runProcess('node', ['cli/launch.js', 'verify', ...args], { cwd: ROOT, env: { ...process.env, MIGRATOR_DATABASE_URL: url, DATABASE_URL: '' } });

describe('the expected catalog', () => {
  it('is what the committed migrations produce (else: npm run db:verify -- --write-expected on a freshly migrated scratch database)', async () => {
    const fresh = await withClient(base, (c) => readCatalog(c, TIMEOUT));
    expect(catalogJson(fresh)).toBe(fs.readFileSync(expectedCatalogPath(), 'utf8'));
  });

  it('holds the whole schema: 15 tables, their indexes, 7 enums, the extensions, the triggers', () => {
    const c = readExpectedCatalog();
    expect(Object.values(c.relations).filter((r) => r.kind === 'table')).toHaveLength(15);
    expect(Object.keys(c.enums)).toHaveLength(7);
    expect(c.extensions).toEqual(['btree_gin', 'btree_gist', 'pg_trgm', 'plpgsql', 'uuid-ossp']);
    expect(Object.keys(c.triggers)).toHaveLength(9);
    expect(c.indexes.idx_documents_public_head_search.definition).toMatch(/^CREATE INDEX idx_documents_public_head_search ON public\.documents USING gin/);
    expect(Object.keys(c.columns).some((k) => k.startsWith('drizzle.') || k.includes('__drizzle'))).toBe(false);
  });
});

describe('verifyDatabase', () => {
  it('passes a cleanly migrated database, with the roles named after its owner', async () => {
    const result = await differencesOf(base);
    expect(result.differences).toEqual([]);
    expect(result.owner).toBe(stack.roles.migrator);
    expect(result.roles).toEqual(stack.roles);
  });

  it.each([
    ['a hand-added column', 'ALTER TABLE documents ADD COLUMN extra text', () => ['column documents.extra: not in the migrations']],
    ['a dropped index', 'DROP INDEX idx_users_role', () => ['index idx_users_role: missing']],
    [
      'a changed default',
      "ALTER TABLE users ALTER COLUMN subscription_tier SET DEFAULT 'PRO'",
      () => ["default of users.subscription_tier: 'PRO'::character varying, expected 'FREE'::character varying"],
    ],
    ['an extra enum label', "ALTER TYPE user_role ADD VALUE 'GUEST'", () => ['enum user_role: labels USER, ADMIN, GUEST, expected USER, ADMIN']],
    ['a revoked grant', () => `REVOKE SELECT ON documents FROM "${stack.roles.readonly}"`, () => [`grant SELECT on documents to ${stack.roles.readonly}: missing`]],
  ] as Array<[string, string | (() => string), () => string[]]>)('reports %s by name, and nothing else', async (_what, plant, expected) => {
    const url = await copyWith(typeof plant === 'string' ? plant : plant());
    expect((await differencesOf(url)).differences.map((d) => d.message)).toEqual(expected());
  });

  it('reports an extra grant, a NOT NULL dropped, a disabled trigger and a lost membership', async () => {
    const url = await copyWith(
      `GRANT INSERT ON users TO "${stack.roles.readonly}"; ALTER TABLE users ALTER COLUMN name DROP NOT NULL;` +
        `ALTER TABLE users DISABLE TRIGGER users_set_updated_at; REVOKE pg_read_all_data FROM "${stack.roles.backup}"`,
    );
    const messages = (await differencesOf(url)).differences.map((d) => d.message).sort();
    expect(messages).toEqual(
      [
        `grant INSERT on users to ${stack.roles.readonly}: not granted by the stack`,
        'column users.name: nullable, expected NOT NULL',
        'trigger users.users_set_updated_at: disabled, expected enabled',
        `role ${stack.roles.backup}: not a member of pg_read_all_data`,
      ].sort(),
    );
    await adminQuery(server, `GRANT pg_read_all_data TO "${stack.roles.backup}"`);
  });

  it('a missing table is one difference, not one per column, index and constraint', () => {
    const expected = readExpectedCatalog();
    const actual = JSON.parse(JSON.stringify(expected)) as typeof expected;
    delete actual.relations.feature_flags;
    for (const kind of ['columns', 'constraints', 'triggers'] as const) {
      for (const key of Object.keys(actual[kind])) if (key.startsWith('feature_flags.')) delete actual[kind][key];
    }
    for (const [key, index] of Object.entries(actual.indexes)) if (index.table === 'feature_flags') delete actual.indexes[key];
    expect(compareCatalogs(expected, actual).map((d) => d.message)).toEqual(['table feature_flags: missing']);
  });

  it("names the stack's roles after the database's owner", () => {
    expect(stackRolesOf('pa_migrator')).toEqual({ migrator: 'pa_migrator', app: 'pa_app', readonly: 'pa_readonly', backup: 'pa_backup' });
    expect(stackRolesOf('pa_team_a_migrator')?.app).toBe('pa_team_a_app');
    expect(stackRolesOf('postgres')).toBeUndefined();
  });
});

describe('pa-data verify', () => {
  it('exits 0 on a clean database, saying what it compared; 1 with each difference on a drifted one; --json for scripts', async () => {
    const clean = await verifyCli(stack.urlAs(base, 'migrator'));
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/matches the committed migrations: 15 tables, \d+ indexes, 7 enums, the grants of /);
    expect(clean.stdout).toContain('(from MIGRATOR_DATABASE_URL) against schema/migrations/catalog.json');

    const drifted = await copyWith('ALTER TABLE documents ADD COLUMN extra text; DROP INDEX idx_users_role');
    const text = await verifyCli(stack.urlAs(drifted, 'migrator'));
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('differs from the committed migrations in 2 ways:\n  column documents.extra: not in the migrations\n  index idx_users_role: missing\n');
    expect(`${text.stdout}${text.stderr}`).not.toContain(stack.password);

    // Any role that may connect can verify: the read-only one here.
    const json = await verifyCli(stack.urlAs(drifted, 'readonly'), ['--json']);
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as { ok: boolean; owner: string; differences: Array<{ kind: string; name: string; problem: string }> };
    expect(doc.ok).toBe(false);
    expect(doc.owner).toBe(stack.roles.migrator);
    expect(doc.differences.map((d) => [d.kind, d.name, d.problem])).toEqual([['column', 'documents.extra', 'unexpected'], ['index', 'idx_users_role', 'missing']]);
  });

  it('refuses --write-expected on a database the committed migrations did not build alone, writing nothing', async () => {
    const empty = await createDatabase(server, 'verify_empty');
    copies.push(empty);
    const before = fs.readFileSync(expectedCatalogPath(), 'utf8');
    const r = await verifyCli(empty, ['--write-expected']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a database the committed migrations built: \d+ migrations pending/);
    expect(fs.readFileSync(expectedCatalogPath(), 'utf8')).toBe(before);
  });

  it('bad usage exits 2', async () => {
    const r = await verifyCli(base, ['--json', '--write-expected']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--json and --write-expected exclude each other');
  });
});

describe('the health row', () => {
  const row = async (url: string) => (await checkPostgres({ MIGRATOR_DATABASE_URL: url })).rows.find((r) => r.check === 'schema drift');

  it('passes on a clean database', async () => {
    expect(await row(stack.urlAs(base, 'migrator'))).toMatchObject({ service: 'postgres', ok: true, detail: expect.stringMatching(/^none: /) });
  });

  it('fails on a drifted one, naming the first differences and db:verify', async () => {
    const url = await copyWith("ALTER TABLE documents ADD COLUMN extra text; ALTER TYPE user_role ADD VALUE 'GUEST'");
    expect(await row(stack.urlAs(url, 'migrator'))).toEqual({
      service: 'postgres',
      check: 'schema drift',
      ok: false,
      detail:
        '2 differences from the committed migrations: enum user_role: labels USER, ADMIN, GUEST, expected USER, ADMIN; ' +
        'column documents.extra: not in the migrations. `npm run db:verify` lists them all',
    });
  });
});

