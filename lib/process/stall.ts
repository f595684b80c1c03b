import * as fs from 'node:fs';
import { groupMembers } from './proc';

/**
 * Notices a child program that has stopped making progress: a client program waiting on a server
 * that no longer answers waits forever, as libpq's programs have no timeout of their own once
 * connected.
 *
 * Progress is anything the child does that this process can see: a line it writes (`touch()`), a
 * file it writes growing, and, on Linux, the bytes it has read and written through any file or
 * socket, its server connection included (/proc/PID/io rchar and wchar, proc(5); readable for a
 * child of the same user). With `group`, the child leads a process group of its own and the bytes
 * of every process in it count: `pg_restore --jobs` loads and indexes in worker processes it forks
 * (pg_dump/parallel.c, ParallelBackupStart), while the leader only waits for them.
 */
export interface StallWatch {
  /** Counts as progress: call it for each line the child writes. */
  touch(): void;
  stop(): void;
  /** Whether the watch gave up on the child (and called `onStall`). */
  readonly stalled: boolean;
}

function ioCounters(pid: number): string {
  try {
    return /rchar: (\d+)\nwchar: (\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))?.slice(1).join(' ') ?? '';
  } catch {
    return ''; // not Linux, or the child has just ended
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** Calls `onStall` once, when `seconds` have passed with no progress of the child `pid` (and, with `group`, of every process in the group it leads). */
export function watchForStall(o: { pid: number | undefined; files: readonly string[]; seconds: number; onStall: () => void; group?: boolean }): StallWatch {
  const limitMs = o.seconds * 1000;
  // Without /proc (macOS) there are no counters to read, nor any need to list the processes.
  const group = o.group === true && fs.existsSync('/proc/self/io');
  const pids = (pid: number) => (group ? groupMembers(pid) : [pid]);
  const mark = () => [...(o.pid === undefined ? [] : pids(o.pid).map((p) => `${p}:${ioCounters(p)}`)), ...o.files.map(fileSize)].join('|');
  let last = mark();
  let lastProgress = Date.now();
  let stalled = false;
  const timer = setInterval(
    () => {
      const now = mark();
      if (now !== last) {
        last = now;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress >= limitMs) {
        clearInterval(timer);
        stalled = true;
        o.onStall();
      }
    },
    Math.min(1000, limitMs / 4),
  );
  timer.unref();
  return {
    touch: () => (lastProgress = Date.now()),
    stop: () => clearInterval(timer),
    get stalled() {
      return stalled;
    },
  };
}
