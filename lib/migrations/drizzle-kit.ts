import { spawn, type SpawnOptions } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from '../../common/paths';

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
