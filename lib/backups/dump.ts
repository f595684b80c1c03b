import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupName, backupsToRemove, checksumLine, checksumProblem, listBackups, parseBackupName, sha256File, type BackupFile } from './files';
import { LAST_SUCCESS_FILE } from '../../common/names';
import { checkUploadTarget, uploadBackup, type UploadTarget } from './upload';
import { connect, UserFacingError, type DatabaseTarget } from '../postgres/connection';
import { findPgTool, libpqConnection, runAbortable, runPgTool, serverMajor } from '../postgres/pg-tools';

export interface BackupOptions {
  /** The database to dump. */
  target: DatabaseTarget;
  stack: string;
  dir: string;
  keep: number;
  upload?: UploadTarget;
  /** Seconds between progress lines while dumping; 0: a line per table. */
  progressSeconds: number;
  log: (line: string) => void;
  /** Aborting stops pg_dump and removes its unfinished file. */
  signal?: AbortSignal;
}

export interface BackupResult {
  backup: BackupFile;
  bytes: number;
  sha256: string;
  tables: number;
  ms: number;
  removed: BackupFile[];
}

/** The file holds every learner's data: only its owner may read it. */
const FILE_MODE = 0o600;

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function fsyncPath(p: string, flags = 'r'): void {
  const fd = fs.openSync(p, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A folder we can write to, made if missing; only its owner may list it. */
function prepareFolder(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UserFacingError(`cannot write backups to ${dir} (${code}): choose another folder with --dir, or fix its permissions.`);
  }
}

/** A run older than this is no longer writing its unfinished file: it was killed. */
const STALE_PARTIAL_MS = 24 * 60 * 60 * 1000;

/** Unfinished files of the stack that runs killed outright (kill -9, a lost container) left behind. */
function removeStalePartials(dir: string, stack: string): void {
  for (const name of fs.readdirSync(dir)) {
    const unfinished = /^\.(.+)\.partial(?:\.sha256)?$/.exec(name);
    if (!unfinished || parseBackupName(dir, unfinished[1])?.stack !== stack) continue;
    const file = path.join(dir, name);
    if (Date.now() - fs.statSync(file).mtimeMs > STALE_PARTIAL_MS) fs.rmSync(file, { force: true });
  }
}

/** Tables whose rows pg_dump writes: the denominator of its progress. */
async function countTables(target: DatabaseTarget): Promise<{ major: number; tables: number }> {
  const client = await connect(target, 'db:backup');
  try {
    const { major } = await serverMajor(client);
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE c.relkind = 'r' AND s.nspname NOT IN ('pg_catalog', 'information_schema') AND s.nspname NOT LIKE 'pg_toast%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`,
    );
    return { major, tables: rows[0].n };
  } finally {
    await client.end();
  }
}

/**
 * Takes one backup: a pg_dump custom-format archive of one consistent snapshot (pg_dump reads in
 * a single repeatable-read transaction), written beside its final name and renamed into place only
 * once it has been read back whole by pg_restore and its checksum is on disk, so a backup file is
 * never half-written. Then uploads it (if asked) and prunes the folder to the newest `keep`.
 * Everything that can be checked first (folder, server, client tools, bucket) is checked before
 * pg_dump starts.
 */
