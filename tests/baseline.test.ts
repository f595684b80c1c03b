import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from 'pg';
import { ROOT } from '../common/paths';
import {
  applyPatch,
  catalogPatch,
  knownStates,
  prefixCatalogsPath,
  readPrefixCatalogs,
  readSpecCatalog,
  specCatalogPath,
  writePrefixCatalogs,
  writeSpecCatalog,
  type PrefixCatalogs,
} from '../lib/migrations/baseline';
import { readMigrations } from '../lib/migrations/files';
import { migrate, migrationStatus } from '../lib/migrations/runner';
import { seed } from '../lib/migrations/seeder';
import { migrationHashes, readExpectedCatalog } from '../lib/migrations/verify';
import { catalogJson, compareCatalogs, readCatalog, type Catalog } from '../lib/postgres/catalog';
import { runProcess, withClient } from './helpers/db';
import { adminQuery, createDatabase } from './helpers/postgres';
import { sharedServer } from './helpers/shared-server';
import { createStackRoles, type StackRoles } from './helpers/stack-roles';

/**
 * `db:baseline` on the shared PostgreSQL 15. Databases are built as a stack's migrator would have
 * built them before this project: the specification's SQL (tests/fixtures/spec-schema.sql, its
 * database/init/*.sql in order) filled with the demo data set, or the first migrations with their
 * history lost. Each is a copy of a template that holds the stack's roles and default privileges,
 * so that `db:verify` (grants included) can pass afterwards.
 *
 * PA_WRITE_ADOPT_CATALOGS=1 rewrites schema/adopt/spec-catalog.json and prefix-catalogs.json (with
 * the hashes of the migrations it was written for) from what this file builds (after a new
 * migration, and after PA_WRITE_EXPECTED=1 npx jest tests/verify.test.ts has rewritten catalog.json,
 * which the prefixes are patches of); without it, a stale file fails the first tests.
 */

const TIMEOUT = { queryTimeoutSeconds: 30 };
const SPEC_SQL = fs.readFileSync(path.join(__dirname, 'fixtures', 'spec-schema.sql'), 'utf8');
const WRITE = process.env.PA_WRITE_ADOPT_CATALOGS === '1';
/** The tables in foreign-key order, for copying rows from a seeded database into the specification's. */
const TABLES = [
  'users',
  'ai_providers',
  'system_settings',
  'feature_flags',
  'user_sessions',
  'documents',
  'document_versions',
  'conversations',
  'conversation_sessions',
  'audio_recordings',
  'audio_processing_results',
  'pronunciation_feedback',
  'user_progress',
  'ai_provider_configs',
  'api_usage_logs',
];

const server = sharedServer();
const migrations = readMigrations();
let template: string;
let stack: StackRoles;
const databases: string[] = [];
/** The demo data set (reference and demo seeds) as JSON rows per table, read from a seeded database. */
let demoRows: Record<string, string>;

const nameOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

beforeAll(async () => {
  template = await createDatabase(server, 'baseline_tpl');
  stack = await createStackRoles(template, `baseline_${process.pid}`);
  const seeded = await createDatabase(server, 'baseline_seeded');
  databases.push(seeded);
  demoRows = await withClient(seeded, async (c) => {
    await migrate(c, migrations);
    await seed(c, migrations, { demo: true });
    const out: Record<string, string> = {};
    for (const t of TABLES) out[t] = (await c.query<{ rows: string }>(`SELECT coalesce(json_agg(to_jsonb(t) - 'search_vector'), '[]')::text AS rows FROM "${t}" t`)).rows[0].rows;
    return out;
  });
}, 60_000);

afterAll(async () => {
  await stack?.drop([template, ...databases]);
  for (const url of [...databases, template]) if (url) await adminQuery(server, `DROP DATABASE IF EXISTS "${nameOf(url)}"`).catch(() => undefined);
});

