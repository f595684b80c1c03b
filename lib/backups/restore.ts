import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from 'pg';
import { checksumProblem, type BackupFile } from './files';
import { connect, UserFacingError, withDatabase, type DatabaseTarget } from '../postgres/connection';
import { findPgTool, libpqConnection, runAbortable, runPgTool, serverMajor, ToolStalledError } from '../postgres/pg-tools';
import { boundQueries, DEFAULT_RESTORE_STALL_SECONDS } from './stall-limits';
import { quoteIdent, renameDatabase, splitStatements } from '../postgres/sql-script';
import { loadTableData } from './table-data';

export interface RestoreOptions {
  /** A login on the server that may create databases and own what the backup's objects are owned by (its superuser). */
  admin: DatabaseTarget;
  /** The database to restore into; made if missing. */
  database: string;
  backup: BackupFile;
  /** Replace a database that holds anything. */
  replace: boolean;
  log: (line: string) => void;
  /** Aborting stops the restore before the swap and drops what it made; the target stays as it was. */
  signal?: AbortSignal;
  /** Seconds without progress (a server that stopped answering) before the restore gives up; default DEFAULT_RESTORE_STALL_SECONDS. */
  stallSeconds?: number;
  /** Sessions that share each table's rows, and pg_restore's jobs building indexes, each a connection of its own; default defaultRestoreJobs(). */
  jobs?: number;
}

/** The most jobs a restore takes unless told: beyond the cores, jobs only wait for each other. */
export const MAX_DEFAULT_RESTORE_JOBS = 4;
export const MAX_RESTORE_JOBS = 32;

/**
 * One job per core here, at most MAX_DEFAULT_RESTORE_JOBS. A job takes a share of a table's rows
 * or builds an index, each in a server process of its own (the server does the work:
 * parsing rows, computing generated columns such as the documents' search vector, building
 * indexes), so jobs help only while the server has cores for them; the database server is usually
 * this machine, or one no bigger.
 */
export function defaultRestoreJobs(): number {
  return Math.max(1, Math.min(MAX_DEFAULT_RESTORE_JOBS, os.availableParallelism()));
}

/** Where the admin connection goes for CREATE/ALTER/DROP DATABASE: never the database being replaced. */
const MAINTENANCE_DATABASE = 'postgres';
/** Databases a restore must never replace. */
const PROTECTED = new Set([MAINTENANCE_DATABASE, 'template0', 'template1']);
const TEMPORARY_SUFFIX = '__restore_';
const REPLACED_SUFFIX = '__replaced_';
const randomSuffix = () => randomBytes(3).toString('hex');
/**
 * The application name of a restore's admin session, which it keeps open from start to end: while
 * it is there, the restore that made NAME__restore_<suffix> is running.
 */
const ownerName = (suffix: string) => `db:restore ${suffix}`;
/** PostgreSQL's identifier limit (NAMEDATALEN - 1), less the longest suffix the restore adds to the name. */
const MAX_NAME_BYTES = 63 - Math.max(TEMPORARY_SUFFIX.length, REPLACED_SUFFIX.length) - randomSuffix().length;

export function databaseNameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'name the database to restore into with --database';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `the database name must be at most ${MAX_NAME_BYTES} bytes (the restore works in a temporary database named after it)`;
  if (PROTECTED.has(name)) return `"${name}" is one of PostgreSQL's own databases; restore into another`;
  if (/[\0-\x1f]/.test(name)) return 'the database name may not hold control characters';
  return undefined;
}

/** A line of `pg_restore --list` naming an entry: its dump id, then its catalog ids (pg_backup_archiver.c, PrintTOCSummary). */
const TOC_ENTRY = /^\d+; \d+ \d+ /;
/** The entries that hold a table's rows. */
const TABLE_DATA_ENTRY = /^\d+; \d+ \d+ TABLE DATA /;
/** The TOC entries about the database itself (its creation, owner, ACL, settings, comment). */
const DATABASE_ENTRY = /^\d+; \d+ \d+ (DATABASE|DATABASE PROPERTIES|COMMENT - DATABASE|ACL - DATABASE|SECURITY LABEL - DATABASE) /;
/** The database's name as pg_dump spelt it in its CREATE DATABASE: a plain word or a quoted identifier. */
const CREATE_DATABASE = /^CREATE DATABASE ("(?:[^"]|"")*"|[^\s"]+) /;

