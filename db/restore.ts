import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from 'pg';
import { checksumProblem, type BackupFile } from './backup-files';
import { connect, UserFacingError, withDatabase, type DatabaseTarget } from './connection';
import { findPgTool, libpqConnection, runPgTool, serverMajor } from './pg-tools';

export interface RestoreOptions {
  /** A login on the server that may create databases and own what the backup's objects are owned by (its superuser). */
  admin: DatabaseTarget;
  /** The database to restore into; made if missing. */
  database: string;
  backup: BackupFile;
  /** Replace a database that has anything in it. */
  replace: boolean;
  log: (line: string) => void;
}

/** Where the admin connection goes for CREATE/ALTER/DROP DATABASE: never the database being replaced. */
const MAINTENANCE_DATABASE = 'postgres';
/** Databases a restore must never replace. */
const PROTECTED = new Set([MAINTENANCE_DATABASE, 'template0', 'template1']);
/** PostgreSQL's identifier limit (NAMEDATALEN - 1), less the restore's temporary suffix. */
const MAX_NAME_BYTES = 63 - '__restore_123456'.length;

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function databaseNameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'name the database to restore into with --database';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `the database name must be at most ${MAX_NAME_BYTES} bytes (the restore works in a temporary database named after it)`;
  if (PROTECTED.has(name)) return `"${name}" is one of PostgreSQL's own databases; restore into another`;
  if (/[\0-\x1f]/.test(name)) return 'the database name may not hold control characters';
  return undefined;
}

/** How pg_dump writes a database name in SQL (quote_identifier: plain when it is a lower-case word). */
function sqlNames(name: string): string[] {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? [name, ident(name)] : [ident(name)];
}

/** The TOC entries about the database itself (its creation, owner, ACL, settings, comment). */
const DATABASE_ENTRY = /^\d+; \d+ \d+ (DATABASE|DATABASE PROPERTIES|COMMENT - DATABASE|ACL - DATABASE|SECURITY LABEL - DATABASE) /;

