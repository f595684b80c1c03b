import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserFacingError } from '../postgres/connection';

/** The backup folder: made, checked, and the disk's refusals worded with what to do. */

function who(): string {
  try {
    return `user ${os.userInfo().username} (uid ${process.getuid?.() ?? '?'})`;
  } catch {
    return 'this user';
  }
}

/** Why the system refused a write to `dir`, and what to do; undefined for what is not the disk's or the system's doing. */
function refusal(code: string | undefined, dir: string): { why: string; fix: string } | undefined {
  const elsewhere = 'or choose another folder with --dir.';
  switch (code) {
    case 'ENOSPC':
      return { why: 'the disk is full (ENOSPC)', fix: `Free space on the disk that holds ${dir} (fewer backups kept there: --keep), ${elsewhere}` };
    case 'EDQUOT':
      return { why: 'the disk quota is used up (EDQUOT)', fix: `Free space in ${dir} or raise the quota, ${elsewhere}` };
    case 'EROFS':
      return { why: 'the file system is read-only (EROFS)', fix: `Mount the file system of ${dir} read-write, ${elsewhere}` };
    case 'EACCES':
    case 'EPERM':
      return { why: `permission denied (${code})`, fix: `Let ${who()} write to ${dir}, ${elsewhere}` };
    default:
      return undefined;
  }
}

/**
 * A write of `file` in `dir` that the system refused, as a message naming both, what state that
 * leaves (`outcome`) and the fix; undefined for any other error, which the caller rethrows.
 */
export function refusedWrite(error: unknown, file: string, dir: string, outcome: string): UserFacingError | undefined {
  const r = refusal((error as NodeJS.ErrnoException).code, dir);
  return r && new UserFacingError(`cannot write ${file}: ${r.why}. ${outcome} ${r.fix}`);
}

/**
 * mkdir -p, one folder at a time. Not fs.mkdirSync's `recursive`: for a path under /proc it never
 * returns, spinning at 100 % CPU, because procfs answers ENOENT to a new folder and node's
 * MKDirpSync takes ENOENT to mean a missing parent, makes the parent (EEXIST) and tries again
 * (node src/node_file.cc, MKDirpSync).
 */
function makeFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) fs.mkdirSync(d, { mode: 0o700 });
}

/** A folder to write backups to, made if missing (only its owner may list it), or a message saying why not. */
export function prepareFolder(dir: string): void {
  const full = path.resolve(dir);
  try {
    makeFolder(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const failed = (error as NodeJS.ErrnoException).path ?? full;
    const why =
      code === 'ENOENT'
        ? `${path.dirname(failed)} does not take new folders (ENOENT; a virtual file system such as /proc or /sys?)`
        : code === 'ENOTDIR'
          ? 'a part of the path is a file, not a folder (ENOTDIR)'
          : (refusal(code, path.dirname(failed))?.why ?? `${code ?? 'error'}`);
    throw new UserFacingError(`cannot make the backup folder ${full}: ${why}. Choose another folder with --dir.`);
  }
  if (!fs.statSync(full).isDirectory()) throw new UserFacingError(`cannot write backups to ${full}: it is a file, not a folder. Choose another folder with --dir.`);
  try {
    fs.accessSync(full, fs.constants.W_OK);
  } catch (error) {
    const r = refusal((error as NodeJS.ErrnoException).code, full);
    throw new UserFacingError(`cannot write backups to ${full}: ${r?.why ?? (error as NodeJS.ErrnoException).code}. ${r?.fix ?? 'Choose another folder with --dir.'}`);
  }
}

/** Bytes this user may still write on the disk that holds `dir`, if the system says. */
export function freeBytes(dir: string): number | undefined {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
