import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * The fields of /proc/PID/stat after the command name (proc(5): state, ppid, pgrp, ... starttime is
 * the 20th of them), or undefined once the process is gone or where there is no /proc. The name is
 * in parentheses and may hold anything, spaces and ')' included: the fields start after the last ')'.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every process's parent, from /proc on Linux, else from ps (macOS has no /proc). */
export function processParents(): Map<number, number> {
  const map = new Map<number, number>();
  if (fs.existsSync('/proc/self/stat')) {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const fields = procStat(Number(entry)); // undefined: it exited while we read
      if (fields) map.set(Number(entry), Number(fields[1]));
    }
    return map;
  }
  for (const line of execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid) map.set(pid, ppid);
  }
  return map;
}

/** The processes below `pid`: its children, theirs, and so on. */
export function descendants(pid: number): number[] {
  const parents = processParents();
  const below = new Set([pid]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const [child, parent] of parents) {
      if (below.has(parent) && !below.has(child)) {
        below.add(child);
        grown = true;
      }
    }
  }
  below.delete(pid);
  return [...below];
}
