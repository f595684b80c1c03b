import * as fs from 'node:fs';
import { ROOT } from '../common/paths';
import { checkPostgres } from '../lib/health/postgres';
import { onlineStep, readMigrations, type Migration, type OnlineStep } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { expectedCatalogPath, historyNote, migrationHashes, readExpectedCatalog, verifyDatabase, writeExpectedCatalog } from '../lib/migrations/verify';
import { scriptCommands } from '../lib/postgres/sql-script';
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
 *
 * PA_WRITE_EXPECTED=1 rewrites schema/migrations/catalog.json from the database this file migrates
 * (after a new migration; then PA_WRITE_ADOPT_CATALOGS=1 npx jest tests/baseline.test.ts, whose
 * prefix catalogs are patches of it); without it, a stale file fails the first test.
 */

const TIMEOUT = { queryTimeoutSeconds: 10 };
const WRITE = process.env.PA_WRITE_EXPECTED === '1';
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

/** A copy of the migrated database (or of `from`), owned and granted as the stack's; `plant` runs there as the superuser. */
async function copyWith(plant: string, from = base): Promise<string> {
  const name = `${new URL(base).pathname.slice(1)}_c${copies.length}`;
  await adminQuery(server, `CREATE DATABASE "${name}" TEMPLATE "${new URL(from).pathname.slice(1)}"`);
  const url = server.url(name);
  copies.push(url);
  await stack.grantDatabase(url);
  if (plant) await withClient(url, (c) => c.query(plant).then(() => undefined));
  return url;
}

const differencesOf = (url: string) => withClient(url, (c) => verifyDatabase(c, TIMEOUT));
const dbName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** A database the stack's migrator has migrated with the first `applied` committed migrations only. */
let behindDb: string | undefined;
async function behind(): Promise<string> {
  if (behindDb) return behindDb;
  const url = await createDatabase(server, 'verify_behind');
  copies.push(url);
  await stack.grantDatabase(url);
  await stack.grantSchema(url);
  await withClient(stack.urlAs(url, 'migrator'), (c) => migrate(c, readMigrations().slice(0, 6)).then(() => undefined));
  behindDb = url;
  return url;
}
const verifyCli = (url: string, args: string[] = []) =>
  runProcess('node', ['cli/launch.js', 'verify', ...args], { cwd: ROOT, env: { ...process.env, MIGRATOR_DATABASE_URL: url, DATABASE_URL: '' } });

