import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * The stop() of a throwaway server: `signal` for a clean shutdown, SIGKILL after 10 s, then its
 * folder removed. A server must not outlive the process that started it, even one that never
 * calls stop(), so it is also killed when this process exits. `server` is its process, or, for a
 * server that restarts (a new process each time), a function giving the one running now.
 */
export function serverStopper(server: ChildProcess | (() => ChildProcess), root: string, signal: NodeJS.Signals): () => Promise<void> {
  const current = typeof server === 'function' ? server : () => server;
  const killOnExit = () => {
    current().kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  return async () => {
    process.removeListener('exit', killOnExit);
    await endProcess(current(), signal);
    fs.rmSync(root, { recursive: true, force: true });
  };
}

/** Ends a server's process: `signal` for a clean shutdown, waited for 10 s at most, then SIGKILL. */
export async function endProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
