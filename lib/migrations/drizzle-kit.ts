import { spawn, type SpawnOptions } from 'node:child_process';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { ROOT } from '../../common/paths';
import { spawnTied, stopWithThisProcess } from '../process/children';

/** drizzle-kit's CLI, run with this node so that no shell or PATH lookup is involved. */
export const DRIZZLE_KIT = path.join(path.dirname(require.resolve('drizzle-kit', { paths: [ROOT] })), 'bin.cjs');

export interface RunResult {
  code: number;
  output: string;
}

export function runDrizzleKit(args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DRIZZLE_KIT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

export interface Studio {
  /** Its output, for the caller to relay (scrubbed of the password: drizzle-kit may print the URL). */
  stdout: Readable;
  stderr: Readable;
  pid: number | undefined;
  /** Resolves with its exit status once it has ended; 0 when a stop signal sent to this process ended it. */
  exited: Promise<number>;
}

/**
 * Starts drizzle-kit studio, which serves the database login given in `env` (drizzle.config.ts
 * reads DATABASE_URL) on `host:port` for as long as it runs: so it must not outlive this process.
 * It is tied to it (killed when this process ends, even by SIGKILL), and a SIGINT, SIGTERM or
 * SIGHUP sent to this process is passed on to it, then SIGKILL after `graceMs`
 * (lib/process/children.ts). drizzle-kit installs no signal handler (node_modules/drizzle-kit/bin.cjs
 * names no signal), so those end it at once.
 */
export function startStudio(o: { port: number; host: string; env: NodeJS.ProcessEnv; graceMs?: number }): Studio {
  const { child } = spawnTied(process.execPath, [DRIZZLE_KIT, 'studio', '--port', String(o.port), '--host', o.host], {
    cwd: ROOT,
    stdio: ['inherit', 'pipe', 'pipe'],
    env: o.env,
  });
  return { stdout: child.stdout as Readable, stderr: child.stderr as Readable, pid: child.pid, exited: stopWithThisProcess(child, o.graceMs) };
}
