/** What the benchmarks share: timing a command as its own process, and summing up samples. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../common/paths';

/** Milliseconds from spawning `command` to its exit; a failure rejects with its stderr. */
export function timeProcess(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<number> {
  const started = process.hrtime.bigint();
  const cwd = options.cwd ?? ROOT;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} in ${cwd} failed (${code}): ${stderr}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

/** Median, minimum and maximum of the samples. */
export function summary(samples: number[]): { median: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { median, min: sorted[0], max: sorted[n - 1] };
}

/** `median | min | max`, in whole milliseconds, for a Markdown table row. */
export function stats(samples: number[]): string {
  const { median, min, max } = summary(samples);
  return `${median.toFixed(0)} | ${min.toFixed(0)} | ${max.toFixed(0)}`;
}

/**
 * A throwaway project with one empty script (`npm run --silent empty`), in which `npm run` and
 * `node -e 0` show what npm and Node.js take before any command runs. Call the returned function
 * to remove it.
 */
export function emptyNpmProject(): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-npm-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'empty', version: '1.0.0', scripts: { empty: 'true' } }));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
