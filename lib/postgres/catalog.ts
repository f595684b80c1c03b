import type { Client } from 'pg';
import { boundedQuery } from '../migrations/runner';

/**
 * A database's schema as plain data, read from PostgreSQL's catalogs, and the comparison of two of
 * them. `db:verify` compares the live database with the catalog the committed migrations produce
 * (schema/migrations/catalog.json); `db:baseline` is to reuse both to recognise a database built
 * another way. Everything here only reads.
 *
 * Objects are named as a person would write them: `documents`, `documents.title`, `idx_users_role`,
 * qualified with their schema when it is not `public`. Objects that belong to an extension
 * (pg_trgm's functions and types in `public`) are the extension's, not the schema's, and are left out,
 * as are the system schemas and `drizzle`, where the migration history lives.
 */

/** The schema of drizzle's history table: the runner's bookkeeping, not part of the schema. */
export const HISTORY_SCHEMA = 'drizzle';

export interface CatalogColumn {
  type: string;
  notNull: boolean;
  /** The default's expression as PostgreSQL prints it (pg_get_expr), or null; for a generated column, its expression. */
  default: string | null;
  /** '' plain, 's' stored generated column. */
  generated: string;
  /** '' none, 'a' GENERATED ALWAYS AS IDENTITY, 'd' BY DEFAULT. */
  identity: string;
  /** The column's collation, only when it is not its type's default (format_type does not show it). */
  collation?: string;
  /**
   * How PostgreSQL stores the column's values (ALTER COLUMN SET STORAGE: PLAIN, EXTERNAL, EXTENDED
   * or MAIN), only when it is not its type's default. documents.search_vector's MAIN (migration 0011)
   * is what keeps the search from reading the TOAST table.
   */
  storage?: string;
}

export interface Catalog {
  /** The schemas besides the system ones and drizzle's. */
  schemas: string[];
  extensions: string[];
  /** Enum type -> its labels, in order. */
  enums: Record<string, string[]>;
  /** Table, view, sequence... -> its kind (and a view's definition). */
  relations: Record<string, { kind: RelationKind; definition?: string }>;
  /** `table.column` -> the column. */
  columns: Record<string, CatalogColumn>;
  /** Index -> its table and its whole definition (pg_get_indexdef); `valid` false after a failed CREATE INDEX CONCURRENTLY. */
  indexes: Record<string, { table: string; definition: string; valid: boolean }>;
  /** `table.constraint` -> its definition (pg_get_constraintdef) and whether it is validated. */
  constraints: Record<string, { definition: string; validated: boolean }>;
  /** `table.trigger` -> its definition (pg_get_triggerdef) and whether it fires ('O' origin, 'D' disabled...). */
  triggers: Record<string, { definition: string; enabled: string }>;
  /** `function(identity arguments)` -> its definition (pg_get_functiondef). */
  functions: Record<string, string>;
  /**
   * In the recorded catalog only (never read from a database): each committed migration's name and
   * sha256, as the catalog was written from. A catalog whose list is not the committed migrations'
   * is stale (lib/migrations/verify.ts, catalogStaleness).
   */
  migrations?: Record<string, string>;
}

