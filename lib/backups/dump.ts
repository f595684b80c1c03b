import * as fs from 'node:fs';
import * as path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { backupName, backupsToRemove, checksumLine, checksumProblem, listBackups, parseBackupName, sha256File, type BackupFile } from './files';
import { freeBytes, prepareFolder, refusedWrite } from './folder';
import { partialName, removeLeftovers } from './leftovers';
import { dataOffsetProblem, UnknownArchiveVersion } from './archive-toc';
import { readBackWhileWritten, type ReadBack } from './read-back';
import { boundQueries, DEFAULT_BACKUP_STALL_SECONDS } from './stall-limits';
import { LAST_SUCCESS_FILE } from '../../common/names';
import { checkUploadTarget, uploadBackup, type UploadTarget } from './upload';
import { connect, UserFacingError, type DatabaseTarget } from '../postgres/connection';
import { findPgTool, libpqConnection, runAbortable, runPgTool, serverMajor, ToolStalledError } from '../postgres/pg-tools';

export interface BackupOptions {
  /** The database to dump. */
  target: DatabaseTarget;
  stack: string;
  dir: string;
  keep: number;
  upload?: UploadTarget;
  /** Seconds between progress lines while dumping; 0: a line per table. */
  progressSeconds: number;
  /** Seconds without progress (a server that stopped answering) before the backup gives up; default DEFAULT_BACKUP_STALL_SECONDS. */
  stallSeconds?: number;
  log: (line: string) => void;
  /** Aborting stops pg_dump and removes its unfinished file. */
  signal?: AbortSignal;
  /**
   * Whether a success refreshes LAST_SUCCESS_FILE, the scheduled backups' health marker (default
   * true). False for the backups `db:migrate --backup-first` takes: they say nothing about the schedule.
   */
  markSuccess?: boolean;
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

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function fsyncPath(p: string, flags = 'r'): void {
  const fd = fs.openSync(p, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const NOT_TAKEN = `No backup was taken; the last one and ${LAST_SUCCESS_FILE} are as they were.`;
const SLOWER = 'If the server is only slow, allow it longer with --stall-timeout SECONDS.';

/** Tables whose rows pg_dump writes: the denominator of its progress. */
async function countTables(target: DatabaseTarget, stallSeconds: number): Promise<{ major: number; tables: number }> {
  const client = boundQueries(
    await connect(target, 'db:backup'),
    stallSeconds,
    () => new UserFacingError(`PostgreSQL at ${target.display} accepted the login, then gave no answer for ${stallSeconds} s. ${NOT_TAKEN} ${SLOWER}`),
  );
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

/** pg_dump's own words for a full disk (its messages are in English: lib/postgres/pg-tools.ts). */
const DISK_FULL = /No space left on device|Disk quota exceeded/;

function notWhole(error: Error): UserFacingError {
  return new UserFacingError(`the dump was written but does not read back whole, so it was discarded: ${error.message}`);
}

/** A full disk, with what was written, what was free and, from the stack's last backup, about what is needed. */
function diskFull(o: BackupOptions, partial: string, freeAtStart: number | undefined, previous: BackupFile | undefined): UserFacingError {
  const known = [`${size(sizeOf(partial))} written`];
  if (freeAtStart !== undefined) known.push(`${size(freeAtStart)} free when it began`);
  if (previous) known.push(`the last backup of the stack, ${previous.name}, is ${size(sizeOf(previous.path))}: this one needs about as much`);
  return new UserFacingError(
    `the disk that holds ${o.dir} is full: pg_dump could not write its dump there (${known.join('; ')}). ` +
      `Its unfinished file was removed. ${NOT_TAKEN} Free space on that disk (fewer backups kept there: --keep), or choose another folder with --dir.`,
  );
}

/**
 * Takes one backup: a pg_dump custom-format archive of one consistent snapshot (pg_dump reads in
 * a single repeatable-read transaction), written beside its final name and renamed into place only
 * once it has been read back whole by pg_restore (while pg_dump writes it: read-back.ts) and its
 * checksum is on disk, so a backup file is never half-written. Then uploads it (if asked) and
 * prunes the folder to the newest `keep`. Everything that can be checked first (folder, server, client tools, bucket) is checked before
 * pg_dump starts, and what killed runs left in the folder is removed first. pg_dump ends with this
 * process, and is given up on when it makes no progress for `stallSeconds`.
 */
export async function takeBackup(o: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const stallSeconds = o.stallSeconds ?? DEFAULT_BACKUP_STALL_SECONDS;
  prepareFolder(o.dir);
  const { major, tables } = await countTables(o.target, stallSeconds);
  const pgDump = await findPgTool('pg_dump', major);
  const pgRestore = await findPgTool('pg_restore', major);
  if (o.upload) await checkUploadTarget(o.upload);

  removeLeftovers(o.dir, o.stack, o.log);
  const previous = listBackups(o.dir, o.stack)[0];
  const freeAtStart = freeBytes(o.dir);
  const takenAt = new Date();
  let sequence = 0;
  while (fs.existsSync(path.join(o.dir, backupName(o.stack, takenAt, sequence)))) sequence++;
  const name = backupName(o.stack, takenAt, sequence);
  const final = path.join(o.dir, name);
  const partial = path.join(o.dir, partialName(name));
  try {
    fs.closeSync(fs.openSync(partial, 'wx', FILE_MODE));
  } catch (error) {
    throw (
      refusedWrite(error, partial, o.dir, NOT_TAKEN) ??
      new UserFacingError(`cannot create ${partial} (${(error as NodeJS.ErrnoException).code}): the folder does not take files. Choose another folder with --dir.`)
    );
  }
  let readBack: ReadBack | undefined;
  try {
    const conn = libpqConnection(o.target);
    let done = 0;
    let current = '';
    let lastLine = Date.now();
    const progress = () => {
      o.log(`  dumping ${current || '...'} (table ${done} of ${tables}), ${size(sizeOf(partial))} written, ${Math.round((Date.now() - started) / 1000)} s`);
      lastLine = Date.now();
    };
    const timer = o.progressSeconds > 0 ? setInterval(progress, o.progressSeconds * 1000) : undefined;
    try {
      const run = runPgTool(pgDump, ['--format=custom', '--verbose', '--no-password', `--file=${partial}`, `--dbname=${conn.dbname}`], {
        env: { ...conn.env, PGAPPNAME: 'db:backup' },
        target: o.target,
        stallSeconds,
        writes: [partial],
        onLine: (line) => {
          const table = /dumping contents of table "([^"]+)"/.exec(line);
          if (!table) return;
          done++;
          current = table[1];
          if (o.progressSeconds === 0) progress();
          else if (Date.now() - lastLine >= o.progressSeconds * 1000) progress();
        },
      });
      // Read back while it is written (read-back.ts): a dump that does not read back whole stops pg_dump at once.
      let unreadable: Error | undefined;
      readBack = readBackWhileWritten(pgRestore, partial, o.target, (error) => {
        unreadable = error;
        run.kill();
      });
      if (!(run.tied && readBack.tied) && process.platform === 'linux') {
        o.log('warning: setpriv (util-linux) is not installed, so pg_dump and pg_restore would outlive this command killed with SIGKILL: install util-linux.');
      }
      await runAbortable(run, o.signal).catch(async (error: Error) => {
        await readBack?.cancel();
        if (o.signal?.aborted) throw new UserFacingError('the backup was stopped; its unfinished file was removed.');
        if (error instanceof ToolStalledError) {
          throw new UserFacingError(
            `pg_dump made no progress for ${stallSeconds} s: nothing came from PostgreSQL at ${o.target.display} and nothing was written to the dump. ` +
              `The server stopped answering, or something held pg_dump up (a long migration's lock, say). pg_dump was stopped and its unfinished file removed. ${NOT_TAKEN} ${SLOWER}`,
          );
        }
        if (DISK_FULL.test(error.message)) throw diskFull(o, partial, freeAtStart, previous);
        // pg_dump was stopped because what it wrote did not read back.
        if (unreadable) throw notWhole(unreadable);
        throw error;
      });
    } finally {
      clearInterval(timer);
    }
    // pg_restore has read every block (read-back.ts): a dump cut short (disk full, say) fails here,
    // not on the day it is needed. The file is hashed meanwhile, as pg_dump left it.
    const written = sizeOf(partial);
    const [{ sha256, bytes }, read] = await Promise.all([
      sha256File(partial),
      readBack.finish().catch((error: Error) => {
        throw notWhole(error);
      }),
    ]);
    // pg_restore was handed every byte, and nothing changed in length since: the file hashed is the
    // one read back. (A pg_restore that ends content before the end of its input, with bytes left
    // over, also exits 0.)
    if (bytes !== written || read !== bytes) {
      throw notWhole(new Error(`pg_restore was handed ${read} bytes of it, it was ${written} bytes when pg_dump ended, and ${bytes} bytes when it was hashed`));
    }
    // The table of contents pg_dump wrote last, over the first, with the data's offsets: pg_restore reads the header and all of it.
    await runPgTool(pgRestore, ['--list', partial], { env: {}, target: o.target }).done.catch((error: Error) => {
      throw notWhole(error);
    });
    // What a restore seeks by: each table's data offset in that table of contents, at its block.
    let unlocated: string | undefined;
    try {
      unlocated = dataOffsetProblem(partial);
    } catch (error) {
      // A newer pg_dump than this reader knows (pg_restore --list read it): the offsets go unchecked, the backup is kept.
      if (error instanceof UnknownArchiveVersion) o.log(`note: ${error.message}, so its data offsets were not checked`);
      else unlocated = (error as Error).message;
    }
    if (unlocated) throw new UserFacingError(`the dump was written but its table of contents does not locate its data, so it was discarded: ${unlocated}`);
    fsyncPath(partial);
    const backup = parseBackupName(o.dir, name) as BackupFile;
    // The checksum takes its name first: a dump is never in place without it (write-file-atomic
    // writes a temporary file, fsyncs it, renames it, and removes it on failure: its lib/index.js).
    await writeFileAtomic(backup.checksumPath, checksumLine(sha256, name), { mode: FILE_MODE }).catch((error: unknown) => {
      throw refusedWrite(error, backup.checksumPath, o.dir, `The dump was discarded: a backup is kept only with its checksum. ${NOT_TAKEN}`) ?? error;
    });
    fs.renameSync(partial, final);
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
    if (o.markSuccess === false) return { backup, bytes, sha256, tables, ms: Date.now() - started, removed };
    // Replaced whole or not at all: an empty marker with a new date would pass the health check.
    const marker = path.join(o.dir, LAST_SUCCESS_FILE);
    await writeFileAtomic(marker, `${new Date().toISOString()} ${name}\n`).catch((error: unknown) => {
      const kept = `The backup ${final} was written and checked${o.upload ? ' and uploaded' : ''}, but ${LAST_SUCCESS_FILE} was left as it was, so the health check does not count this backup yet.`;
      throw refusedWrite(error, marker, o.dir, kept) ?? error;
    });
    fsyncPath(o.dir);
    return { backup, bytes, sha256, tables, ms: Date.now() - started, removed };
  } finally {
    // Whatever failed after pg_dump (the checksum's write, say) leaves no pg_restore behind.
    await readBack?.cancel();
    try {
      fs.rmSync(partial, { force: true });
    } catch {
      // a folder that refuses the removal refused the writes before, which said so
    }
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
