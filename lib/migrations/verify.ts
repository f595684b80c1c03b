import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from 'pg';
import { migrationsPath, ROOT } from '../../common/paths';
import { UserFacingError } from '../postgres/connection';
import { catalogJson, catalogNotes, compareCatalogs, readCatalog, type Catalog, type Difference } from '../postgres/catalog';
import { compareGrants, stackRolesOf, type RoleNames } from '../postgres/grants';
import { DATABASE_NAME } from '../../common/names';
import { postgresNames } from '../../common/stack-names';
import { readMigrations, type Migration } from './files';
import { boundedQuery, historyStatus, INSUFFICIENT_PRIVILEGE, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, type HistoryCheck } from './runner';
import { applyPatch, prefixCatalogsPath, readPrefixCatalogs, type PrefixCatalogs } from './baseline';

/**
 * `db:verify`: the live database against what the committed migrations produce. What they produce
 * is recorded in schema/migrations/catalog.json, the catalog of a database the migrations alone
 * built; tests/verify.test.ts migrates a fresh database and fails when the file differs from its
 * catalog, so the file cannot go stale. Verify itself then only reads the live database: it needs
 * no scratch database (and no CREATE DATABASE right).
 */

export const EXPECTED_CATALOG_FILE = 'catalog.json';
export const expectedCatalogPath = (dir = migrationsPath) => path.join(dir, EXPECTED_CATALOG_FILE);

/** The catalog the committed migrations produce, as recorded. */
export function readExpectedCatalog(file = expectedCatalogPath()): Catalog {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserFacingError(
      `cannot read the expected catalog ${path.relative(ROOT, file)}: ${(error as Error).message}. ` +
        `Restore it from version control, or ${REWRITE_CATALOGS}`,
    );
  }
  return JSON.parse(text) as Catalog;
}

/** The committed migrations as catalog.json records them: name -> sha256. */
export const migrationHashes = (migrations: Migration[]): Record<string, string> => Object.fromEntries(migrations.map((m) => [m.name, m.hash]));

/** Writes `catalog` as the expected one, recording the migrations it was read after. */
export function writeExpectedCatalog(catalog: Catalog, migrations: Migration[], file = expectedCatalogPath()): void {
  fs.writeFileSync(file, catalogJson({ ...catalog, migrations: migrationHashes(migrations) }));
}

/**
 * How to rewrite the recorded catalogs after a migration was added, changed or removed: each from a
 * database the tests build fresh on the test server. catalog.json first: prefix-catalogs.json holds
 * patches of it.
 */
export const REWRITE_CATALOGS =
  'regenerate the recorded catalogs from fresh databases on the test server: `PA_WRITE_EXPECTED=1 npx jest tests/verify.test.ts` ' +
  '(rewrites schema/migrations/catalog.json), then `PA_WRITE_ADOPT_CATALOGS=1 npx jest tests/baseline.test.ts` (rewrites ' +
  'schema/adopt/prefix-catalogs.json and spec-catalog.json; the prefixes are patches of catalog.json), and commit them with the migrations. ' +
  'Without the test server: `npm run db:verify -- --write-expected` on a scratch database that `npm run db:migrate` has just built ' +
  'from the committed migrations (and nothing else) writes catalog.json';

/**
 * Why a file that records the hashes of the migrations it was written for (`recorded`) is not
 * current for `migrations` (a migration added, changed or removed since), or undefined when it is.
 * Only the hashes are compared: no database needed.
 */
export function hashStaleness(recorded: Record<string, string> | undefined, migrations: Migration[], file: string, what: string): string | undefined {
  const where = path.relative(ROOT, file);
  if (!recorded) return `${where} does not record which migrations it was written from: ${REWRITE_CATALOGS}.`;
  const committed = migrationHashes(migrations);
  const added = Object.keys(committed).filter((n) => !(n in recorded));
  const removed = Object.keys(recorded).filter((n) => !(n in committed));
  const changed = Object.keys(committed).filter((n) => n in recorded && recorded[n] !== committed[n]);
  if (added.length + removed.length + changed.length === 0) return undefined;
  const parts = [
    ...(added.length ? [`${added.join(', ')} ${added.length === 1 ? 'is' : 'are'} not in it`] : []),
    ...(changed.length ? [`${changed.join(', ')} changed since`] : []),
    ...(removed.length ? [`${removed.join(', ')} ${removed.length === 1 ? 'is' : 'are'} no longer committed`] : []),
  ];
  return `${where} is not ${what} (${parts.join('; ')}): ${REWRITE_CATALOGS}.`;
}