export async function takeBackup(o: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  prepareFolder(o.dir);
  const { major, tables } = await countTables(o.target);
  const pgDump = await findPgTool('pg_dump', major);
  const pgRestore = await findPgTool('pg_restore', major);
  if (o.upload) await checkUploadTarget(o.upload);

  removeStalePartials(o.dir, o.stack);
  const takenAt = new Date();
  let sequence = 0;
  while (fs.existsSync(path.join(o.dir, backupName(o.stack, takenAt, sequence)))) sequence++;
  const name = backupName(o.stack, takenAt, sequence);
  const final = path.join(o.dir, name);
  const partial = path.join(o.dir, `.${name}.partial`);
  fs.closeSync(fs.openSync(partial, 'wx', FILE_MODE));
  try {
    const conn = libpqConnection(o.target);
    let done = 0;
    let current = '';
    let lastLine = Date.now();
    const progress = () => {
      let written = 0;
      try {
        written = fs.statSync(partial).size;
      } catch {
        // not there yet
      }
      o.log(`  dumping ${current || '...'} (table ${done} of ${tables}), ${size(written)} written, ${Math.round((Date.now() - started) / 1000)} s`);
      lastLine = Date.now();
    };
    const timer = o.progressSeconds > 0 ? setInterval(progress, o.progressSeconds * 1000) : undefined;
    try {
      await runAbortable(
        runPgTool(pgDump, ['--format=custom', '--verbose', '--no-password', `--file=${partial}`, `--dbname=${conn.dbname}`], {
          env: { ...conn.env, PGAPPNAME: 'db:backup' },
          target: o.target,
          onLine: (line) => {
            const table = /dumping contents of table "([^"]+)"/.exec(line);
            if (!table) return;
            done++;
            current = table[1];
            if (o.progressSeconds === 0) progress();
            else if (Date.now() - lastLine >= o.progressSeconds * 1000) progress();
          },
        }),
        o.signal,
      ).catch((error: Error) => {
        throw o.signal?.aborted ? new UserFacingError('the backup was stopped; its unfinished file was removed.') : error;
      });
    } finally {
      clearInterval(timer);
    }
    // pg_restore reads every block: a dump cut short (disk full, say) fails here, not on the day it is needed.
    await runPgTool(pgRestore, ['--file=/dev/null', partial], { env: {}, target: o.target }).done.catch((error: Error) => {
      throw new UserFacingError(`the dump was written but does not read back whole, so it was discarded: ${error.message}`);
    });
    const { sha256, bytes } = await sha256File(partial);
    fsyncPath(partial);
    const checksumPartial = `${partial}.sha256`;
    fs.writeFileSync(checksumPartial, checksumLine(sha256, name), { mode: FILE_MODE });
    fsyncPath(checksumPartial);
    fs.renameSync(partial, final);
    const backup = parseBackupName(o.dir, name) as BackupFile;
    fs.renameSync(checksumPartial, backup.checksumPath);
    fsyncPath(o.dir);
    o.log(`wrote ${final} (${size(bytes)}, ${tables} tables, sha256 ${sha256})`);

    // Pruned whatever the upload does: a store that is down for days must not fill the folder.
    const removed = await prune(o.dir, o.stack, o.keep, { name, ok: true });
    for (const r of removed) o.log(`removed ${r.name} (keeping the newest ${o.keep})`);
    if (o.upload) {
      await uploadBackup(o.upload, { name, path: final, bytes, sha256 }).catch((error: Error) => {
        throw new UserFacingError(`${error.message}\nThe backup itself was written and verified: ${final}`);
      });
      o.log(`uploaded ${name} and its checksum to ${o.upload.display}`);
    }
    fs.writeFileSync(path.join(o.dir, LAST_SUCCESS_FILE), `${new Date().toISOString()} ${name}\n`);
    return { backup, bytes, sha256, tables, ms: Date.now() - started, removed };
  } finally {
    fs.rmSync(partial, { force: true });
    fs.rmSync(`${partial}.sha256`, { force: true });
  }
}

/**
 * Deletes all but the newest `keep` backups of the stack, never the newest valid one (see
 * backupsToRemove). `known` is a backup whose validity this run established already.
 */
export async function prune(dir: string, stack: string, keep: number, known?: { name: string; ok: boolean }): Promise<BackupFile[]> {
  const isValid = async (b: BackupFile) => (known?.name === b.name ? known.ok : (await checksumProblem(b)) === undefined);
  const remove = await backupsToRemove(listBackups(dir, stack), keep, isValid);
  for (const b of remove) {
    fs.rmSync(b.path, { force: true });
    fs.rmSync(b.checksumPath, { force: true });
  }
  return remove;
}
