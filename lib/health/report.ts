import { APP_ENV } from '../../common/names';
import type { HealthRow, HealthVars } from './check';
import { checkPostgres, type TableStats } from './postgres';
import { checkRedis } from './redis';
import { checkStorage, STORAGE_VARIABLES } from './storage';

/**
 * `npm run health`: PostgreSQL, Redis and the object store, checked concurrently from one map of
 * the application's variables (common/names.ts), whether they came from a stack's outputs or from
 * the environment. Each service's checks are in lib/health/<service>.ts.
 */

export type { HealthRow, HealthVars } from './check';
export type { TableStats } from './postgres';

/** Every variable the checks read. */
export const HEALTH_VARIABLES: readonly string[] = [
  APP_ENV.databaseUrl,
  APP_ENV.migratorDatabaseUrl,
  APP_ENV.redisUrl,
  ...STORAGE_VARIABLES,
];

/** The variables from an environment; an empty value counts as unset. */
export function varsFromEnvironment(env: NodeJS.ProcessEnv): HealthVars {
  return Object.fromEntries(HEALTH_VARIABLES.map((name) => [name, env[name] === '' ? undefined : env[name]]));
}

export interface HealthReport {
  /** PostgreSQL's rows, then Redis's, then the object store's. */
  rows: HealthRow[];
  /** With `tables`: pg_stat_user_tables, once PostgreSQL could be reached. */
  tables?: TableStats[];
}

export async function checkHealth(vars: HealthVars, options: { tables?: boolean } = {}): Promise<HealthReport> {
  const [postgres, redis, storage] = await Promise.all([checkPostgres(vars, options), checkRedis(vars), checkStorage(vars)]);
  return { rows: [...postgres.rows, ...redis, ...storage], tables: postgres.tables };
}

/** A plain-text table: a header, a rule, then one line per row; columns in `right` are right-aligned. */
export function formatTable(header: readonly string[], rows: readonly string[][], right: readonly number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      // The last column is not padded: no trailing spaces.
      .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]) : i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ');
  // The last column's rule spans its header only: its cells (details) can be long.
  const rule = widths.map((w, i) => '-'.repeat(i === widths.length - 1 && !right.includes(i) ? header[i].length : w));
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}

export function formatHealthTable(rows: readonly HealthRow[]): string {
  return formatTable(
    ['service', 'check', 'status', 'detail'],
    rows.map((r) => [r.service, r.check, r.ok ? 'OK' : 'FAIL', r.detail]),
  );
}

export function formatTableStats(tables: readonly TableStats[]): string {
  return formatTable(
    ['schema', 'table', 'inserts', 'updates', 'deletes', 'live', 'dead'],
    tables.map((t) => [t.schema, t.table, t.inserts, t.updates, t.deletes, t.live, t.dead]),
    [2, 3, 4, 5, 6],
  );
}
