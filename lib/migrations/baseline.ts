import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from 'pg';
import { ROOT } from '../../common/paths';
import { UserFacingError } from '../postgres/connection';
import { catalogJson, compareCatalogs, readCatalog, type Catalog, type Difference } from '../postgres/catalog';
import { quoteIdent } from '../postgres/sql-script';
import { plural } from '../text';
import { splitStatements, type Migration } from './files';
import {
  acquireLock,
  assertOwnSession,
  boundedQuery,
  DEFAULT_DDL_LOCK_TIMEOUT_SECONDS,
  DEFAULT_LOCK_TIMEOUT_SECONDS,
  DEFAULT_MIGRATION_QUERY_TIMEOUT_SECONDS,
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  ensureTable,
  historyStatus,
  INSUFFICIENT_PRIVILEGE,
  isClosed,
  LOCK_NAME,
  MIGRATIONS_SCHEMA,
  MIGRATIONS_TABLE,
  notMigrator,
  sessionRole,
  timeoutMs,
  type MigrateOptions,
  type SessionRole,
} from './runner';
import { catalogStaleness, prefixCatalogsStaleness, readExpectedCatalog, REWRITE_CATALOGS } from './verify';

/**
 * `db:baseline`: adopts a database built before this project, either by the specification's own SQL
 * (its database/init/*.sql, as its PostgreSQL image ran them) or by a prefix of the committed
 * migrations whose history was lost. Recognised exactly, with db:verify's engine (catalog.ts), against
 * recorded catalogs:
 *
 * - schema/adopt/spec-catalog.json: the catalog the specification's SQL produces;
 * - schema/adopt/prefix-catalogs.json: the catalog after each proper prefix of the committed
 *   migrations (none, 0000, 0000..0001, ...), each as a patch of schema/migrations/catalog.json (the
 *   whole list's), so the file stays small.
 *
 * tests/baseline.test.ts rebuilds both from tests/fixtures/spec-schema.sql and from the migration
 * files and fails when they differ (PA_WRITE_ADOPT_CATALOGS=1 rewrites them), so they cannot go stale.
 * Grants are not compared: the adopted database's roles are not the stack's.
 *
 * The specification's database is converted by schema/adopt/from-spec.sql, in one transaction
 * under the migration lock: every stricter NOT NULL and CHECK is first checked against the rows
 * (any row refused: nothing is changed, the constraint, the table and the rows are named), then the
 * script runs, the history rows of every committed migration are inserted as the runner writes
 * them, and the result is compared with catalog.json: any difference rolls everything back.
 */

export const ADOPT_DIR = path.join(ROOT, 'schema', 'adopt');
export const specCatalogPath = (dir = ADOPT_DIR) => path.join(dir, 'spec-catalog.json');
export const prefixCatalogsPath = (dir = ADOPT_DIR) => path.join(dir, 'prefix-catalogs.json');
export const fromSpecPath = (dir = ADOPT_DIR) => path.join(dir, 'from-spec.sql');

const TABLE = `"${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`;
const LOCK_KEY = `hashtextextended('${LOCK_NAME}', 0)`;
/** How many of the rows that break a constraint a message names. */
const SAMPLE_ROWS = 5;

type RecordKeys = 'enums' | 'relations' | 'columns' | 'indexes' | 'constraints' | 'triggers' | 'functions';
const RECORD_KEYS: RecordKeys[] = ['enums', 'relations', 'columns', 'indexes', 'constraints', 'triggers', 'functions'];

/** A catalog as changes to another: arrays replaced whole, a record's entries set, or removed (null). */
export type CatalogPatch = Partial<Pick<Catalog, 'schemas' | 'extensions'>> & { [K in RecordKeys]?: Record<string, Catalog[K][string] | null> };