/** Why `expected` is not the catalog of `migrations`, or undefined when it is. */
export const catalogStaleness = (expected: Catalog, migrations: Migration[], file = expectedCatalogPath()): string | undefined =>
  hashStaleness(expected.migrations, migrations, file, 'the catalog of the committed migrations');

/** Why schema/adopt/prefix-catalogs.json is not that of `migrations`, or undefined when it is. */
export const prefixCatalogsStaleness = (prefixes: PrefixCatalogs, migrations: Migration[], file = prefixCatalogsPath()): string | undefined =>
  hashStaleness(prefixes.migrations, migrations, file, 'current for the committed migrations');

export interface VerifyOptions {
  /** Each query's bound, in seconds. */
  queryTimeoutSeconds: number;
  /** The expected catalog; by default the committed one. */
  expected?: Catalog;
  /** The committed migrations; by default read from schema/migrations. */
  migrations?: Migration[];
  /** The stack's role names; by default those of the stack whose mark the database bears (see stackOfDatabase). */
  roles?: RoleNames;
  /** The stack the database should be (--stack): its mark must name it. */
  stack?: string;
}

export interface VerifyResult {
  /** The stack's roles the grants were checked for, or undefined when no stack's could be named. */
  roles: RoleNames | undefined;
  owner: string;
  differences: Difference[];
  /** What is worth knowing and is no drift: pending migrations, extensions the migrations do not make, where the roles came from. */
  notes: string[];
  /** The migrations not yet applied (the database is compared with the catalog of those before them). */
  pending: Migration[];
  /** What the database was compared with: `the committed migrations`, or a prefix of them. */
  against: string;
  /** The catalog it was compared with. */
  expected: Catalog;
}

/** An index's SQL spelling (`"schema"."name"` or `"name"`, as files.ts gives it) as the catalog keys it (`name` in public, else `schema.name`). */
function catalogIndexKey(sqlName: string): string {
  const parts = [...sqlName.matchAll(/"((?:[^"]|"")*)"|([^".]+)/g)].map((x) => (x[1] !== undefined ? x[1].replace(/""/g, '"') : x[2]));
  return parts.length > 1 && parts[0] !== 'public' ? parts.join('.') : parts[parts.length - 1];
}

/**
 * The indexes pending migrations build online: named by a `CREATE INDEX CONCURRENTLY IF NOT EXISTS`
 * of a pending non-transactional migration, the first such migration for each. Only these may exist
 * before their migration is recorded (an interrupted or running build): the runner keeps or rebuilds
 * them. An index a transactional migration creates must not exist yet: its CREATE INDEX would fail.
 */
function onlineBuilds(pending: Migration[]): Map<string, Migration> {
  const out = new Map<string, Migration>();
  for (const m of pending) {
    if (m.transactional) continue;
    for (const s of m.statements) {
      if (s.step?.kind !== 'create-index') continue;
      const key = catalogIndexKey(s.step.index);
      if (!out.has(key)) out.set(key, m);
    }
  }
  return out;
}

/** The CREATE INDEX names of a migration's statements (for messages). */
const createdIndexes = (m: Migration) =>
  m.statements.flatMap((s) => [...s.sql.matchAll(/CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:"?([A-Za-z_][\w$]*)"?\.)?"?([A-Za-z_][\w$]*)"?/gi)].map((x) => (x[1] && x[1] !== 'public' ? `${x[1]}.${x[2]}` : x[2])));