interface Archive {
  /** The name the database had when it was dumped. */
  dumpedName: string;
  dumpedMajor: number;
  /** CREATE DATABASE as dumped (encoding, locale), for the new name. */
  create: (name: string) => string;
  /** The database's owner, ACL, settings and comment as SQL, for the new name. */
  properties: (name: string) => string;
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
  const dumpedName = /^;\s+dbname: (.*)$/m.exec(list)?.[1];
  const dumpedMajor = Number(/^;\s+Dumped from database version: (\d+)/m.exec(list)?.[1]);
  if (dumpedName === undefined || !dumpedMajor) throw new UserFacingError(`${file} has no database name or server version in its header; nothing was changed.`);
  const entries = list.split('\n').filter((l) => DATABASE_ENTRY.test(l));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-restore-'));
  let sql: string;
  try {
    const listFile = path.join(dir, 'database.list');
    fs.writeFileSync(listFile, `${entries.join('\n')}\n`);
    sql = await runPgTool(pgRestore, ['--create', '--file=-', `--use-list=${listFile}`, file], { env: {}, target: admin, keepStdout: true }).done;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // psql meta-commands (\connect, \restrict) and comments are not SQL; the rest runs as one script.
  const lines = sql.split('\n').filter((l) => !l.startsWith('\\') && !l.startsWith('--'));
  const createLine = lines.find((l) => l.startsWith('CREATE DATABASE '));
  if (!createLine) throw new UserFacingError(`${file} holds no CREATE DATABASE entry; nothing was changed.`);
  const rename = (text: string, name: string) =>
    sqlNames(dumpedName).reduce(
      (t, old) => t.split(`DATABASE ${old} `).join(`DATABASE ${ident(name)} `).split(`DATABASE ${old};`).join(`DATABASE ${ident(name)};`),
      text,
    );
  const properties = lines.filter((l) => l !== createLine).join('\n');
  return { dumpedName, dumpedMajor, create: (name) => rename(createLine, name), properties: (name) => rename(properties, name) };
}

async function contentsOf(admin: DatabaseTarget, database: string): Promise<string | undefined> {
  const client = await connect(withDatabase(admin, database), 'db:restore');
  try {
    const { rows } = await client.query<{ relations: number; schemas: number }>(
      `SELECT (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_to%') AS relations,
              (SELECT count(*)::int FROM pg_namespace
                WHERE nspname NOT IN ('public', 'pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%') AS schemas`,
    );
    const { relations, schemas } = rows[0];
    return relations + schemas === 0 ? undefined : `${relations} tables, indexes or sequences and ${schemas} schemas`;
  } finally {
    await client.end();
  }
}

async function exists(client: Client, database: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  return rowCount === 1;
}

/**
 * Puts the restored database in the target's place. The two renames are one transaction, so the
 * target is either the old database or the restored one, never missing; the old one is dropped
 * only after the swap committed.
 */
async function swap(client: Client, restored: string, target: string, log: (line: string) => void): Promise<void> {
  if (!(await exists(client, target))) {
    await client.query(`ALTER DATABASE ${ident(restored)} RENAME TO ${ident(target)}`);
    return;
  }
  const old = `${target}__replaced_${randomBytes(3).toString('hex')}`;
  const { rows } = await client.query<{ allow: boolean }>('SELECT datallowconn AS allow FROM pg_database WHERE datname = $1', [target]);
  // A database with sessions cannot be renamed: keep new ones out, end the ones there.
  await client.query(`ALTER DATABASE ${ident(target)} WITH ALLOW_CONNECTIONS false`);
  try {
    const ended = await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [target]);
    if (ended.rowCount) log(`ended ${ended.rowCount} session(s) on ${target}`);
    await client.query('BEGIN');
    await client.query(`ALTER DATABASE ${ident(target)} RENAME TO ${ident(old)}`);
    await client.query(`ALTER DATABASE ${ident(restored)} RENAME TO ${ident(target)}`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.query(`ALTER DATABASE ${ident(target)} WITH ALLOW_CONNECTIONS ${rows[0].allow}`).catch(() => undefined);
    throw error;
  }
  await client.query(`DROP DATABASE ${ident(old)} WITH (FORCE)`);
}

/**
 * Restores a backup into `database`: checks the file's checksum and archive first, restores into a
 * new temporary database (pg_restore --exit-on-error), and only when all of it went in swaps it
 * into place. Any failure drops the temporary database and leaves the target as it was.
 */
export async function restore(o: RestoreOptions): Promise<{ ms: number; replaced: boolean }> {
  const started = Date.now();
  const nameProblem = databaseNameProblem(o.database);
  if (nameProblem) throw new UserFacingError(nameProblem);
  const problem = await checksumProblem(o.backup);
  if (problem) throw new UserFacingError(`${o.backup.path} cannot be restored: ${problem}. Nothing was changed; choose another backup with --file.`);
  o.log(`checksum of ${o.backup.name} verified`);

  const server = withDatabase(o.admin, MAINTENANCE_DATABASE);
  const client = await connect(server, 'db:restore');
  const temporary = `${o.database}__restore_${randomBytes(3).toString('hex')}`;
  let created = false;
  try {
    const { major } = await serverMajor(client);
    const pgRestore = await findPgTool('pg_restore', major);
    const archive = await readArchive(pgRestore, o.backup.path, server);
    if (archive.dumpedMajor > major) {
      throw new UserFacingError(`${o.backup.name} was dumped from PostgreSQL ${archive.dumpedMajor}, newer than this server's ${major}; nothing was changed.`);
    }
    const targetExists = await exists(client, o.database);
    if (targetExists) {
      const contents = await contentsOf(o.admin, o.database);
      if (contents && !o.replace) {
        throw new UserFacingError(
          `database "${o.database}" is not empty (${contents}); nothing was changed. ` +
            'Pass --replace to replace it with the backup (it is swapped out only once the restore has succeeded), or restore into another --database.',
        );
      }
    }
    await client.query(archive.create(temporary));
    created = true;
    try {
      await client.query(archive.properties(temporary));
    } catch (error) {
      throw new UserFacingError(
        `the backup's database settings (owner, grants) cannot be applied: ${(error as Error).message}. ` +
          'The roles the backup names must exist here (deploy the stack first), and the login in DATABASE_URL must be the server\'s admin.',
      );
    }
    o.log(`restoring ${o.backup.name} (dumped from "${archive.dumpedName}") into a new database, ${temporary}`);
    const conn = libpqConnection(withDatabase(o.admin, temporary));
    let last = Date.now();
    await runPgTool(pgRestore, ['--exit-on-error', '--verbose', '--no-password', `--dbname=${conn.dbname}`, o.backup.path], {
      env: { ...conn.env, PGAPPNAME: 'db:restore' },
      target: o.admin,
      onLine: (line) => {
        const table = /processing data for table "([^"]+)"/.exec(line);
        if (table && Date.now() - last > 5000) {
          o.log(`  loading ${table[1]}`);
          last = Date.now();
        }
      },
    }).done.catch((error: Error) => {
      throw new UserFacingError(`the restore failed, so "${o.database}" was left as it was: ${error.message}`);
    });
    await swap(client, temporary, o.database, o.log);
    created = false;
    return { ms: Date.now() - started, replaced: targetExists };
  } finally {
    if (created) await client.query(`DROP DATABASE IF EXISTS ${ident(temporary)} WITH (FORCE)`).catch(() => undefined);
    await client.end();
  }
}