/**
 * Runs `work` with a pg_restore --use-list file for each named list of TOC entries (lines of
 * `pg_restore --list`), in a temporary folder removed afterwards.
 */
async function withListFiles<K extends string, T>(lists: Record<K, string[]>, work: (files: Record<K, string>) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-restore-'));
  try {
    const files = {} as Record<K, string>;
    for (const name of Object.keys(lists) as K[]) {
      files[name] = path.join(dir, `${name}.list`);
      fs.writeFileSync(files[name], `${lists[name].join('\n')}\n`);
    }
    return await work(files);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Archive {
  /** The entries of its table of contents, as `pg_restore --list` prints them. */
  entries: string[];
  /** The database's name when it was dumped, as its SQL spells it. */
  dumpedName: string;
  dumpedMajor: number;
  /** CREATE DATABASE as dumped (encoding, locale), then its owner, ACL, settings and comment: SQL for the name given. */
  databaseSql: (name: string) => string[];
}

/**
 * Reads the archive's table of contents (pg_restore --list reads the header and TOC, so a file
 * that is not a pg_dump archive fails here) and its database-level SQL. Without --create,
 * pg_restore restores none of that (owner, CONNECT grants, settings), so it is applied here, to
 * whatever name the backup is restored under.
 */
async function readArchive(pgRestore: string, file: string, admin: DatabaseTarget): Promise<Archive> {
  const list = await runPgTool(pgRestore, ['--list', '--create', file], { env: {}, target: admin, keepStdout: true }).done.catch((error: Error) => {
    throw new UserFacingError(`${file} is not a readable pg_dump archive; nothing was changed: ${error.message}`);
  });
  const dumpedMajor = Number(/^;\s+Dumped from database version: (\d+)/m.exec(list)?.[1]);
  const toc = list.split('\n').filter((l) => TOC_ENTRY.test(l));
  const sql = await withListFiles({ database: toc.filter((l) => DATABASE_ENTRY.test(l)) }, ({ database }) =>
    runPgTool(pgRestore, ['--create', '--file=-', `--use-list=${database}`, file], { env: {}, target: admin, keepStdout: true }).done,
  );
  const statements = splitStatements(sql);
  const dumpedName = statements.map((s) => CREATE_DATABASE.exec(s)?.[1]).find((n) => n !== undefined);
  if (!dumpedMajor || dumpedName === undefined) {
    throw new UserFacingError(`${file} has no server version or CREATE DATABASE entry in its table of contents; nothing was changed.`);
  }
  // Session settings (SET, set_config) are pg_restore's own; only statements about the database are kept.
  const aboutDatabase = statements.filter((s) => renameDatabase(s, dumpedName, 'x') !== undefined);
  return { entries: toc, dumpedName, dumpedMajor, databaseSql: (name) => aboutDatabase.map((s) => renameDatabase(s, dumpedName, name) as string) };
}

/** What the connected database holds besides what every new database has, or undefined when it holds nothing. */
async function contentsOf(client: Client): Promise<string | undefined> {
  const { rows } = await client.query<Record<string, number>>(
    `WITH user_ns AS (SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_to%'),
          ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e')
     SELECT (SELECT count(*)::int FROM pg_class WHERE relnamespace IN (SELECT oid FROM user_ns) AND oid NOT IN (SELECT objid FROM ext)) AS "tables, indexes or sequences",
            (SELECT count(*)::int FROM pg_proc WHERE pronamespace IN (SELECT oid FROM user_ns) AND oid NOT IN (SELECT objid FROM ext)) AS "functions",
            (SELECT count(*)::int FROM pg_type WHERE typnamespace IN (SELECT oid FROM user_ns) AND typtype IN ('e', 'd', 'r', 'm') AND oid NOT IN (SELECT objid FROM ext)) AS "types",
            (SELECT count(*)::int FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%') AS "schemas",
            (SELECT count(*)::int FROM pg_extension WHERE extname <> 'plpgsql') AS "extensions",
            (SELECT count(*)::int FROM pg_largeobject_metadata) AS "large objects"`,
  );
  const held = Object.entries(rows[0]).filter(([, n]) => n > 0);
  return held.length === 0 ? undefined : held.map(([what, n]) => `${n} ${what}`).join(', ');
}

/** Bounds the queries of a client of the restore (stall-limits.ts boundQueries). */
type Bound = (client: Client) => Client;

/** A session on `database` as the admin, for `work`. */
async function inDatabase<T>(admin: DatabaseTarget, database: string, bound: Bound, work: (client: Client) => Promise<T>): Promise<T> {
  const client = bound(await connect(withDatabase(admin, database), 'db:restore'));
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function exists(client: Client, database: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  return rowCount === 1;
}

function refuseNonEmpty(database: string, contents: string): UserFacingError {
  return new UserFacingError(
    `database "${database}" is not empty (${contents}); nothing was changed. ` +
      'Pass --replace to replace it with the backup (it is swapped out only once the restore has succeeded), or restore into another --database.',
  );
}

/**
 * Puts the restored database in the target's place. The two renames are one transaction, so the
 * target is either the old database or the restored one, never missing; the old one is dropped
 * only after the swap committed. Without `replace`, the target is checked again once no session
 * can write to it: it may have been filled since the restore began.
 */
async function swap(client: Client, o: RestoreOptions, restored: string, suffix: string, bound: Bound): Promise<boolean> {
  const target = o.database;
  if (!(await exists(client, target))) {
    // Fails, changing nothing, should the target have been created meanwhile.
    await client.query(`ALTER DATABASE ${quoteIdent(restored)} RENAME TO ${quoteIdent(target)}`);
    return false;
  }
  // The restore's own suffix: the replaced database is known as its own while its admin session is there.
  const old = `${target}${REPLACED_SUFFIX}${suffix}`;
  const { rows } = await client.query<{ allow: boolean }>('SELECT datallowconn AS allow FROM pg_database WHERE datname = $1', [target]);
  // The check below runs in a session opened before new ones are kept out, and that session is not ended.
  const checker = o.replace ? undefined : bound(await connect(withDatabase(o.admin, target), 'db:restore'));
  // A database with sessions cannot be renamed: keep new ones out, end the ones there.
  await client.query(`ALTER DATABASE ${quoteIdent(target)} WITH ALLOW_CONNECTIONS false`);
  try {
    const { rows: pids } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const ours = [pids[0].pid];
    if (checker) ours.push((await checker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const ended = await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> ALL($2::int[])', [target, ours]);
    if (ended.rowCount) o.log(`ended ${ended.rowCount} session(s) on ${target}`);
    if (checker) {
      const contents = await contentsOf(checker);
      await checker.end();
      if (contents) throw refuseNonEmpty(target, contents);
    }
    await client.query('BEGIN');
    await client.query(`ALTER DATABASE ${quoteIdent(target)} RENAME TO ${quoteIdent(old)}`);
    await client.query(`ALTER DATABASE ${quoteIdent(restored)} RENAME TO ${quoteIdent(target)}`);
    await client.query('COMMIT');
  } catch (error) {
    await checker?.end().catch(() => undefined);
    await client.query('ROLLBACK').catch(() => undefined);
    const reopened = await client.query(`ALTER DATABASE ${quoteIdent(target)} WITH ALLOW_CONNECTIONS ${rows[0].allow}`).then(
      () => true,
      () => false,
    );
    if (!reopened) {
      throw new UserFacingError(
        `the restored database could not take "${target}"'s place, and "${target}" now refuses connections: ` +
          `run \`ALTER DATABASE ${quoteIdent(target)} WITH ALLOW_CONNECTIONS true\` as the admin. Its data is unchanged. (${(error as Error).message})`,
      );
    }
    throw error instanceof UserFacingError ? error : new UserFacingError(`the restored database could not take "${target}"'s place, which was left as it was: ${(error as Error).message}`);
  }
  try {
    await client.query(`DROP DATABASE ${quoteIdent(old)} WITH (FORCE)`);
  } catch (error) {
    o.log(`warning: the restore succeeded, but the replaced database, now "${old}", could not be dropped (${(error as Error).message}): drop it yourself.`);
  }
  return true;
}

/**
 * Drops the temporary databases of restores that were killed (no admin session of theirs is left,
 * and nobody is connected), and names what it leaves: one still in use, and the replaced databases
 * of restores killed between the swap and the drop, which hold the data before that restore.
 */
async function removeLeftovers(client: Client, log: (line: string) => void): Promise<void> {
  const { rows } = await client.query<{ name: string; suffix: string; owner_running: boolean; sessions: number[] }>(
    `SELECT d.datname AS name, substring(d.datname FROM '(${TEMPORARY_SUFFIX}|${REPLACED_SUFFIX})[0-9a-f]{6}$') AS suffix,
            EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = $1 || right(d.datname, 6)) AS owner_running,
            ARRAY(SELECT a.pid FROM pg_stat_activity a WHERE a.datid = d.oid) AS sessions
       FROM pg_database d WHERE d.datname ~ '(${TEMPORARY_SUFFIX}|${REPLACED_SUFFIX})[0-9a-f]{6}$' ORDER BY 1`,
    [ownerName('')],
  );
  for (const r of rows) {
    const drop = `DROP DATABASE ${quoteIdent(r.name)} WITH (FORCE)`;
    if (r.owner_running) continue; // another restore's, running now
    if (r.suffix === REPLACED_SUFFIX) {
      log(`note: "${r.name}" holds what an earlier restore replaced (it was stopped before it dropped it): drop it once you no longer need it (${drop}).`);
    } else if (r.sessions.length > 0) {
      log(`note: "${r.name}" is left from a restore that was stopped, but session(s) ${r.sessions.join(', ')} still use it: it is dropped by the next restore once they have ended, or run ${drop}.`);
    } else {
      await client.query(drop).then(
        () => log(`dropped "${r.name}", left by a restore that was stopped before it ended`),
        (error: Error) => log(`note: "${r.name}" is left from a restore that was stopped, and could not be dropped (${error.message}): run ${drop} as its owner.`),
      );
    }
  }
}

/** Stops the restore, with a message, once the signal has aborted; nothing has replaced the target yet. */
function checkAborted(signal: AbortSignal | undefined, database: string): void {
  if (signal?.aborted) throw new UserFacingError(`the restore was stopped before it replaced anything; "${database}" was left as it was.`);
}

class LoadStalledError extends UserFacingError {}

/** How long a table's rows take before the restore names the table. */
const SLOW_TABLE_MS = 2000;

/**
 * Fills the new database from the archive in three steps, each only once the one before has
 * succeeded:
 * 1. pg_restore creates the schema (the archive's pre-data section: types, functions, tables) and
 *    sets what else the data section holds (sequence values, large objects), in one session;
 * 2. the tables' rows go in, every table's split between `jobs` sessions (lib/backups/table-data.ts);
 * 3. pg_restore --jobs builds the indexes and adds the keys, triggers and grants (the post-data
 *    section), each in a worker of its own, as many at once as their dependencies allow
 *    (pg_backup_archiver.c, restore_toc_entries_parallel; entries not restored in that run count
 *    as done: "skipping item").
 * pg_restore assigns each entry one section: its own, or for an entry of none (a grant, a
 * comment) that of the entry before it (ProcessArchiveRestoreOptions), so the three steps restore
 * each entry once. (The grants of the schema's objects are pre-data, so they now come before the
 * rows: the admin is the server's superuser, whom no grant holds back.) A single `pg_restore
 * --jobs` loads each table in one session: the documents,
 * whose rows' search vectors the server computes as they go in, would take one core.
 * --exit-on-error holds in each step, and for --jobs' workers too: a worker's error ends it
 * (warn_or_exit_horribly), and the leader, finding it gone, ends the others and fails (parallel.c,
 * "a worker process died unexpectedly"; archive_close_connection). Whatever went in stays in the
 * temporary database, which the caller drops: the restore is still all or nothing.
 */
async function restoreInPhases(o: RestoreOptions & { pgRestore: string; archive: Archive; temporary: string; jobs: number; stallSeconds: number; bound: Bound; server: DatabaseTarget }): Promise<void> {
  const target = withDatabase(o.admin, o.temporary);
  const conn = libpqConnection(target);
  const failed = (error: Error): never => {
    checkAborted(o.signal, o.database);
    if (error instanceof ToolStalledError) {
      throw new UserFacingError(
        `pg_restore made no progress for ${o.stallSeconds} s: nothing read from the backup, nothing sent to or received from PostgreSQL at ${o.server.display}, no line of output. ` +
          `The server stopped answering, or something held it up. pg_restore was stopped, so "${o.database}" was left as it was. ` +
          `A long index build on a big table shows no progress either: if that is what took so long, allow it longer with --stall-timeout SECONDS.`,
      );
    }
    throw error instanceof LoadStalledError ? error : new UserFacingError(`the restore failed, so "${o.database}" was left as it was: ${error.message}`);
  };
  const pgRestore = async (args: string[], jobs: number) => {
    // --verbose: a failure then names the entry it was restoring ("from TOC entry ..."); the progress lines are filtered out (pg-tools.ts).
    const run = runPgTool(o.pgRestore, ['--exit-on-error', '--verbose', '--no-password', ...(jobs > 1 ? [`--jobs=${jobs}`] : []), `--dbname=${conn.dbname}`, ...args, o.backup.path], {
      env: { ...conn.env, PGAPPNAME: 'db:restore' },
      target: o.admin,
      stallSeconds: o.stallSeconds,
      workers: jobs > 1,
    });
    if (!run.tied && process.platform === 'linux') {
      o.log('warning: setpriv (util-linux) is not installed, so pg_restore would outlive this command killed with SIGKILL: install util-linux.');
    }
    await runAbortable(run, o.signal).catch(failed);
  };

  const lists = { tableData: o.archive.entries.filter((e) => TABLE_DATA_ENTRY.test(e)), rest: o.archive.entries.filter((e) => !TABLE_DATA_ENTRY.test(e)) };
  await withListFiles(lists, async ({ tableData, rest }) => {
    const sessions: Client[] = [];
    // Names each table whose rows take more than a moment, once, while they go in: the quick ones would only fill the log.
    let current: { table: string; since: number } | undefined;
    const loading = (table: string) => (current = { table, since: Date.now() });
    let naming: NodeJS.Timeout | undefined;
    try {
      // Each step's time, so that an operator sees where a long restore goes.
      let started = Date.now();
      const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
      await pgRestore(['--section=pre-data', '--section=data', `--use-list=${rest}`], 1);
      o.log(`  schema created in ${took()}`);
      checkAborted(o.signal, o.database);
      started = Date.now();
      for (let i = 0; i < o.jobs; i++) sessions.push(o.bound(await connect(target, 'db:restore')));
      naming = setInterval(() => {
        if (current && Date.now() - current.since >= SLOW_TABLE_MS) {
          o.log(`  loading ${current.table}`);
          current = undefined;
        }
      }, SLOW_TABLE_MS / 4);
      await loadTableData({
        pgRestore: o.pgRestore,
        file: o.backup.path,
        listFile: tableData,
        sessions,
        target: o.admin,
        stallSeconds: o.stallSeconds,
        stalled: () =>
          new LoadStalledError(
            `loading the backup's rows made no progress for ${o.stallSeconds} s: nothing read from the backup, no row taken by PostgreSQL at ${o.server.display}. ` +
              `The server stopped answering, or something held it up. The restore was stopped, so "${o.database}" was left as it was. ` +
              'If the server is only slow, allow it longer with --stall-timeout SECONDS.',
          ),
        signal: o.signal,
        onTable: loading,
      }).catch(failed);
      clearInterval(naming);
      o.log(`  rows loaded in ${took()}, in ${o.jobs === 1 ? '1 session' : `${o.jobs} sessions`}`);
      // Their goodbyes are not waited for: the server has answered every row, and the next step opens sessions of its own.
      for (const s of sessions.splice(0)) void s.end().catch(() => undefined);
      checkAborted(o.signal, o.database);
      o.log(`  building the indexes, keys and triggers with ${o.jobs === 1 ? '1 job' : `${o.jobs} jobs`}`);
      started = Date.now();
      await pgRestore(['--section=post-data'], o.jobs);
      o.log(`  indexes, keys and triggers built in ${took()}`);
    } finally {
      // Left when the load failed: a session still in a COPY is cut off (end() destroys its
      // connection); an idle one says goodbye, which a server that stopped answering never
      // acknowledges, so that is not waited for. The caller's DROP DATABASE ... WITH (FORCE) ends them all.
      for (const s of sessions) void s.end().catch(() => undefined);
      clearInterval(naming);
    }
  });
}

/**
 * Restores a backup into `database`: checks the file's checksum and archive first, restores into a
 * new temporary database (pg_restore --exit-on-error), and only when all of it went in swaps it
 * into place. Any failure, or an abort before the swap, drops the temporary database and leaves
 * the target as it was.
 */
export async function restore(o: RestoreOptions): Promise<{ ms: number; replaced: boolean }> {
  const started = Date.now();
  const nameProblem = databaseNameProblem(o.database);
  if (nameProblem) throw new UserFacingError(nameProblem);
  if (o.jobs !== undefined && !(Number.isInteger(o.jobs) && o.jobs >= 1 && o.jobs <= MAX_RESTORE_JOBS)) {
    throw new RangeError(`jobs must be a whole number from 1 to ${MAX_RESTORE_JOBS}, not ${o.jobs}`);
  }
  const problem = await checksumProblem(o.backup);
  if (problem) throw new UserFacingError(`${o.backup.path} cannot be restored: ${problem}. Nothing was changed; choose another backup with --file.`);
  o.log(`checksum of ${o.backup.name} verified`);

  const stallSeconds = o.stallSeconds ?? DEFAULT_RESTORE_STALL_SECONDS;
  const server = withDatabase(o.admin, MAINTENANCE_DATABASE);
  const suffix = randomSuffix();
  const temporary = `${o.database}${TEMPORARY_SUFFIX}${suffix}`;
  const bound: Bound = (c) =>
    boundQueries(
      c,
      stallSeconds,
      () =>
        new UserFacingError(
          `PostgreSQL at ${server.display} gave no answer for ${stallSeconds} s, so the restore was given up; "${o.database}" was left as it was ` +
            `(a database named "${temporary}" may be left: the next restore drops it). If the server is only slow, allow it longer with --stall-timeout SECONDS.`,
        ),
    );
  const client = bound(
    await connect(server, ownerName(suffix)).catch((error: Error) => {
      throw new UserFacingError(`${error.message} (the restore connects to the server's "${MAINTENANCE_DATABASE}" database to create and rename databases)`);
    }),
  );
  let created = false;
  try {
    await removeLeftovers(client, o.log);
    const { major } = await serverMajor(client);
    const pgRestore = await findPgTool('pg_restore', major);
    const archive = await readArchive(pgRestore, o.backup.path, server);
    if (archive.dumpedMajor > major) {
      throw new UserFacingError(`${o.backup.name} was dumped from PostgreSQL ${archive.dumpedMajor}, newer than this server's ${major}; nothing was changed.`);
    }
    if (!o.replace && (await exists(client, o.database))) {
      const contents = await inDatabase(o.admin, o.database, bound, contentsOf);
      if (contents) throw refuseNonEmpty(o.database, contents);
    }
    checkAborted(o.signal, o.database);
    const [create, ...properties] = archive.databaseSql(temporary);
    try {
      await client.query(create);
      created = true;
      for (const statement of properties) await client.query(statement);
    } catch (error) {
      throw new UserFacingError(
        `cannot create the database to restore into as the backup describes it (${(error as Error).message}); nothing was changed. ` +
          'The roles, tablespaces and locales the backup names must exist here (deploy the stack first), and DATABASE_URL must be the server\'s admin login.',
      );
    }
    const jobs = o.jobs ?? defaultRestoreJobs();
    o.log(`restoring ${o.backup.name} (dumped from ${archive.dumpedName}) into a new database, ${temporary}, with ${jobs === 1 ? '1 job' : `${jobs} jobs`}`);
    await restoreInPhases({ ...o, pgRestore, archive, temporary, jobs, stallSeconds, bound, server });
    checkAborted(o.signal, o.database);
    const replaced = await swap(client, o, temporary, suffix, bound);
    created = false;
    return { ms: Date.now() - started, replaced };
  } finally {
    if (created) {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(temporary)} WITH (FORCE)`).catch((error: Error) => {
        o.log(`warning: the database "${temporary}" this restore made could not be dropped (${error.message}): the next restore drops it, or run DROP DATABASE ${quoteIdent(temporary)} WITH (FORCE).`);
      });
    }
    await client.end();
  }
}