/** Every difference between the live database and the expected catalog, its grants included. */
export async function verifyDatabase(client: Client, options: VerifyOptions): Promise<VerifyResult> {
  const bound = options.queryTimeoutSeconds;
  const migrations = options.migrations ?? readMigrations();
  const full = options.expected ?? readExpectedCatalog();
  const stale = catalogStaleness(full, migrations);
  if (stale) throw new UserFacingError(`refusing to verify: ${stale}`);
  const notes: string[] = [];

  // The history first: a database behind the committed migrations is compared with the catalog of what it has applied.
  let expected = full;
  let against = 'the committed migrations';
  let pending: Migration[] = [];
  const history = await historyStatus(client, migrations, bound).catch((error: { code?: string }) => {
    if (error.code !== INSUFFICIENT_PRIVILEGE) throw error;
    notes.push(`the migration history (${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}) could not be read as this role, so the database was compared with all the committed migrations; connect as the migrator to take pending migrations into account`);
    return undefined;
  });
  if (history && history.problems.length > 0) {
    notes.push(historyNote(history, migrations));
  } else if (history && history.pending.length > 0) {
    pending = history.pending;
    const applied = migrations.length - pending.length;
    const prefix = prefixCatalog(migrations, applied, full);
    const what = `${pending.length} migration${pending.length === 1 ? '' : 's'} pending (db:migrate applies ${pending.length === 1 ? 'it' : 'them'}): ${pending.map((m) => m.name).join(', ')}`;
    if (prefix) {
      expected = prefix;
      against = applied === 0 ? 'an empty database (no migration applied yet)' : `the migrations ${migrations[0].name}..${migrations[applied - 1].name}`;
      notes.push(`${what}; compared with what ${against} produce`);
    } else {
      notes.push(`${what}; the catalog after ${applied === 0 ? 'none' : migrations[applied - 1].name} is not recorded (schema/adopt/prefix-catalogs.json), so the database was compared with all the committed migrations`);
    }
  }

  const actual = await readCatalog(client, options);
  let differences = compareCatalogs(expected, actual);
  notes.push(...catalogNotes(expected, actual));
  // An index a pending online migration builds (INVALID while the build runs, or after it was interrupted) is that
  // migration's, not drift, when it is the index the migration builds. Anything else the applied migrations do not make is drift.
  const online = onlineBuilds(pending);
  const applied = migrations.length - pending.length;
  differences = differences.flatMap((d) => {
    if (d.kind !== 'index' || d.problem !== 'unexpected') return [d];
    const index = actual.indexes[d.name];
    const builder = online.get(d.name);
    if (builder) {
      // What the index is once its migration has run: the catalog after it (a later migration may redefine it), else the full one.
      const after = prefixCatalog(migrations, migrations.indexOf(builder) + 1, full) ?? full;
      const want = after.indexes[d.name]?.definition;
      if (want !== undefined && index.definition === want) {
        notes.push(`index ${d.name}: ${index.valid ? 'built already' : 'being built (INVALID until it finishes)'} by the pending migration ${builder.name}`);
        return [];
      }
      return [{ ...d, message: `index ${d.name}: ${index.definition}, not the index the pending migration ${builder.name} builds under that name${want ? ` (${want})` : ''}; its CREATE INDEX CONCURRENTLY IF NOT EXISTS would keep this one` }];
    }
    const creator = pending.find((m) => createdIndexes(m).includes(d.name));
    if (creator) {
      return [{ ...d, message: `${d.message} applied so far (${applied === 0 ? 'none' : `up to ${migrations[applied - 1].name}`}); the pending migration ${creator.name} creates an index of that name, and would fail ("already exists")` }];
    }
    return [d];
  });

  const stack = await stackOfDatabase(client, bound, options.stack);
  notes.push(...stack.notes);
  differences.push(...stack.differences);
  const roles = options.roles ?? stack.roles;
  if (roles) {
    if (stack.owner !== roles.migrator) {
      differences.push({
        kind: 'database',
        name: stack.database,
        problem: 'changed',
        attribute: 'owner',
        expected: roles.migrator,
        actual: stack.owner,
        message: `database ${stack.database}: owned by ${stack.owner}, expected the stack's migrator ${roles.migrator}`,
      });
    }
    differences.push(...(await compareGrants(client, expected, actual, roles, bound)));
  } else {
    differences.push({
      kind: 'role',
      name: stack.owner,
      problem: 'unexpected',
      message: `role ${stack.owner}: owns the database but is no stack's migrator (pa_migrator or pa_<namespace>_migrator), and the database bears no stack's mark, so the grants could not be checked`,
    });
  }
  return { roles, owner: stack.owner, differences, notes, pending, against, expected };
}

/** runner.ts's wording of a history problem that is a duplicate row (compareHistory): the only problem that is no edit. */
const DUPLICATE_ROW = / is recorded \d+ times in /;
/** runner.ts's wording of an applied migration that is not among the files. */
const NOT_AMONG_FILES = / was applied to this database but is no longer among the migration files/;

/** What is wrong with a history that db:migrate refuses, as a note: the database was compared with all the committed migrations. */
export function historyNote(history: HistoryCheck, migrations: Migration[]): string {
  const compared = 'so the database was compared with all the committed migrations';
  const newest = migrations.length > 0 ? migrations[migrations.length - 1].createdAt : -Infinity;
  const known = new Set(migrations.map((m) => m.createdAt));
  const ahead = history.applied.filter((r) => !known.has(r.createdAt) && r.createdAt > newest);
  if (ahead.length > 0) {
    const names = ahead.map((r) => r.name ?? `the migration with journal time ${r.createdAt}`);
    const rest = history.problems.filter((p) => !(NOT_AMONG_FILES.test(p) && names.some((n) => p.startsWith(`${n}.sql `) || p.startsWith(`${n} `))));
    return (
      `the database is ahead of this checkout (it has migrations this checkout does not: ${names.join(', ')}), ${compared}; ` +
      `verify it from a checkout that has them (db:migrate refuses here)${rest.length > 0 ? `. Besides: ${rest.join(' ')}` : ''}`
    );
  }
  if (history.problems.every((p) => DUPLICATE_ROW.test(p))) {
    return `the migration history has duplicate rows, ${compared} (db:migrate refuses until they are deleted): ${history.problems.join(' ')}`;
  }
  return `the migration history is not a prefix of the committed migrations, so the database was compared with all of them (db:migrate refuses until it is fixed): ${history.problems.join(' ')}`;
}