export function catalogPatch(base: Catalog, target: Catalog): CatalogPatch {
  const patch: CatalogPatch = {};
  const same = (a: unknown, b: unknown) => catalogJson(a as Catalog) === catalogJson(b as Catalog);
  if (!same(base.schemas, target.schemas)) patch.schemas = target.schemas;
  if (!same(base.extensions, target.extensions)) patch.extensions = target.extensions;
  for (const key of RECORD_KEYS) {
    const changes: Record<string, unknown> = {};
    for (const name of Object.keys(base[key])) if (!(name in target[key])) changes[name] = null;
    for (const [name, value] of Object.entries(target[key])) if (!(name in base[key]) || !same(base[key][name], value)) changes[name] = value;
    if (Object.keys(changes).length > 0) (patch as Record<string, unknown>)[key] = changes;
  }
  return patch;
}

export function applyPatch(base: Catalog, patch: CatalogPatch): Catalog {
  const out = JSON.parse(JSON.stringify(base)) as Catalog;
  // The hashes of the migrations the base was written from are not the prefix's.
  delete out.migrations;
  if (patch.schemas) out.schemas = patch.schemas;
  if (patch.extensions) out.extensions = patch.extensions;
  for (const key of RECORD_KEYS) {
    const record = out[key] as Record<string, unknown>;
    for (const [name, value] of Object.entries(patch[key] ?? {})) {
      if (value === null) delete record[name];
      else record[name] = value;
    }
  }
  return out;
}

export interface PrefixCatalogs {
  /** One entry per proper prefix: `applied` migrations, the last of them named (null for none). */
  prefixes: Array<{ applied: number; last: string | null; patch: CatalogPatch }>;
  /** The committed migrations the file was written for, name -> sha256 (as catalog.json records them): another set makes it stale. */
  migrations?: Record<string, string>;
}

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new UserFacingError(`cannot read ${what} ${path.relative(ROOT, file)}: ${(error as Error).message}. Restore it from version control.`);
  }
}

export const readSpecCatalog = (file = specCatalogPath()) => readJson<Catalog>(file, "the specification's catalog");
export const readPrefixCatalogs = (file = prefixCatalogsPath()) => readJson<PrefixCatalogs>(file, 'the catalogs of the prefixes of the migrations');
export const writeSpecCatalog = (catalog: Catalog, file = specCatalogPath()) => fs.writeFileSync(file, catalogJson(catalog));
export const writePrefixCatalogs = (prefixes: PrefixCatalogs, file = prefixCatalogsPath()) =>
  fs.writeFileSync(file, catalogJson(prefixes as unknown as Catalog));

/** A starting point baseline knows. */
export interface KnownState {
  kind: 'specification' | 'prefix';
  /** For a prefix: how many of the committed migrations built it. */
  applied: number;
  label: string;
  catalog: Catalog;
}

/** Every state baseline recognises: the specification's schema, and each prefix of the migrations (all of them included). */
export function knownStates(migrations: Migration[], expected: Catalog = readExpectedCatalog(), recorded: PrefixCatalogs = readPrefixCatalogs()): KnownState[] {
  // Both recorded for other migrations than these: a prefix's catalog would be wrong, and the database misjudged.
  const stale = catalogStaleness(expected, migrations) ?? prefixCatalogsStaleness(recorded, migrations);
  if (stale) throw new UserFacingError(`refusing to baseline, nothing was changed: ${stale}`);
  const states: KnownState[] = [{ kind: 'specification', applied: 0, label: "the specification's schema (its database/init/*.sql)", catalog: readSpecCatalog() }];
  const { prefixes } = recorded;
  for (let applied = 0; applied < migrations.length; applied++) {
    const entry = prefixes.find((p) => p.applied === applied);
    const last = applied === 0 ? null : migrations[applied - 1].name;
    if (!entry || entry.last !== last) {
      throw new UserFacingError(
        `${path.relative(ROOT, prefixCatalogsPath())} does not describe the committed migrations (no entry for ${applied === 0 ? 'an empty database' : `the migrations up to ${last}`}): ` +
          `${REWRITE_CATALOGS}.`,
      );
    }
    states.push({ kind: 'prefix', applied, label: prefixLabel(migrations, applied), catalog: applyPatch(expected, entry.patch) });
  }
  states.push({ kind: 'prefix', applied: migrations.length, label: prefixLabel(migrations, migrations.length), catalog: expected });
  return states;
}

