import { procStat } from '../process/proc';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LAST_SUCCESS_FILE } from '../../common/names';
import { CHECKSUM_EXTENSION, parseBackupName } from './files';

/**
 * What a backup run killed outright (kill -9, a lost container) leaves in the backup folder, and
 * how the next run tells it from the files of a run still going: each unfinished dump is named
 * after the process writing it.
 */

/**
 * This process, as no other process can be: its pid and, on Linux, its start time (clock ticks
 * after boot, field 22 of /proc/PID/stat, proc(5)). A container restarted runs its command under
 * the same pid, 1, again; not at the same start time.
 */
export function processTag(pid = process.pid): string | undefined {
  if (process.platform !== 'linux') return String(pid);
  const starttime = procStat(pid)?.[19];
  return starttime === undefined ? undefined : `${pid}-${starttime}`;
}

/** Whether the process a tag names is running (here, in this pid namespace). */
function isRunning(tag: string): boolean {
  const pid = Number(tag.split('-')[0]);
  if (tag.includes('-')) return processTag(pid) === tag;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The unfinished dump of `name` that this process writes, beside it. */
export function partialName(name: string): string {
  return `.${name}.${processTag() ?? process.pid}.partial`;
}

const PARTIAL = /^\.(.+)\.(\d+(?:-\d+)?)\.partial$/;
/** Before the owner's tag was in the name; such a file is an earlier version's. */
const UNTAGGED_PARTIAL = /^\.(.+)\.partial(?:\.sha256)?$/;
/** write-file-atomic's temporary files: the target's name, a dot and a number (node_modules/write-file-atomic/lib/index.js, getTmpname). */
const ATOMIC_TEMPORARY = /^(.+)\.\d+$/;

/** An untagged file is left to its run this long: a run writes its file without pause, or is killed. */
const UNTAGGED_MS = 24 * 60 * 60 * 1000;
/** A checksum or marker is written in milliseconds: one older than this is no longer being written. */
const WRITE_MS = 60 * 1000;

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Removes the stack's unfinished files that no running process is writing: dumps of runs that
 * were killed, the temporary files of a checksum or `.last-success` write cut short, and a
 * checksum whose dump never took its name. Says what it removed, and what it left to a run still
 * going. Other stacks' files and anything else are not touched.
 */
export function removeLeftovers(dir: string, stack: string, log: (line: string) => void): void {
  const ours = (name: string) => parseBackupName(dir, name)?.stack === stack;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    const remove = (why: string) => {
      fs.rmSync(file, { force: true });
      log(`removed ${name}, ${why}`);
    };
    const tagged = PARTIAL.exec(name);
    const untagged = tagged ? null : UNTAGGED_PARTIAL.exec(name);
    if (tagged && ours(tagged[1])) {
      const pid = tagged[2].split('-')[0];
      if (!isRunning(tagged[2])) remove(`the unfinished dump of a backup that was stopped before it ended (pid ${pid})`);
      else if (tagged[2] !== processTag()) log(`left ${name} alone: the backup writing it is still running (pid ${pid})`);
      continue;
    }
    if (untagged && ours(untagged[1])) {
      if (ageMs(file) > UNTAGGED_MS) remove('left by a backup that was stopped before it ended');
      continue;
    }
    const temporary = ATOMIC_TEMPORARY.exec(name);
    if (temporary && (temporary[1] === LAST_SUCCESS_FILE || (temporary[1].endsWith(CHECKSUM_EXTENSION) && ours(temporary[1].slice(0, -CHECKSUM_EXTENSION.length))))) {
      if (ageMs(file) > WRITE_MS) remove('a temporary file of a write that was cut short');
      continue;
    }
    if (name.endsWith(CHECKSUM_EXTENSION) && ours(name.slice(0, -CHECKSUM_EXTENSION.length))) {
      const dump = name.slice(0, -CHECKSUM_EXTENSION.length);
      if (!fs.existsSync(path.join(dir, dump)) && ageMs(file) > WRITE_MS) remove(`the checksum of a dump (${dump}) that was never kept`);
    }
  }
}