/** The catalog after the first `applied` committed migrations, from schema/adopt/prefix-catalogs.json, or undefined when not recorded for them. */
export function prefixCatalog(migrations: Migration[], applied: number, full: Catalog): Catalog | undefined {
  if (applied >= migrations.length) return full;
  let recorded: PrefixCatalogs;
  try {
    recorded = readPrefixCatalogs();
  } catch {
    return undefined;
  }
  const last = applied === 0 ? null : migrations[applied - 1].name;
  // Written for other migrations, its catalogs are not these migrations' prefixes: refuse, as for a stale catalog.json.
  const stale = prefixCatalogsStaleness(recorded, migrations);
  if (stale) throw new UserFacingError(`refusing to verify: ${stale}`);
  const entry = recorded.prefixes.find((p) => p.applied === applied && p.last === last);
  if (!entry) return undefined;
  // The patches are of the catalog of all the migrations: only valid while that is the committed one, checked above.
  return applyPatch(full, entry.patch);
}

export interface StackOfDatabase {
  database: string;
  owner: string;
  /** The mark (comment) the database bears, or null. */
  mark: string | null;
  roles: RoleNames | undefined;
  notes: string[];
  differences: Difference[];
}

/**
 * Whose database this is. The prepare step (lib/postgres/prepare.ts) marks the database and its
 * migrator role with the stack's mark, `pulumi:<project>/<stack>` (common/stack-names.ts), as their
 * comment: the role bearing the database's mark and named as a migrator names the stack's roles,
 * whoever owns the database now. Without a mark: the database's name (pronunciation_assistant, or
 * pronunciation_assistant_<namespace>), else its owner, as before.
 */
export async function stackOfDatabase(client: Client, bound: number, stack?: string): Promise<StackOfDatabase> {
  const { rows: [row] } = await boundedQuery<{ database: string; owner: string; mark: string | null; marked: string[] | null }>(
    client,
    `SELECT d.datname::text AS database, pg_get_userbyid(d.datdba)::text AS owner, shobj_description(d.oid, 'pg_database') AS mark,
            (SELECT array_agg(r.rolname::text ORDER BY r.rolname) FROM pg_roles r
              WHERE shobj_description(d.oid, 'pg_database') IS NOT NULL AND shobj_description(r.oid, 'pg_authid') = shobj_description(d.oid, 'pg_database')) AS marked
       FROM pg_database d WHERE d.datname = current_database()`,
    undefined,
    bound,
  );
  const out: StackOfDatabase = { database: row.database, owner: row.owner, mark: row.mark, roles: undefined, notes: [], differences: [] };
  const isMark = row.mark !== null && /^pulumi:[^/]+\/.+$/.test(row.mark);
  if (stack !== undefined && (!isMark || row.mark!.slice(row.mark!.indexOf('/') + 1) !== stack)) {
    out.differences.push({
      kind: 'database',
      name: row.database,
      problem: 'changed',
      attribute: 'mark',
      expected: `pulumi:<project>/${stack}`,
      actual: row.mark,
      message: `database ${row.database}: ${isMark ? `marked as the database of ${row.mark}` : row.mark === null ? 'bears no stack mark' : `its comment ${JSON.stringify(row.mark)} is no stack mark`}, expected stack ${stack}'s (its prepare step marks it)`,
    });
  }
  const markedMigrator = isMark ? (row.marked ?? []).map(stackRolesOf).find((r) => r !== undefined && (row.marked ?? []).includes(r.migrator)) : undefined;
  if (markedMigrator) {
    out.roles = markedMigrator;
    return out;
  }
  const byName = row.database === DATABASE_NAME ? postgresNames(undefined) : row.database.startsWith(`${DATABASE_NAME}_`) ? postgresNames(row.database.slice(DATABASE_NAME.length + 1)) : undefined;
  if (byName) {
    out.roles = byName.roles;
    out.notes.push(`no role bears the database's mark: the stack's roles are named after the database's name (${byName.roles.migrator}, ...)`);
    return out;
  }
  out.roles = stackRolesOf(row.owner);
  if (out.roles) out.notes.push(`the database bears no stack's mark: the stack's roles are named after its owner (${row.owner})`);
  return out;
}
