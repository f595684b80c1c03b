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

/** Every process's stat fields (procStat), by pid, from /proc; undefined where there is no /proc (macOS). */
function procTable(): Map<number, string[]> | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  const table = new Map<number, string[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = procStat(Number(entry)); // undefined: it exited while we read
    if (fields) table.set(Number(entry), fields);
  }
  return table;
}

/** Every process's parent, from /proc on Linux, else from ps (macOS has no /proc). */
export function processParents(): Map<number, number> {
  const table = procTable();
  if (table) return new Map([...table].map(([pid, fields]) => [pid, Number(fields[1])]));
  const map = new Map<number, number>();
  for (const line of execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid) map.set(pid, ppid);
  }
  return map;
}

/**
 * The processes of the process group `pgid` (its leader included, while it lives), from /proc:
 * empty where there is none. A group, unlike the tree below a pid, keeps the workers a leader
 * forked after the leader has gone (they are given to init, and stay in its group).
 */
export function groupMembers(pgid: number): number[] {
  return [...(procTable() ?? [])].filter(([, fields]) => Number(fields[2]) === pgid).map(([pid]) => pid);
}
