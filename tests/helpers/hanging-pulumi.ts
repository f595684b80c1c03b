import * as fs from 'node:fs';
import { isRunning } from './processes';
import * as os from 'node:os';
import * as path from 'node:path';

/** The processes of a hanging stand-in: itself, a child in its process group, and a plugin in a group of its own. */
export interface HangingPids {
  pulumi: number;
  child: number;
  plugin: number;
}

export interface HangingStart {
  pids: HangingPids;
  /** When it had started them (Date.now()). */
  at: number;
}

export interface HangingPulumi {
  /** The folder holding `pulumi`: put it first on PATH. */
  dir: string;
  /** Its processes, once it has started them all (within 10 s). */
  started(): Promise<HangingStart>;
}

/**
 * A stand-in `pulumi` that never finishes, as one waiting on a state backend that does not answer:
 * it starts a child, and a "plugin" in a process group of its own, as pulumi starts its plugins
 * (sdk/go/common/util/cmdutil/child_unix.go, RegisterProcessGroup: Setpgid), prints a line on
 * stderr and waits. It records their process ids in a file of its folder.
 */
export function hangingPulumi(): HangingPulumi {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-pulumi-hang-'));
  const pidFile = path.join(dir, 'pids.json');
  fs.writeFileSync(
    path.join(dir, 'pulumi'),
    `#!${process.execPath}
const { spawn } = require('node:child_process');
const child = spawn('sleep', ['300'], { stdio: 'ignore' });
const plugin = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
require('node:fs').writeFileSync(${JSON.stringify(`${pidFile}.tmp`)}, JSON.stringify({ pids: { pulumi: process.pid, child: child.pid, plugin: plugin.pid }, at: Date.now() }));
require('node:fs').renameSync(${JSON.stringify(`${pidFile}.tmp`)}, ${JSON.stringify(pidFile)});
process.stderr.write('logging in to the backend\\n');
setInterval(() => undefined, 1 << 30);
`,
    { mode: 0o755 },
  );
  return {
    dir,
    async started() {
      const deadline = Date.now() + 10_000;
      while (!fs.existsSync(pidFile)) {
        if (Date.now() > deadline) throw new Error(`the stand-in pulumi in ${dir} did not start its processes within 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return JSON.parse(fs.readFileSync(pidFile, 'utf8')) as HangingStart;
    },
  };
}

/**
 * Whether the process still runs (a zombie does not: this container's init may never reap one).
 */
export const alive = isRunning;

/** The process group of a running process. */
export function pgid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}
