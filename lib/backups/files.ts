import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Names and defaults shared by `db:backup`, `db:restore` and the scheduled backup container
 * (stacks/containers/backups.ts), so the container's command and health check cannot drift from the tool.
 */

/** The backup folder, relative to the project root, unless `--dir` says otherwise (git-ignored). */
export const DEFAULT_BACKUP_DIR = 'backups';

/** The file name extension of a backup (pg_dump's custom format) and of its checksum beside it. */
export const DUMP_EXTENSION = '.dump';
export const CHECKSUM_EXTENSION = '.sha256';

/** A backup in a folder: `<stack>-<UTC time>[-<n>].dump`, its checksum in the same name + `.sha256`. */
export interface BackupFile {
  stack: string;
  /** When it was taken (UTC, to the second), from its name. */
  takenAt: Date;
  /** Tells apart backups taken in the same second. */
  sequence: number;
  name: string;
  path: string;
  checksumPath: string;
}

const NAME = /^(.+)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-(\d+))?\.dump$/;

/**
 * What the names of the backups `db:migrate --backup-first` takes start with: `<stack>-before-migrate`,
 * so `<stack>-before-migrate-<UTC time>.dump`. To listBackups, pruning and `db:restore --stack` they
 * are the backups of another "stack" of that name: `db:backup --stack <stack>`'s retention never
 * deletes them (nor they its backups), `db:restore --stack <stack>` restores the newest scheduled or
 * manual backup, and `db:restore --stack <stack>-before-migrate` the newest taken before migrating.
 */
export const BEFORE_MIGRATE_SUFFIX = '-before-migrate';
export const beforeMigrateSeries = (stack: string): string => `${stack}${BEFORE_MIGRATE_SUFFIX}`;

/** 20261129T113352Z: sortable, and legal in file and object names everywhere. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function backupName(stack: string, takenAt: Date, sequence = 0): string {
  return `${stack}-${timestamp(takenAt)}${sequence > 0 ? `-${sequence}` : ''}${DUMP_EXTENSION}`;
}

export function parseBackupName(dir: string, name: string): BackupFile | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const takenAt = new Date(Date.UTC(+m[2], +m[3] - 1, +m[4], +m[5], +m[6], +m[7]));
  if (Number.isNaN(takenAt.getTime())) return undefined;
  const file = path.join(dir, name);
  return { stack: m[1], takenAt, sequence: Number(m[8] ?? 0), name, path: file, checksumPath: `${file}${CHECKSUM_EXTENSION}` };
}

/** A backup named by its path: one of ours, or any file with a checksum file beside it. */
export function backupAt(file: string): BackupFile {
  const parsed = parseBackupName(path.dirname(file), path.basename(file));
  if (parsed) return parsed;
  return { stack: '', takenAt: new Date(Number.NaN), sequence: 0, name: path.basename(file), path: file, checksumPath: `${file}${CHECKSUM_EXTENSION}` };
}

/** The stack's backups in `dir`, newest first. Other files, and other stacks' backups, are not touched. */
export function listBackups(dir: string, stack: string): BackupFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .map((n) => parseBackupName(dir, n))
    .filter((b): b is BackupFile => b !== undefined && b.stack === stack)
    .sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime() || b.sequence - a.sequence);
}

export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** The checksum file's text, in `sha256sum` format, so `sha256sum -c` checks it too. */
export function checksumLine(sha256: string, name: string): string {
  return `${sha256}  ${name}\n`;
}

/** What is wrong with a backup (missing checksum, mismatch), or undefined when its bytes are the ones written. */
export async function checksumProblem(backup: BackupFile): Promise<string | undefined> {
  let text: string;
  try {
    text = fs.readFileSync(backup.checksumPath, 'utf8');
  } catch {
    return `its checksum file ${path.basename(backup.checksumPath)} is missing`;
  }
  const m = /^([0-9a-f]{64}) [ *](.+)\n?$/.exec(text);
  if (!m || m[2] !== backup.name) return `its checksum file ${path.basename(backup.checksumPath)} is not "<sha256>  ${backup.name}"`;
  if (!fs.existsSync(backup.path)) return 'the backup file is missing';
  const { sha256, bytes } = await sha256File(backup.path);
  if (sha256 !== m[1]) return `its sha256 is ${sha256.slice(0, 12)}…, not the ${m[1].slice(0, 12)}… written when it was taken (${bytes} bytes now): it is corrupt or truncated`;
  return undefined;
}

/**
 * Which backups to delete so that `keep` remain: the newest `keep`, and, should none of those be
 * valid, also the newest valid one, so that pruning never leaves nothing to restore. `isValid` is
 * called newest first and no more often than needed (it reads whole files).
 */
export async function backupsToRemove(newestFirst: BackupFile[], keep: number, isValid: (b: BackupFile) => Promise<boolean>): Promise<BackupFile[]> {
  if (!(Number.isInteger(keep) && keep >= 1)) throw new RangeError(`keep must be a whole number from 1, not ${keep}`);
  const remove = newestFirst.slice(keep);
  for (const b of newestFirst.slice(0, keep)) if (await isValid(b)) return remove;
  for (const b of remove) if (await isValid(b)) return remove.filter((r) => r !== b);
  return remove;
}
