import type { Client } from 'pg';
import { connect, parseDatabaseUrl, redact, UserFacingError, type DatabaseTarget } from '../postgres/connection';
import { CHECK_TIMEOUT_MS, CheckTimeout, fail, oneLine, pass, withTimeout, type HealthRow, type HealthVars } from './check';
import { readMigrations, type Migration } from '../migrations/files';
import { historyStatus, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../migrations/runner';
import { APP_ENV } from '../../common/names';
import { serverMajor } from '../postgres/pg-tools';
import { POSTGRES_MAJOR } from '../../common/names';
import { verifyDatabase } from '../migrations/verify';

/** How many of the differences the drift row names; `db:verify` lists them all. */
export const DRIFT_SHOWN = 3;

/** Client connections at or above this share of max_connections fail the check: new ones are about to be refused. */
export const CONNECTIONS_FAIL_RATIO = 0.9;

const INSUFFICIENT_PRIVILEGE = '42501';

/** The URLs the check may use, best first: the migrator can read the migrations table, the app role cannot. */
export const POSTGRES_SOURCES = [APP_ENV.migratorDatabaseUrl, APP_ENV.databaseUrl] as const;

/** One row of the specification's table statistics (pg_stat_user_tables). Counters are bigint: kept as text. */
export interface TableStats {
  schema: string;
  table: string;
  inserts: string;
  updates: string;
  deletes: string;
  live: string;
  dead: string;
}

/** The specification's "Database Health Checks" query, with the view's real column (relname) for the table. */
const TABLE_STATS_SQL = `SELECT schemaname AS schema, relname AS table, n_tup_ins AS inserts, n_tup_upd AS updates,
  n_tup_del AS deletes, n_live_tup AS live, n_dead_tup AS dead FROM pg_stat_user_tables ORDER BY schemaname, relname`;

const EXTENSION_DDL = /^\s*(CREATE|DROP)\s+EXTENSION\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:"([^"]+)"|([A-Za-z_][\w$]*))/gim;

/** The extensions the migrations leave installed, in the order they create them: the migrations are the one list. */
export function migrationExtensions(migrations: Migration[]): string[] {
  const installed = new Set<string>();
  for (const statement of migrations.flatMap((m) => m.statements)) {
    for (const [, verb, quoted, bare] of statement.sql.matchAll(EXTENSION_DDL)) {
      const name = quoted ?? bare.toLowerCase();
      if (verb.toUpperCase() === 'CREATE') installed.add(name);
      else installed.delete(name);
    }
  }
  return [...installed];
}

export interface PostgresHealth {
  rows: HealthRow[];
  /** With `tables`, once connected. */
  tables?: TableStats[];
}

const row = (check: string, ok: boolean, detail: string) => (ok ? pass : fail)('postgres', check, detail);

/**
 * Server version, the migrations' extensions, pending migrations and connection use, on
 * MIGRATOR_DATABASE_URL when it is set (it can read drizzle's migrations table), else DATABASE_URL.
 */
export async function checkPostgres(vars: HealthVars, options: { tables?: boolean } = {}): Promise<PostgresHealth> {
  const source = POSTGRES_SOURCES.find((name) => vars[name]);
  if (!source) {
    return { rows: [row('configuration', false, `not configured: set ${POSTGRES_SOURCES.join(' or ')} (or name a stack: npm run health -- --stack <name>)`)] };
  }
  let target: DatabaseTarget;
  let client: Client;
  try {
    target = parseDatabaseUrl(vars[source], source);
    client = await connect(target, 'health');
  } catch (error) {
    return { rows: [row('connection', false, message(error))] };
  }
  const rows = [row('connection', true, `${target.display} (from ${source})`)];
  const health: PostgresHealth = { rows };
  let abandoned = false;
  try {
    await withTimeout(runChecks(client, target, rows, options.tables ? health : undefined), CHECK_TIMEOUT_MS, () => {
      abandoned = true;
      void client.end().catch(() => undefined);
    });
  } catch (error) {
    if (!(error instanceof CheckTimeout)) throw error;
    // A copy: the abandoned checks may still add rows as their queries fail.
    health.rows = [...rows, row('responding', false, `the server stopped answering: ${error.message}. Check its load and logs`)];
  } finally {
    if (!abandoned) await client.end().catch(() => undefined);
  }
  return health;
}

