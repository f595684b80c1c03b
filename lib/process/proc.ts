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