/** A new database with the stack's roles, owned by its migrator; `build` runs there as the migrator. */
async function stackDatabase(build: (c: Client) => Promise<unknown>): Promise<{ admin: string; migrator: string }> {
  const name = `${nameOf(template)}_${databases.length}`;
  await adminQuery(server, `CREATE DATABASE "${name}" TEMPLATE "${nameOf(template)}"`);
  const admin = server.url(name);
  databases.push(admin);
  await stack.grantDatabase(admin);
  const migrator = stack.urlAs(admin, 'migrator');
  await withClient(migrator, build);
  return { admin, migrator };
}

/** The specification's database: its SQL, then the demo data set, then `plant` (as the migrator). */
const specDatabase = (plant = '') =>
  stackDatabase(async (c) => {
    await c.query(SPEC_SQL);
    for (const t of TABLES) {
      // The spec's own INSERTs made the seven settings and four flags: the same keys, kept as they are.
      await c.query(`INSERT INTO "${t}" SELECT * FROM json_populate_recordset(NULL::"${t}", $1::json) ON CONFLICT DO NOTHING`, [demoRows[t]]);
    }
    if (plant) await c.query(plant);
  });

/** Every row of every table as JSON (the generated search column aside): equal before and after means every row kept, unchanged. */
const contents = (url: string) =>
  withClient(url, async (c) => {
    const out: Record<string, string[]> = {};
    for (const t of TABLES) out[t] = (await c.query<{ r: string }>(`SELECT (to_jsonb(t) - 'search_vector')::text AS r FROM "${t}" t ORDER BY 1`)).rows.map((r) => r.r);
    return out;
  });

const catalogOf = (url: string) => withClient(url, (c) => readCatalog(c, TIMEOUT));
const historyOf = (url: string) =>
  withClient(url, async (c) => {
    if (!(await c.query(`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS e`)).rows[0].e) return undefined;
    return (await c.query<{ hash: string; created_at: string; name: string }>('SELECT hash, created_at, name FROM drizzle.__drizzle_migrations ORDER BY id')).rows;
  });

const cli = (command: string, url: string, args: string[] = []) =>
  runProcess('node', ['cli/launch.js', command, ...args], { cwd: ROOT, env: { ...process.env, MIGRATOR_DATABASE_URL: url, DATABASE_URL: '' } });

describe('the recorded starting points', () => {
  it("spec-catalog.json is the catalog the specification's SQL produces", async () => {
    const { admin } = await stackDatabase((c) => c.query(SPEC_SQL));
    const fresh = await catalogOf(admin);
    if (WRITE) writeSpecCatalog(fresh);
    expect(catalogJson(fresh)).toBe(fs.readFileSync(specCatalogPath(), 'utf8'));
  });

  it('prefix-catalogs.json holds the catalog after each proper prefix of the committed migrations', async () => {
    const expected = readExpectedCatalog();
    const recorded: PrefixCatalogs = { prefixes: [], migrations: migrationHashes(migrations) };
    const { admin } = await stackDatabase(async () => undefined);
    for (let applied = 0; applied < migrations.length; applied++) {
      if (applied > 0) await withClient(stack.urlAs(admin, 'migrator'), (c) => migrate(c, migrations.slice(0, applied)));
      const catalog = await catalogOf(admin);
      recorded.prefixes.push({ applied, last: applied === 0 ? null : migrations[applied - 1].name, patch: catalogPatch(expected, catalog) });
      // The patch gives back exactly the catalog.
      expect(catalogJson(applyPatch(expected, recorded.prefixes[applied].patch))).toBe(catalogJson(catalog));
    }
    if (WRITE) writePrefixCatalogs(recorded);
    expect(fs.readFileSync(prefixCatalogsPath(), 'utf8')).toBe(catalogJson(recorded as unknown as Catalog));
    expect(readPrefixCatalogs().prefixes).toHaveLength(migrations.length);
  });
});

