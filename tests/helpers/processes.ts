import { procStat } from '../../lib/process/proc';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import { ROOT } from '../../common/paths';

/** A process's state letter (R, S, D, T, Z...) from /proc/PID/stat (proc(5)); undefined once it is gone. */
export function processState(pid: number): string | undefined {
  return procStat(pid)?.[0];
}

/** Still running: there, and not a zombie (ended, waiting for whoever adopted it to reap it). */
export function isRunning(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The running children of `pid`, with their command names. */
export function childrenOf(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') out.push({ pid: Number(entry), comm });
    } catch {
      // ended while we looked
    }
  }
  return out;
}

/** Resolves with check()'s first truthy value, polling every 20 ms; fails naming `what` after `ms`. */
export async function waitFor<T>(what: string, ms: number, check: () => T | Promise<T>): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | null | undefined>;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A command of the operator tool as package.json's script runs it (`npm run db:backup` runs
 * `node cli/launch.js backup`), started with node directly so that the child's pid is the
 * command's own (npm and its shell would stand between).
 */
export function startCli(script: string, args: string[], env: Record<string, string | undefined>) {
  const scripts = (JSON.parse(fs.readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = scripts[script]?.split(' ') ?? [];
  if (words[0] !== 'node') throw new Error(`package.json's "${script}" is not \`node ...\`: ${scripts[script]}`);
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.MIGRATOR_DATABASE_URL;
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [...words.slice(1), ...args], { cwd: ROOT, env: { ...base, ...env } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, pid: child.pid as number, exited, output: () => output };
}