export type RelationKind = 'table' | 'partitioned table' | 'view' | 'materialized view' | 'sequence' | 'foreign table';
const RELKINDS: Record<string, RelationKind> = { r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', S: 'sequence', f: 'foreign table' };

/** The user's schemas, as a CTE every query starts from. */
const SCHEMAS = `ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema', '${HISTORY_SCHEMA}') AND nspname !~ '^pg_(toast|temp_|toast_temp_)')`;

/** Not a member of an extension (pg_depend deptype 'e'), for the catalog `klass` (pg_class, pg_type, pg_proc). */
const notExtensionMember = (klass: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '${klass}'::regclass AND dep.objid = ${oid} AND dep.deptype = 'e')`;

/** A name qualified with its schema unless that is `public`, in SQL. */
const qualified = (schema: string, name: string) => `CASE WHEN ${schema} = 'public' THEN ${name}::text ELSE ${schema}::text || '.' || ${name}::text END`;

const QUERIES = {
  schemas: `WITH ${SCHEMAS} SELECT nspname AS name FROM ns ORDER BY 1`,
  extensions: `SELECT extname AS name FROM pg_extension ORDER BY 1`,
  enums: `WITH ${SCHEMAS}
    SELECT ${qualified('n.nspname', 't.typname')} AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
      FROM pg_type t JOIN ns n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
     WHERE ${notExtensionMember('pg_type', 't.oid')} GROUP BY 1 ORDER BY 1`,
  relations: `WITH ${SCHEMAS}
    SELECT ${qualified('n.nspname', 'c.relname')} AS name, c.relkind::text AS kind,
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition
      FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${notExtensionMember('pg_class', 'c.oid')} ORDER BY 1`,
  columns: `WITH ${SCHEMAS}
    SELECT ${qualified('n.nspname', 'c.relname')} || '.' || a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS "notNull", pg_get_expr(d.adbin, d.adrelid) AS default, a.attgenerated::text AS generated, a.attidentity::text AS identity,
           CASE WHEN a.attcollation <> 0 AND a.attcollation IS DISTINCT FROM ty.typcollation THEN
             (SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN co.collname::text ELSE cn.nspname || '.' || co.collname END
                FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END AS collation,
           CASE WHEN a.attstorage <> ty.typstorage THEN
             CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'x' THEN 'EXTENDED' WHEN 'm' THEN 'MAIN' ELSE a.attstorage::text END END AS storage
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns n ON n.oid = c.relnamespace JOIN pg_type ty ON ty.oid = a.atttypid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${notExtensionMember('pg_class', 'c.oid')}
     ORDER BY 1`,
  indexes: `WITH ${SCHEMAS}
    SELECT ${qualified('n.nspname', 'ic.relname')} AS name, ${qualified('n.nspname', 't.relname')} AS table,
           pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid AS valid
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid JOIN ns n ON n.oid = ic.relnamespace
     WHERE ${notExtensionMember('pg_class', 't.oid')} ORDER BY 1`,
  constraints: `WITH ${SCHEMAS}
    SELECT ${qualified('n.nspname', 't.relname')} || '.' || co.conname AS name, pg_get_constraintdef(co.oid) AS definition, co.convalidated AS validated
      FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid JOIN ns n ON n.oid = t.relnamespace
     WHERE ${notExtensionMember('pg_class', 't.oid')} ORDER BY 1`,
  triggers: `WITH ${SCHEMAS}
    SELECT ${qualified('n.nspname', 't.relname')} || '.' || tg.tgname AS name, pg_get_triggerdef(tg.oid) AS definition, tg.tgenabled::text AS enabled
      FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid JOIN ns n ON n.oid = t.relnamespace
     WHERE NOT tg.tgisinternal ORDER BY 1`,
  functions: `WITH ${SCHEMAS}
    SELECT ${qualified('n.nspname', 'p.proname')} || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, pg_get_functiondef(p.oid) AS definition
      FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
     WHERE p.prokind IN ('f', 'p') AND ${notExtensionMember('pg_proc', 'p.oid')} ORDER BY 1`,
} as const;

export interface ReadOptions {
  /** How long each query may wait for the server's answer (seconds) before the connection is closed. */
  queryTimeoutSeconds: number;
}

/** The database's catalog, in a few read-only queries (each bounded by `queryTimeoutSeconds`). */
export async function readCatalog(client: Client, options: ReadOptions): Promise<Catalog> {
  const q = async <R extends object>(sql: string) => (await boundedQuery<R & Record<string, unknown>>(client, sql, undefined, options.queryTimeoutSeconds)).rows as R[];
  const byName = <R extends { name: string }, V>(rows: R[], value: (r: R) => V): Record<string, V> => Object.fromEntries(rows.map((r) => [r.name, value(r)]));
  const schemas = await q<{ name: string }>(QUERIES.schemas);
  const extensions = await q<{ name: string }>(QUERIES.extensions);
  const enums = await q<{ name: string; labels: string[] }>(QUERIES.enums);
  const relations = await q<{ name: string; kind: string; definition: string | null }>(QUERIES.relations);
  const columns = await q<{ name: string } & Omit<CatalogColumn, 'collation' | 'storage'> & { collation: string | null; storage: string | null }>(QUERIES.columns);
  const indexes = await q<{ name: string; table: string; definition: string; valid: boolean }>(QUERIES.indexes);
  const constraints = await q<{ name: string; definition: string; validated: boolean }>(QUERIES.constraints);
  const triggers = await q<{ name: string; definition: string; enabled: string }>(QUERIES.triggers);
  const functions = await q<{ name: string; definition: string }>(QUERIES.functions);
  return {
    schemas: schemas.map((r) => r.name),
    extensions: extensions.map((r) => r.name),
    enums: byName(enums, (r) => r.labels),
    relations: byName(relations, (r) => ({ kind: RELKINDS[r.kind], ...(r.definition === null ? {} : { definition: r.definition }) })),
    columns: byName(columns, (r) => ({
      type: r.type,
      notNull: r.notNull,
      default: r.default,
      generated: r.generated,
      identity: r.identity,
      ...(r.collation === null ? {} : { collation: r.collation }),
      ...(r.storage === null ? {} : { storage: r.storage }),
    })),
    indexes: byName(indexes, (r) => ({ table: r.table, definition: r.definition, valid: r.valid })),
    constraints: byName(constraints, (r) => ({ definition: r.definition, validated: r.validated })),
    triggers: byName(triggers, (r) => ({ definition: r.definition, enabled: r.enabled })),
    functions: byName(functions, (r) => r.definition),
  };
}

/** What kind of object a difference is about. */
export type ObjectKind =
  | 'schema'
  | 'extension'
  | 'enum'
  | RelationKind
  | 'column'
  | 'index'
  | 'constraint'
  | 'trigger'
  | 'function'
  | 'grant'
  | 'default privilege'
  | 'database'
  | 'role';

/**
 * One way the live database differs from the expected catalog: `missing` (expected, not there),
 * `unexpected` (there, not expected) or `changed` (`attribute` says what: type, default...).
 */
export interface Difference {
  kind: ObjectKind;
  name: string;
  problem: 'missing' | 'unexpected' | 'changed';
  attribute?: string;
  expected?: unknown;
  actual?: unknown;
  /** The line a person reads, e.g. `column documents.extra: not in the migrations`. */
  message: string;
}

export const missing = (kind: ObjectKind, name: string): Difference => ({ kind, name, problem: 'missing', message: `${kind} ${name}: missing` });
export const unexpected = (kind: ObjectKind, name: string, what = 'not in the migrations'): Difference => ({ kind, name, problem: 'unexpected', message: `${kind} ${name}: ${what}` });

const show = (value: string | null) => (value === null ? 'none' : value);
const generatedWord: Record<string, string> = { '': 'not generated', s: 'GENERATED ALWAYS AS (...) STORED' };
const identityWord: Record<string, string> = { '': 'no identity', a: 'GENERATED ALWAYS AS IDENTITY', d: 'GENERATED BY DEFAULT AS IDENTITY' };
const triggerState: Record<string, string> = { O: 'enabled', D: 'disabled', R: 'enabled on replicas only', A: 'always enabled' };

/** Keys present on one side only, and keys on both, in sorted order. */
function sides<T>(expected: Record<string, T>, actual: Record<string, T>) {
  const gone = Object.keys(expected).filter((k) => !(k in actual)).sort();
  const extra = Object.keys(actual).filter((k) => !(k in expected)).sort();
  const both = Object.keys(expected).filter((k) => k in actual).sort();
  return { gone, extra, both };
}

const asSet = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, true]));

/**
 * Every difference between `actual` (the live database) and `expected`, by kind and name. A
 * missing table is one difference, not one per column (its columns, indexes, constraints and
 * triggers are left out); so is an unexpected one.
 */
export function compareCatalogs(expected: Catalog, actual: Catalog, options: { strictExtensions?: boolean } = {}): Difference[] {
  const out: Difference[] = [];
  const changed = (kind: ObjectKind, name: string, attribute: string | undefined, exp: unknown, act: unknown, message: string) =>
    out.push({ kind, name, problem: 'changed', ...(attribute ? { attribute } : {}), expected: exp, actual: act, message });

  const setDiff = (kind: ObjectKind, exp: readonly string[], act: readonly string[]) => {
    const { gone, extra } = sides(asSet(exp), asSet(act));
    for (const n of gone) out.push(missing(kind, n));
    for (const n of extra) out.push(unexpected(kind, n));
  };
  setDiff('schema', expected.schemas, actual.schemas);
  // An extension the migrations do not create is a note (catalogNotes), not a difference: a managed
  // server installs some in every database (template1); its objects are its own and not compared.
  // db:baseline, which must tell apart states that differ only by an extension, compares them strictly.
  if (options.strictExtensions) setDiff('extension', expected.extensions, actual.extensions);
  else for (const n of expected.extensions.filter((e) => !actual.extensions.includes(e)).sort()) out.push(missing('extension', n));

  const enums = sides(expected.enums, actual.enums);
  for (const n of enums.gone) out.push(missing('enum', n));
  for (const n of enums.extra) out.push(unexpected('enum', n));
  for (const n of enums.both) {
    const [e, a] = [expected.enums[n], actual.enums[n]];
    if (e.join('\u0000') !== a.join('\u0000')) changed('enum', n, 'labels', e, a, `enum ${n}: labels ${a.join(', ')}, expected ${e.join(', ')}`);
  }

  const relations = sides(expected.relations, actual.relations);
  const skipped = new Set([...relations.gone, ...relations.extra]);
  for (const n of relations.gone) out.push(missing(expected.relations[n].kind, n));
  for (const n of relations.extra) out.push(unexpected(actual.relations[n].kind, n));
  for (const n of relations.both) {
    const [e, a] = [expected.relations[n], actual.relations[n]];
    if (e.kind !== a.kind) changed(e.kind, n, 'kind', e.kind, a.kind, `${e.kind} ${n}: a ${a.kind}, expected a ${e.kind}`);
    else if ((e.definition ?? null) !== (a.definition ?? null)) changed(e.kind, n, 'definition', e.definition, a.definition, `${e.kind} ${n}: definition ${a.definition}, expected ${e.definition}`);
  }
  /** The table part of `table.name` (the name itself may not hold a dot: the table's schema may). */
  const owner = (key: string) => key.slice(0, key.lastIndexOf('.'));
  const inSkipped = (key: string) => skipped.has(owner(key));

  const columns = sides(expected.columns, actual.columns);
  for (const n of columns.gone.filter((k) => !inSkipped(k))) out.push(missing('column', n));
  for (const n of columns.extra.filter((k) => !inSkipped(k))) out.push(unexpected('column', n));
  for (const n of columns.both) {
    const [e, a] = [expected.columns[n], actual.columns[n]];
    if (e.type !== a.type) changed('column', n, 'type', e.type, a.type, `type of ${n}: ${a.type}, expected ${e.type}`);
    if (e.notNull !== a.notNull) changed('column', n, 'notNull', e.notNull, a.notNull, `column ${n}: ${a.notNull ? 'NOT NULL' : 'nullable'}, expected ${e.notNull ? 'NOT NULL' : 'nullable'}`);
    if (e.generated !== a.generated) {
      changed('column', n, 'generated', e.generated, a.generated, `column ${n}: ${generatedWord[a.generated] ?? a.generated}, expected ${generatedWord[e.generated] ?? e.generated}`);
    } else if (e.default !== a.default) {
      const what = e.generated ? 'generation expression' : 'default';
      changed('column', n, 'default', e.default, a.default, `${what} of ${n}: ${show(a.default)}, expected ${show(e.default)}`);
    }
    if ((e.collation ?? null) !== (a.collation ?? null)) {
      const word = (c: string | undefined) => (c === undefined ? "its type's default" : `"${c}"`);
      changed('column', n, 'collation', e.collation ?? null, a.collation ?? null, `collation of ${n}: ${word(a.collation)}, expected ${word(e.collation)}`);
    }
    if ((e.storage ?? null) !== (a.storage ?? null)) {
      const word = (storage: string | undefined) => storage ?? "its type's default";
      changed('column', n, 'storage', e.storage ?? null, a.storage ?? null, `storage of ${n}: ${word(a.storage)}, expected ${word(e.storage)}`);
    }
    if (e.identity !== a.identity) changed('column', n, 'identity', e.identity, a.identity, `column ${n}: ${identityWord[a.identity] ?? a.identity}, expected ${identityWord[e.identity] ?? e.identity}`);
  }

  const indexes = sides(expected.indexes, actual.indexes);
  for (const n of indexes.gone.filter((k) => !skipped.has(expected.indexes[k].table))) out.push(missing('index', n));
  for (const n of indexes.extra.filter((k) => !skipped.has(actual.indexes[k].table))) out.push(unexpected('index', n));
  for (const n of indexes.both) {
    const [e, a] = [expected.indexes[n], actual.indexes[n]];
    if (e.definition !== a.definition) changed('index', n, 'definition', e.definition, a.definition, `index ${n}: ${a.definition}, expected ${e.definition}`);
    if (e.valid !== a.valid) changed('index', n, 'valid', e.valid, a.valid, `index ${n}: ${a.valid ? 'valid' : 'invalid (a failed CREATE INDEX CONCURRENTLY?)'}, expected ${e.valid ? 'valid' : 'invalid'}`);
  }

  const constraints = sides(expected.constraints, actual.constraints);
  for (const n of constraints.gone.filter((k) => !inSkipped(k))) out.push(missing('constraint', n));
  for (const n of constraints.extra.filter((k) => !inSkipped(k))) out.push(unexpected('constraint', n));
  for (const n of constraints.both) {
    const [e, a] = [expected.constraints[n], actual.constraints[n]];
    if (e.definition !== a.definition) changed('constraint', n, 'definition', e.definition, a.definition, `constraint ${n}: ${a.definition}, expected ${e.definition}`);
    if (e.validated !== a.validated) changed('constraint', n, 'validated', e.validated, a.validated, `constraint ${n}: ${a.validated ? 'validated' : 'NOT VALID'}, expected ${e.validated ? 'validated' : 'NOT VALID'}`);
  }

  const triggers = sides(expected.triggers, actual.triggers);
  for (const n of triggers.gone.filter((k) => !inSkipped(k))) out.push(missing('trigger', n));
  for (const n of triggers.extra.filter((k) => !inSkipped(k))) out.push(unexpected('trigger', n));
  for (const n of triggers.both) {
    const [e, a] = [expected.triggers[n], actual.triggers[n]];
    if (e.definition !== a.definition) changed('trigger', n, 'definition', e.definition, a.definition, `trigger ${n}: ${a.definition}, expected ${e.definition}`);
    if (e.enabled !== a.enabled) changed('trigger', n, 'enabled', e.enabled, a.enabled, `trigger ${n}: ${triggerState[a.enabled] ?? a.enabled}, expected ${triggerState[e.enabled] ?? e.enabled}`);
  }

  const functions = sides(expected.functions, actual.functions);
  for (const n of functions.gone) out.push(missing('function', n));
  for (const n of functions.extra) out.push(unexpected('function', n));
  for (const n of functions.both) {
    if (expected.functions[n] !== actual.functions[n]) changed('function', n, 'definition', expected.functions[n], actual.functions[n], `function ${n}: its definition differs from the migrations'`);
  }
  return out;
}

/**
 * What is worth saying about `actual` that is no difference: extensions the migrations do not create
 * (a managed server's template1 gives every database some, e.g. pg_stat_statements). Their objects
 * belong to them and are not compared; one that took a name the migrations use shows as that object
 * missing or changed.
 */
export function catalogNotes(expected: Catalog, actual: Catalog): string[] {
  return actual.extensions
    .filter((e) => !expected.extensions.includes(e))
    .sort()
    .map((e) => `extension ${e}: installed, though the migrations do not create it (a managed server's template1 may); its objects are not compared`);
}

/** The catalog as stable JSON: keys sorted at every level, so a rewrite of an unchanged schema changes no byte. */
export function catalogJson(catalog: Catalog): string {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort);
    if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sort((value as Record<string, unknown>)[k])]));
    return value;
  };
  return `${JSON.stringify(sort(catalog), null, 2)}\n`;
}