describe('the recorded starting points, when stale', () => {
  it('refuses prefix-catalogs.json written for other migrations, naming how to regenerate it', () => {
    const changed = migrations.map((m) => (m.name === '0003_deferred_authorship_checks' ? { ...m, hash: 'edited' } : m));
    const expected = { ...readExpectedCatalog(), migrations: migrationHashes(changed) };
    expect(() => knownStates(changed, expected)).toThrow(
      /^refusing to baseline, nothing was changed: schema\/adopt\/prefix-catalogs\.json is not current for the committed migrations \(0003_deferred_authorship_checks changed since\): regenerate the recorded catalogs .*`PA_WRITE_ADOPT_CATALOGS=1 npx jest tests\/baseline\.test\.ts`/,
    );
  });

  it('refuses a stale catalog.json too', () => {
    const changed = migrations.map((m) => (m.name === '0003_deferred_authorship_checks' ? { ...m, hash: 'edited' } : m));
    expect(() => knownStates(changed)).toThrow(/^refusing to baseline, nothing was changed: schema\/migrations\/catalog\.json is not the catalog of the committed migrations \(0003_deferred_authorship_checks changed since\)/);
  });

  it('records the hashes of the migrations it was written for', () => {
    expect(readPrefixCatalogs().migrations).toEqual(migrationHashes(migrations));
  });
});