const prefixLabel = (migrations: Migration[], applied: number) =>
  applied === 0 ? 'an empty database' : `the migrations ${migrations[0].name}..${migrations[applied - 1].name}`;

/** A stricter constraint of the committed schema that some rows of the specification's database break. */
export interface Violation {
  constraint: string;
  table: string;
  count: number;
  sample: string[];
  message: string;
}

interface StrictCheck {
  table: string;
  /** The constraint as a message names it. */
  name: string;
  /** SQL true for a row that breaks it. */
  breaks: string;
}

/** The NOT NULLs and CHECKs the committed schema has and the specification's has not: what may refuse rows. */
export function stricterChecks(spec: Catalog, expected: Catalog): StrictCheck[] {
  const checks: StrictCheck[] = [];
  const owner = (key: string) => key.slice(0, key.lastIndexOf('.'));
  const member = (key: string) => key.slice(key.lastIndexOf('.') + 1);
  for (const [key, column] of Object.entries(expected.columns)) {
    const before = spec.columns[key];
    if (before && column.notNull && !before.notNull) {
      checks.push({ table: owner(key), name: `NOT NULL of column "${member(key)}"`, breaks: `${quoteIdent(member(key))} IS NULL` });
    }
  }
  for (const [key, constraint] of Object.entries(expected.constraints)) {
    if (key in spec.constraints || !constraint.definition.startsWith('CHECK ')) continue;
    if (!(owner(key) in spec.relations)) continue;
    checks.push({ table: owner(key), name: `constraint "${member(key)}"`, breaks: `NOT ${constraint.definition.slice('CHECK '.length)}` });
  }
  return checks;
}

/** The rows that each stricter constraint refuses: one scan per table. */
export async function findViolations(client: Client, checks: StrictCheck[], expected: Catalog, bound: number): Promise<Violation[]> {
  const violations: Violation[] = [];
  const tables = [...new Set(checks.map((c) => c.table))].sort();
  for (const table of tables) {
    const mine = checks.filter((c) => c.table === table);
    const hasId = `${table}.id` in expected.columns;
    const key = hasId ? 't.id::text' : 't.ctid::text';
    const keyName = hasId ? 'id' : 'ctid';
    const select = mine
      .map((c, i) => `count(*) FILTER (WHERE ${c.breaks}) AS "c${i}", (array_agg(${key} ORDER BY ${key}) FILTER (WHERE ${c.breaks}))[1:${SAMPLE_ROWS}] AS "s${i}"`)
      .join(', ');
    const relation = table.split('.').map(quoteIdent).join('.');
    const { rows } = await boundedQuery<Record<string, string | string[] | null>>(client, `SELECT ${select} FROM ${relation} t`, undefined, bound);
    mine.forEach((c, i) => {
      const count = Number(rows[0][`c${i}`]);
      if (count === 0) return;
      const sample = ((rows[0][`s${i}`] as string[] | null) ?? []).map((v) => `${keyName} ${v}`);
      violations.push({
        constraint: c.name,
        table,
        count,
        sample,
        message: `${c.name} on table ${table}: ${plural(count, 'row')} break${count === 1 ? 's' : ''} it (e.g. ${sample.join('; ')})`,
      });
    });
  }
  return violations;
}

/** Why baseline did not adopt the database; nothing was changed or recorded. */
export class BaselineRefused extends UserFacingError {
  override name = 'BaselineRefused';
  constructor(
    message: string,
    readonly details: { differences?: Difference[]; violations?: Violation[]; against?: string } = {},
  ) {
    super(message);
  }
}

/** The same bounds as db:migrate's: baseline takes its lock and runs its conversion as a migration would. */
export type BaselineOptions = MigrateOptions;