/** Each check on its own: one failing (a permission, say) does not hide the others. Rows are added as they finish. */
async function runChecks(client: Client, target: DatabaseTarget, rows: HealthRow[], stats: PostgresHealth | undefined): Promise<void> {
  const attempt = async (check: string, run: () => Promise<[boolean, string]>) => {
    try {
      rows.push(row(check, ...(await run())));
    } catch (error) {
      rows.push(row(check, false, oneLine(redact(message(error), target))));
    }
  };
  await attempt('version', async () => {
    const { major, version } = await serverMajor(client);
    return major === POSTGRES_MAJOR
      ? [true, `PostgreSQL ${version}`]
      : [false, `PostgreSQL ${version}, expected ${POSTGRES_MAJOR}: the schema and its migrations are written for PostgreSQL ${POSTGRES_MAJOR}`];
  });
  let migrations: Migration[] | undefined;
  await attempt('extensions', async () => {
    migrations = readMigrations();
    const expected = migrationExtensions(migrations);
    const { rows: installed } = await client.query<{ extname: string }>('SELECT extname FROM pg_extension');
    const have = new Set(installed.map((e) => e.extname));
    const missing = expected.filter((name) => !have.has(name));
    return missing.length === 0
      ? [true, expected.join(', ')]
      : [false, `missing ${missing.join(', ')}: the migrations create them; run \`npm run db:migrate\``];
  });
  await attempt('migrations', async () => {
    const { applied, pending, problems } = await historyStatus(client, migrations ?? readMigrations()).catch((error: { code?: string }) => {
      if (error.code !== INSUFFICIENT_PRIVILEGE) throw error;
      throw new UserFacingError(
        `${target.source}'s role may not read ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}: set ${APP_ENV.migratorDatabaseUrl} to check the migrations`,
      );
    });
    // Each problem names its migration (a duplicate row, an edited or removed file): a count alone would hide them.
    if (problems.length > 0) return [false, `the history does not match the migration files: ${problems.join(' ')}`];
    if (pending.length === 0) return [true, `${applied.length} applied, none pending`];
    return [
      false,
      `${pending.length} pending (${pending.map((m) => m.name).join(', ')}) of ${applied.length + pending.length}: ` +
        `run \`npm run db:migrate\` with ${APP_ENV.migratorDatabaseUrl} as DATABASE_URL`,
    ];
  });
  await attempt('schema drift', async () => {
    const { differences, roles, pending, against } = await verifyDatabase(client, { queryTimeoutSeconds: CHECK_TIMEOUT_MS / 1000, ...(migrations ? { migrations } : {}) });
    if (differences.length === 0) {
      // Pending migrations are the migrations row's to report: here the schema is what the applied ones make.
      const what = pending.length === 0 ? 'the committed migrations' : `${against} (${pending.length} pending)`;
      return [true, `none: the schema and the grants of ${Object.values(roles ?? {}).join(', ')} are what ${what} and the stack make`];
    }
    const shown = differences.slice(0, DRIFT_SHOWN).map((d) => d.message);
    const more = differences.length > DRIFT_SHOWN ? `; and ${differences.length - DRIFT_SHOWN} more` : '';
    return [false, `${differences.length} difference${differences.length === 1 ? '' : 's'} from ${against}: ${shown.join('; ')}${more}. \`npm run db:verify\` lists them all`];
  });
  await attempt('connections', async () => {
    const { rows: [c] } = await client.query<{ used: number; max: number }>(
      `SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int AS used,
              current_setting('max_connections')::int AS max FROM pg_stat_activity`,
    );
    const percent = Math.round((100 * c.used) / c.max);
    const detail = `${c.used} of max_connections ${c.max} in use (${percent} %)`;
    return c.used / c.max < CONNECTIONS_FAIL_RATIO
      ? [true, detail]
      : [false, `${detail}: new connections will soon be refused; find the clients holding them (pg_stat_activity) or raise max_connections`];
  });
  if (stats) {
    await attempt('table statistics', async () => {
      stats.tables = (await client.query<TableStats>(TABLE_STATS_SQL)).rows;
      return [true, `${stats.tables.length} tables (below)`];
    });
  }
}

/** Our own messages (and the migrator's) are safe to print as they are; anything else is the server's text, redacted by the caller. */
function message(error: unknown): string {
  if (error instanceof UserFacingError) return error.message;
  return (error as { message?: string }).message ?? String(error);
}