describe('pa-data baseline', () => {
  it("converts the specification's database with the demo data: every row kept, every migration recorded, db:verify passes, db:migrate applies nothing", async () => {
    const { admin, migrator } = await specDatabase();
    const before = await contents(admin);
    expect(before.documents.length).toBeGreaterThan(0);
    expect(before.audio_recordings.length).toBeGreaterThan(0);

    const dry = await cli('baseline', migrator, ['--dry-run']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`is the specification's schema (its database/init/*.sql): its rows pass every stricter constraint; it would be converted`);
    expect(await historyOf(admin)).toBeUndefined();

    const run = await cli('baseline', migrator);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`it was converted to the committed schema (schema/adopt/from-spec.sql, every row kept) and ${migrations.length} migrations were recorded as applied`);

    expect(await contents(admin)).toEqual(before);
    expect((await historyOf(admin))?.map((r) => [r.hash, Number(r.created_at), r.name])).toEqual(migrations.map((m) => [m.hash, m.createdAt, m.name]));
    const verify = await cli('verify', migrator);
    expect(verify.stdout).toMatch(/matches the committed migrations: 15 tables/);
    expect(verify.code).toBe(0);
    // The generated column was computed for the existing rows, and the trigger works.
    await withClient(admin, async (c) => {
      expect((await c.query(`SELECT count(*)::int AS n FROM documents WHERE search_vector = ''::tsvector`)).rows[0].n).toBe(0);
      const { rows } = await c.query(`UPDATE users SET name = name || '!' RETURNING updated_at > created_at AS later`);
      expect(rows.every((r: { later: boolean }) => r.later)).toBe(true);
    });
    const status = await withClient(migrator, (c) => migrationStatus(c, migrations));
    expect(status.pending).toEqual([]);
    const again = await cli('migrate', migrator, ['--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).appliedNow).toEqual([]);
    const twice = await cli('baseline', migrator);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('records its migrations already and matches them: nothing to adopt');
  });

  it('refuses rows that a stricter CHECK or NOT NULL refuses, naming the constraint, the table and the rows; nothing changed', async () => {
    const badDoc = '00000000-0000-4000-a000-0000000000b1';
    const badProgress = '00000000-0000-4000-a000-0000000000b2';
    const { admin, migrator } = await specDatabase(
      `UPDATE documents SET processing_progress = 150 WHERE id = (SELECT id FROM documents ORDER BY id LIMIT 1);
       INSERT INTO documents (id, user_id, title, processing_progress) SELECT '${badDoc}', id, 'Broken', -5 FROM users LIMIT 1;
       INSERT INTO user_progress (id, user_id, skill_area) SELECT '${badProgress}', id, 'grammar' FROM users LIMIT 1;
       UPDATE users SET role = NULL;`,
    );
    const firstDoc = await withClient(admin, async (c) => (await c.query<{ id: string }>('SELECT id::text AS id FROM documents WHERE processing_progress = 150')).rows[0].id);
    const userIds = await withClient(admin, async (c) => (await c.query<{ id: string }>('SELECT id::text FROM users ORDER BY 1')).rows.map((r) => r.id));
    const before = await contents(admin);
    const catalogBefore = await catalogOf(admin);

    const run = await cli('baseline', migrator);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('stricter constraints of the committed schema refuse rows of this database; nothing was changed');
    expect(run.stderr).toContain(`constraint "documents_processing_progress_range" on table documents: 2 rows break it (e.g. id ${[badDoc, firstDoc].sort().join('; id ')})`);
    expect(run.stderr).toContain(`constraint "user_progress_skill_area_values" on table user_progress: 1 row breaks it (e.g. id ${badProgress})`);
    expect(run.stderr).toContain(`NOT NULL of column "role" on table users: ${userIds.length === 1 ? '1 row breaks' : `${userIds.length} rows break`} it (e.g. id ${userIds.slice(0, 5).join('; id ')})`);

    expect(compareCatalogs(catalogBefore, await catalogOf(admin))).toEqual([]);
    expect(compareCatalogs(readSpecCatalog(), await catalogOf(admin))).toEqual([]);
    expect(await historyOf(admin)).toBeUndefined();
    expect(await contents(admin)).toEqual(before);

    const json = await cli('baseline', migrator, ['--dry-run', '--json']);
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as { ok: boolean; violations: Array<{ constraint: string; table: string; count: number }> };
    expect(doc.ok).toBe(false);
    expect(doc.violations.map((v) => [v.constraint, v.table, v.count])).toEqual([
      ['constraint "documents_processing_progress_range"', 'documents', 2],
      ['constraint "user_progress_skill_area_values"', 'user_progress', 1],
      ['NOT NULL of column "role"', 'users', userIds.length],
    ]);
  });

  it('records a prefix of the migrations whose history was lost; db:migrate applies the rest and db:verify passes', async () => {
    const applied = 5;
    const { admin, migrator } = await stackDatabase(async (c) => {
      await migrate(c, migrations.slice(0, applied));
      await c.query('DROP SCHEMA drizzle CASCADE');
    });
    const run = await cli('baseline', migrator);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`matches the migrations ${migrations[0].name}..${migrations[applied - 1].name}: ${applied} migrations were recorded as applied, nothing else changed.`);
    expect(run.stdout).toContain(`\`npm run db:migrate\` applies the other ${migrations.length - applied} migrations`);
    expect((await historyOf(admin))?.map((r) => r.hash)).toEqual(migrations.slice(0, applied).map((m) => m.hash));

    const m = await cli('migrate', migrator, ['--json']);
    expect(m.code).toBe(0);
    expect((JSON.parse(m.stdout) as { appliedNow: string[] }).appliedNow).toEqual(migrations.slice(applied).map((x) => x.name));
    const verify = await cli('verify', migrator);
    expect(verify.code).toBe(0);
  });

  it('refuses a database that is neither, listing its differences from the closest starting point; nothing recorded', async () => {
    const { admin, migrator } = await specDatabase('ALTER TABLE users ADD COLUMN nickname text; DROP INDEX idx_users_role;');
    const catalogBefore = await catalogOf(admin);
    const run = await cli('baseline', migrator);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "is neither the specification's schema nor a prefix of the committed migrations; nothing was changed or recorded. It differs from the closest, " +
        "the specification's schema (its database/init/*.sql), in 2 ways:\n  column users.nickname: not in the migrations\n  index idx_users_role: missing",
    );
    expect(await historyOf(admin)).toBeUndefined();
    expect(compareCatalogs(catalogBefore, await catalogOf(admin))).toEqual([]);

    const json = await cli('baseline', migrator, ['--json']);
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as { against: string; differences: Array<{ kind: string; name: string; problem: string }> };
    expect(doc.differences.map((d) => [d.kind, d.name, d.problem])).toEqual([['column', 'users.nickname', 'unexpected'], ['index', 'idx_users_role', 'missing']]);
  });
});