describe('the expected catalog', () => {
  it('is what the committed migrations produce (else: PA_WRITE_EXPECTED=1 npx jest tests/verify.test.ts rewrites it)', async () => {
    const fresh = await withClient(base, (c) => readCatalog(c, TIMEOUT));
    if (WRITE) writeExpectedCatalog(fresh, readMigrations());
    expect(catalogJson({ ...fresh, migrations: migrationHashes(readMigrations()) })).toBe(fs.readFileSync(expectedCatalogPath(), 'utf8'));
  });

  it('holds the whole schema: 15 tables, their indexes, 7 enums, the extensions, the triggers, the functions', () => {
    const c = readExpectedCatalog();
    expect(Object.values(c.relations).filter((r) => r.kind === 'table')).toHaveLength(15);
    expect(Object.keys(c.enums)).toHaveLength(7);
    expect(c.extensions).toEqual(['btree_gin', 'btree_gist', 'pg_trgm', 'plpgsql', 'uuid-ossp']);
    expect(Object.keys(c.triggers)).toHaveLength(9);
    // set_updated_at (0002), the migration history as services read it (0008) and the pairs of
    // words of a search vector (0012).
    expect(Object.keys(c.functions)).toEqual(['applied_migrations()', 'search_pairs(vector tsvector)', 'set_updated_at()']);
    expect(c.functions['applied_migrations()']).toMatch(/STABLE SECURITY DEFINER\n SET search_path TO 'pg_catalog', 'pg_temp'\n/);
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

describe('verifyDatabase, with migrations pending', () => {
  it('compares a database behind the committed migrations with what the applied ones produce: the pending ones are a note, not drift', async () => {
    const result = await differencesOf(await behind());
    expect(result.differences.map((d) => d.message)).toEqual([]);
    // Every committed migration after the first six, however many later ones there are.
    const pending = readMigrations().slice(6).map((m) => m.name);
    expect(pending.slice(0, 2)).toEqual(['0006_public_head_search_index', '0007_public_head_search_per_field']);
    expect(result.pending.map((m) => m.name)).toEqual(pending);
    expect(result.against).toBe('the migrations 0000_extensions..0005_search_indexes_per_branch');
    expect(result.notes).toContainEqual(
      `${pending.length} migrations pending (db:migrate applies them): ${pending.join(', ')}; ` +
        'compared with what the migrations 0000_extensions..0005_search_indexes_per_branch produce',
    );
  });

  it('still reports real drift of such a database, against the applied migrations', async () => {
    const url = await copyWith('DROP INDEX idx_users_role', await behind());
    expect((await differencesOf(url)).differences.map((d) => d.message)).toEqual(['index idx_users_role: missing']);
  });

  /** The committed migrations, 0006 made an online one: its index built by CREATE INDEX CONCURRENTLY IF NOT EXISTS (same name and hash). */
  const withOnline0006 = (): Migration[] =>
    readMigrations().map((m) => {
      if (m.name !== '0006_public_head_search_index') return m;
      const sql = m.statements[0].sql.replace(/^CREATE INDEX /, 'CREATE INDEX CONCURRENTLY IF NOT EXISTS ');
      return { ...m, transactional: false, statements: [{ sql, line: 2, step: onlineStep(scriptCommands(sql)[0]) as OnlineStep }] };
    });
  const create0006 = () => readMigrations().find((m) => m.name === '0006_public_head_search_index')!.statements[0].sql;
  const invalidate = (...names: string[]) => `UPDATE pg_index SET indisvalid = false WHERE indexrelid IN (${names.map((n) => `'${n}'::regclass`).join(', ')})`;

  it('an index made by hand that a pending transactional migration creates is drift: db:migrate would fail on it', async () => {
    const url = await copyWith(create0006(), await behind());
    const result = await differencesOf(url);
    expect(result.differences.map((d) => d.message)).toEqual([
      'index idx_documents_public_head_search: not in the migrations applied so far (up to 0005_search_indexes_per_branch); ' +
        'the pending migration 0006_public_head_search_index creates an index of that name, and would fail ("already exists")',
    ]);
    expect(result.notes.join('\n')).not.toContain('being built');
  });

  it('an INVALID index a pending online migration builds, with its definition, is a note (a build in progress); another INVALID index is drift', async () => {
    const migrations = withOnline0006();
    expect(migrations[6].statements[0].step).toEqual({ kind: 'create-index', index: '"idx_documents_public_head_search"', concurrently: true });
    const url = await copyWith(`${create0006()}; CREATE INDEX idx_stray ON users (email); ${invalidate('idx_documents_public_head_search', 'idx_stray')}`, await behind());
    const result = await withClient(url, (c) => verifyDatabase(c, { ...TIMEOUT, migrations }));
    expect(result.differences.map((d) => d.message)).toEqual(['index idx_stray: not in the migrations']);
    expect(result.notes).toContain('index idx_documents_public_head_search: being built (INVALID until it finishes) by the pending migration 0006_public_head_search_index');
  });

  it('an index of the name a pending online migration builds, with another definition, is drift', async () => {
    const url = await copyWith(
      `CREATE INDEX idx_documents_public_head_search ON documents (title); ${invalidate('idx_documents_public_head_search')}`,
      await behind(),
    );
    const result = await withClient(url, (c) => verifyDatabase(c, { ...TIMEOUT, migrations: withOnline0006() }));
    expect(result.differences.map((d) => d.message)).toEqual([
      expect.stringMatching(
        /^index idx_documents_public_head_search: CREATE INDEX idx_documents_public_head_search ON public\.documents USING btree \(title\), not the index the pending migration 0006_public_head_search_index builds under that name \(CREATE INDEX idx_documents_public_head_search ON public\.documents USING gin .*\); its CREATE INDEX CONCURRENTLY IF NOT EXISTS would keep this one$/,
      ),
    ]);
  });

  it('refuses a stale prefix-catalogs.json: one written for other migrations', async () => {
    const migrations = readMigrations().map((m) => (m.name === '0007_public_head_search_per_field' ? { ...m, hash: 'edited' } : m));
    const expected = { ...readExpectedCatalog(), migrations: migrationHashes(migrations) };
    await expect(withClient(await behind(), (c) => verifyDatabase(c, { ...TIMEOUT, migrations, expected }))).rejects.toThrow(
      /^refusing to verify: schema\/adopt\/prefix-catalogs\.json is not current for the committed migrations \(0007_public_head_search_per_field changed since\): regenerate the recorded catalogs/,
    );
  });

  it('says "duplicate rows" when that is all that is wrong with the history', async () => {
    const url = await copyWith(
      "INSERT INTO drizzle.__drizzle_migrations (hash, created_at, name) SELECT hash, created_at, name FROM drizzle.__drizzle_migrations WHERE name = '0003_deferred_authorship_checks'",
    );
    const result = await differencesOf(url);
    expect(result.differences).toEqual([]);
    expect(result.notes).toContainEqual(expect.stringMatching(/^the migration history has duplicate rows, so the database was compared with all the committed migrations .*0003_deferred_authorship_checks is recorded 2 times/));
    expect(result.notes.join('\n')).not.toContain('not a prefix');
  });

  it('says the database is ahead of this checkout when it has a migration newer than the committed ones', async () => {
    const all = readMigrations();
    const newest = all[all.length - 1].createdAt;
    const url = await copyWith(`INSERT INTO drizzle.__drizzle_migrations (hash, created_at, name) VALUES ('future', ${newest + 1000}, '0008_future')`);
    const result = await differencesOf(url);
    expect(result.differences).toEqual([]);
    expect(result.notes).toContainEqual(
      'the database is ahead of this checkout (it has migrations this checkout does not: 0008_future), so the database was compared with all the committed migrations; ' +
        'verify it from a checkout that has them (db:migrate refuses here)',
    );
  });

  it('historyNote: an unknown migration older than the newest committed one is no "ahead"', () => {
    const migrations = readMigrations();
    const note = historyNote({ applied: [{ id: 1, hash: 'x', createdAt: 1, name: '0000_old' }], pending: [], problems: ['0000_old.sql was applied to this database but is no longer among the migration files (removed or renamed).'] }, migrations);
    expect(note).toMatch(/^the migration history is not a prefix of the committed migrations/);
  });

  it('says so when the history is not a prefix of the committed migrations (an edited migration), and compares with all of them', async () => {
    const url = await copyWith("UPDATE drizzle.__drizzle_migrations SET hash = 'edited' WHERE name = '0003_deferred_authorship_checks'");
    const result = await differencesOf(url);
    expect(result.differences).toEqual([]);
    expect(result.notes).toContainEqual(expect.stringMatching(/^the migration history is not a prefix of the committed migrations, so the database was compared with all of them .*0003_deferred_authorship_checks\.sql was changed after it was applied/));
  });

  it('refuses a stale catalog.json: one not written after the committed migrations', async () => {
    const expected = readExpectedCatalog();
    const { '0007_public_head_search_per_field': _last, ...older } = expected.migrations!;
    await expect(withClient(base, (c) => verifyDatabase(c, { ...TIMEOUT, expected: { ...expected, migrations: older } }))).rejects.toThrow(
      /^refusing to verify: schema\/migrations\/catalog\.json is not the catalog of the committed migrations \(0007_public_head_search_per_field is not in it\): regenerate the recorded catalogs from fresh databases on the test server: `PA_WRITE_EXPECTED=1 npx jest tests\/verify\.test\.ts` \(rewrites schema\/migrations\/catalog\.json\), then `PA_WRITE_ADOPT_CATALOGS=1 npx jest tests\/baseline\.test\.ts` \(rewrites schema\/adopt\/prefix-catalogs\.json and spec-catalog\.json/,
    );
  });
});

describe('verifyDatabase, what else it checks', () => {
  it.each([
    [
      'a revoked default privilege',
      () => `ALTER DEFAULT PRIVILEGES FOR ROLE "${stack.roles.migrator}" IN SCHEMA public REVOKE SELECT ON TABLES FROM "${stack.roles.readonly}"`,
      () => [`default privilege SELECT on tables ${stack.roles.migrator} creates in schema public to ${stack.roles.readonly}: missing`],
    ],
    [
      'an added default privilege',
      () => `ALTER DEFAULT PRIVILEGES FOR ROLE "${stack.roles.migrator}" IN SCHEMA public GRANT DELETE ON TABLES TO "${stack.roles.readonly}"`,
      () => [`default privilege DELETE on tables ${stack.roles.migrator} creates in schema public to ${stack.roles.readonly}: not declared by the stack`],
    ],
    ['CREATE on public', () => `GRANT CREATE ON SCHEMA public TO "${stack.roles.app}"`, () => [`grant CREATE on schema public to ${stack.roles.app}: not granted by the stack`]],
    ['CREATE on public for everyone', () => 'GRANT CREATE ON SCHEMA public TO PUBLIC', () => ['grant CREATE on schema public to PUBLIC: not granted by the stack']],
    ['a column collation', () => 'ALTER TABLE users ALTER COLUMN name TYPE varchar(255) COLLATE "C"', () => ['collation of users.name: "C", expected its type\'s default']],
    [
      "the search vector's storage (0011)",
      () => 'ALTER TABLE documents ALTER COLUMN search_vector SET STORAGE EXTENDED',
      () => ["storage of documents.search_vector: its type's default, expected MAIN"],
    ],
  ] as Array<[string, () => string, () => string[]]>)('reports %s by name, and nothing else', async (_what, plant, expected) => {
    const url = await copyWith(plant());
    expect((await differencesOf(url)).differences.map((d) => d.message)).toEqual(expected());
  });

  it('reports CREATE on the database for a role of the stack', async () => {
    const url = await copyWith('');
    await adminQuery(server, `GRANT CREATE ON DATABASE "${dbName(url)}" TO "${stack.roles.backup}"`);
    expect((await differencesOf(url)).differences.map((d) => d.message)).toEqual([`grant CREATE on database to ${stack.roles.backup}: not granted by the stack`]);
  });

  it('an extension the migrations do not create (a managed server installs some in template1) is a note, not drift', async () => {
    const url = await copyWith('CREATE EXTENSION pg_stat_statements');
    const result = await differencesOf(url);
    expect(result.differences).toEqual([]);
    expect(result.notes).toContainEqual(expect.stringMatching(/^extension pg_stat_statements: installed, though the migrations do not create it/));
  });

  describe("the stack's roles, from the database's mark", () => {
    const mark = 'pulumi:test/verify-stack';
    afterAll(() => adminQuery(server, `COMMENT ON ROLE "${stack.roles.migrator}" IS NULL`));

    it("checks a wrongly owned database against the roles of the stack whose mark it bears, reporting the owner", async () => {
      const url = await copyWith('');
      await adminQuery(server, `COMMENT ON ROLE "${stack.roles.migrator}" IS '${mark}'`);
      await adminQuery(server, `COMMENT ON DATABASE "${dbName(url)}" IS '${mark}'`);
      await adminQuery(server, `ALTER DATABASE "${dbName(url)}" OWNER TO postgres`);
      const result = await differencesOf(url);
      expect(result.roles).toEqual(stack.roles);
      expect(result.owner).toBe('postgres');
      expect(result.differences.map((d) => d.message)).toEqual([`database ${dbName(url)}: owned by postgres, expected the stack's migrator ${stack.roles.migrator}`]);
    });

    it('--stack NAME: the mark must name that stack', async () => {
      const url = await copyWith('');
      await adminQuery(server, `COMMENT ON ROLE "${stack.roles.migrator}" IS '${mark}'`);
      await adminQuery(server, `COMMENT ON DATABASE "${dbName(url)}" IS '${mark}'`);
      const right = await withClient(url, (c) => verifyDatabase(c, { ...TIMEOUT, stack: 'verify-stack' }));
      expect(right.differences).toEqual([]);
      const r = await verifyCli(stack.urlAs(url, 'migrator'), ['--stack', 'other']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`  database ${dbName(url)}: marked as the database of ${mark}, expected stack other's (its prepare step marks it)\n`);
    });
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