export interface BaselineResult {
  /** converted: the specification's schema, brought to the committed one; recorded: a prefix, its migrations recorded; nothing: empty, or adopted already. */
  outcome: 'converted' | 'recorded' | 'already-recorded' | 'empty';
  /** What the database was recognised as. */
  recognised: string;
  /** The migrations recorded as applied by this run (or, on a dry run, that would be). */
  recorded: Migration[];
  /** What db:migrate still applies. */
  pending: Migration[];
  dryRun: boolean;
}

const MAX_LISTED = 40;
/** Recognition is exact: an extension more is another state (the one after 0000_extensions, say). */
const STRICT = { strictExtensions: true };
const listed = (lines: string[]) =>
  lines.slice(0, MAX_LISTED).map((l) => `\n  ${l}`).join('') + (lines.length > MAX_LISTED ? `\n  ... and ${lines.length - MAX_LISTED} more` : '');

/** Recognises the database and adopts it, or refuses (BaselineRefused) having changed nothing. */
export async function baseline(client: Client, migrations: Migration[], options: BaselineOptions = {}): Promise<BaselineResult> {
  const log = options.log ?? (() => undefined);
  const bound = options.queryTimeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS;
  const ddlLock = options.ddlLockTimeoutSeconds ?? DEFAULT_DDL_LOCK_TIMEOUT_SECONDS;
  const statementBound = options.migrationQueryTimeoutSeconds ?? DEFAULT_MIGRATION_QUERY_TIMEOUT_SECONDS;
  const dryRun = Boolean(options.dryRun);
  timeoutMs(bound);
  const expected = readExpectedCatalog();
  const states = knownStates(migrations, expected);
  let who: SessionRole | undefined;
  let locked = false;
  try {
    who = await sessionRole(client, bound);
    if (!dryRun) {
      await assertOwnSession(client, bound);
      await acquireLock(client, options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS, bound, log);
      locked = true;
    }
    const history = await historyStatus(client, migrations, bound);
    const actual = await readCatalog(client, { queryTimeoutSeconds: bound });
    const prefixes = states.filter((s) => s.kind === 'prefix');

    if (history.applied.length > 0 || history.problems.length > 0) {
      if (history.problems.length > 0) {
        throw new BaselineRefused(`the database has a migration history already, which does not match the migration files; nothing was changed:${listed(history.problems)}`);
      }
      const applied = history.applied.length;
      const state = prefixes.find((s) => s.applied === applied)!;
      const differences = compareCatalogs(state.catalog, actual, STRICT);
      if (differences.length === 0) {
        log(`the database records ${plural(applied, 'migration')} already and matches ${state.label}: nothing to adopt`);
        return { outcome: 'already-recorded', recognised: state.label, recorded: [], pending: history.pending, dryRun };
      }
      throw new BaselineRefused(
        `the database has a migration history already (${plural(applied, 'migration')} applied), so there is nothing to adopt, and it differs from what ` +
          `${state.label} produce in ${plural(differences.length, 'way', 'ways')}; nothing was changed (npm run db:verify lists the drift):${listed(differences.map((d) => d.message))}`,
        { differences, against: state.label },
      );
    }

    const match = states.find((s) => compareCatalogs(s.catalog, actual, STRICT).length === 0);
    if (!match) {
      const ranked = states.map((s) => ({ s, differences: compareCatalogs(s.catalog, actual, STRICT) })).sort((a, b) => a.differences.length - b.differences.length);
      const closest = ranked[0];
      throw new BaselineRefused(
        `the database is neither the specification's schema nor a prefix of the committed migrations; nothing was changed or recorded. ` +
          `It differs from the closest, ${closest.s.label}, in ${plural(closest.differences.length, 'way', 'ways')}:${listed(closest.differences.map((d) => d.message))}`,
        { differences: closest.differences, against: closest.s.label },
      );
    }

    if (match.kind === 'prefix') {
      const recorded = migrations.slice(0, match.applied);
      const pending = migrations.slice(match.applied);
      if (recorded.length === 0) return { outcome: 'empty', recognised: match.label, recorded, pending, dryRun };
      if (!dryRun) {
        await inTransaction(client, bound, async () => {
          await ensureTable(client, bound);
          for (const m of recorded) await insertHistory(client, m, bound);
          // Under the lock, in the transaction: the schema is still what was recognised.
          const after = compareCatalogs(match.catalog, await readCatalog(client, { queryTimeoutSeconds: bound }), STRICT);
          if (after.length > 0) throw new BaselineRefused(`the schema changed while it was being recorded; nothing was recorded:${listed(after.map((d) => d.message))}`, { differences: after });
        });
      }
      return { outcome: 'recorded', recognised: match.label, recorded, pending, dryRun };
    }

    // The specification's schema: convert it.
    const checks = stricterChecks(match.catalog, expected);
    const script = fs.readFileSync(fromSpecPath(), 'utf8');
    const statements = splitStatements(script);
    const refuse = (violations: Violation[]) =>
      new BaselineRefused(
        `${plural(violations.length, 'stricter constraint')} of the committed schema refuse${violations.length === 1 ? 's' : ''} rows of this database; nothing was changed. ` +
          `Fix or remove those rows, then run db:baseline again:${listed(violations.map((v) => v.message))}`,
        { violations },
      );
    if (dryRun) {
      const violations = await findViolations(client, checks, expected, bound);
      if (violations.length > 0) throw refuse(violations);
      return { outcome: 'converted', recognised: match.label, recorded: migrations, pending: [], dryRun };
    }
    await inTransaction(client, bound, async () => {
      await boundedQuery(client, `SET LOCAL lock_timeout = '${timeoutMs(ddlLock)}ms'`, undefined, bound);
      const violations = await findViolations(client, checks, expected, statementBound);
      if (violations.length > 0) throw refuse(violations);
      log(`converting with ${path.relative(ROOT, fromSpecPath())} (${plural(statements.length, 'statement')})`);
      for (const [i, s] of statements.entries()) {
        try {
          await boundedQuery(client, s.sql, undefined, statementBound);
        } catch (error) {
          const e = error as { message?: string; detail?: string };
          throw new BaselineRefused(
            `${path.relative(ROOT, fromSpecPath())} failed at statement ${i + 1} of ${statements.length} (line ${s.line}): ${e.message ?? String(error)}` +
              `${e.detail ? ` (${e.detail})` : ''}. Everything was rolled back; nothing was changed.`,
          );
        }
      }
      await ensureTable(client, bound);
      for (const m of migrations) await insertHistory(client, m, bound);
      const differences = compareCatalogs(expected, await readCatalog(client, { queryTimeoutSeconds: bound }), STRICT);
      if (differences.length > 0) {
        throw new BaselineRefused(
          `after the conversion the schema still differs from the committed migrations in ${plural(differences.length, 'way', 'ways')}, so everything was rolled back; nothing was changed:${listed(differences.map((d) => d.message))}`,
          { differences, against: 'the committed migrations' },
        );
      }
    });
    return { outcome: 'converted', recognised: match.label, recorded: migrations, pending: [], dryRun };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === INSUFFICIENT_PRIVILEGE && who && !who.mayMigrate) throw notMigrator(who, e.message ?? String(error), 'migrations', 'nothing was changed');
    throw error;
  } finally {
    if (locked && !isClosed(client)) await boundedQuery(client, `SELECT pg_advisory_unlock(${LOCK_KEY})`, undefined, bound).catch(() => undefined);
  }
}

/** The history row of a migration, as the runner writes it (lib/migrations/runner.ts, applyOne). */
async function insertHistory(client: Client, m: Migration, bound: number): Promise<void> {
  await boundedQuery(client, `INSERT INTO ${TABLE} (hash, created_at, name) VALUES ($1, $2, $3)`, [m.hash, m.createdAt, m.name], bound);
}

async function inTransaction(client: Client, bound: number, work: () => Promise<void>): Promise<void> {
  await boundedQuery(client, 'BEGIN', undefined, bound);
  try {
    await work();
  } catch (error) {
    if (!isClosed(client)) await boundedQuery(client, 'ROLLBACK', undefined, bound).catch(() => undefined);
    throw error;
  }
  await boundedQuery(client, 'COMMIT', undefined, bound);
}
