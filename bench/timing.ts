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

/** p50, p95, p99 and the slowest of a set of latencies. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The samples' percentiles, each the nearest rank's sample. */
export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return { p50: rank(50), p95: rank(95), p99: rank(99), max: sorted[sorted.length - 1] };
}

/** Each percentile's median over several runs (summary's median): a row may mix runs. */
export function medianPercentiles(runs: Percentiles[]): Percentiles {
  const median = (key: keyof Percentiles) => summary(runs.map((r) => r[key])).median;
  return { p50: median('p50'), p95: median('p95'), p99: median('p99'), max: median('max') };
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
