import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { UserFacingError } from '../postgres/connection';
import { processParents, procStat } from '../process/proc';
import { appEnvEntries, parseStackOutputs } from './env-file';
import { ROOT } from '../../common/paths';

export const PULUMI_INSTALL_HINT = 'install it (https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`) and put it on PATH';

/**
 * How long `pulumi stack output` may take. A local backend answers in about a second; a remote
 * one (S3, Pulumi Cloud) downloads the whole state, logs in, maybe decrypts through a KMS, which
 * can take several seconds on a large stack or a slow link. A minute leaves room for that and
 * still ends a run whose backend never answers.
 */
export const DEFAULT_PULUMI_TIMEOUT_SECONDS = 60;
/** The environment variable that raises (or lowers) the bound, in whole seconds. */
export const PULUMI_TIMEOUT_VARIABLE = 'PA_DATA_PULUMI_TIMEOUT';
export const MAX_PULUMI_TIMEOUT_SECONDS = 3600;
/** More than any stack's outputs: beyond it pulumi is not printing outputs. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface StackOutputOptions {
  /** The bound on the pulumi command; default: PA_DATA_PULUMI_TIMEOUT's seconds, else 60 s. A flag of the command passes it. */
  timeoutMs?: number;
  /** The environment pulumi runs in (its PATH finds it), and PA_DATA_PULUMI_TIMEOUT is read from; default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/** The bound PA_DATA_PULUMI_TIMEOUT sets, in ms, or the default when it is unset or empty; a bad value is an error naming it. */
export function pulumiTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[PULUMI_TIMEOUT_VARIABLE];
  if (raw === undefined || raw.trim() === '') return DEFAULT_PULUMI_TIMEOUT_SECONDS * 1000;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PULUMI_TIMEOUT_SECONDS) {
    throw new UserFacingError(
      `${PULUMI_TIMEOUT_VARIABLE} must be a whole number of seconds from 1 to ${MAX_PULUMI_TIMEOUT_SECONDS}, not ${JSON.stringify(raw)}: ` +
        `it bounds \`pulumi stack output\` (default ${DEFAULT_PULUMI_TIMEOUT_SECONDS})`,
    );
  }
  return seconds * 1000;
}

const signal = (pid: number, name: NodeJS.Signals) => {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
};

/**
 * Kills `pid` and every process below it. Pulumi starts its plugins in process groups of their
 * own (sdk/go/common/util/cmdutil/child_unix.go, RegisterProcessGroup: Setpgid), so killing a
 * process group would miss them: the tree is read from the process table instead. Each process is
 * stopped before its children are read, so that none can start one unseen, then all are killed.
 */
function killTree(pid: number): Set<number> {
  const tree = new Set([pid]);
  for (let grown = true; grown; ) {
    for (const p of tree) signal(p, 'SIGSTOP');
    grown = false;
    for (const [child, parent] of processParents()) {
      if (tree.has(parent) && !tree.has(child)) {
        tree.add(child);
        grown = true;
      }
    }
  }
  for (const p of tree) signal(p, 'SIGKILL');
  return tree;
}

/** Whether the process still runs: there, and not a zombie (dead, not yet reaped by its adopter). */
function running(pid: number): boolean {
  if (fs.existsSync('/proc/self/stat')) {
    const state = procStat(pid)?.[0];
    return state !== undefined && state !== 'Z' && state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once none of `pids` runs (SIGKILL is delivered asynchronously), or after `ms`. */
async function gone(pids: Iterable<number>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while ([...pids].some(running) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/**
 * What `pulumi stack output` printed on stdout, within the bound (StackOutputOptions.timeoutMs);
 * past it, pulumi and every process it started are killed. Its stdout is never put in a message:
 * it holds the secrets.
 */
export function readStackOutputs(stack: string, options: StackOutputOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? pulumiTimeoutMs(env);
  const args = ['stack', 'output', '--json', '--show-secrets', '--stack', stack];
  const command = `pulumi ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('pulumi', args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let stopped: 'timeout' | 'too much output' | undefined;
    let killed = new Set<number>();
    const stop = (why: NonNullable<typeof stopped>) => {
      if (stopped) return;
      stopped = why;
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) killed = killTree(child.pid);
      // A process that outlived pulumi could hold its pipes open, and 'close' waits for them.
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) stop('too much output');
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // pulumi must not wait for an answer (a passphrase prompt, say): it fails and says why instead.
    child.stdin.on('error', () => undefined);
    child.stdin.end();
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT') {
        return reject(new UserFacingError(`the Pulumi CLI is not installed or not on PATH (cannot run \`${command}\`): ${PULUMI_INSTALL_HINT}.`));
      }
      reject(new UserFacingError(`cannot run \`${command}\` (${error.code ?? error.message})`));
    });
    // 'close', not 'exit': by then the output is read to its end (and after a kill, the pipes' holders are gone too).
    child.on('close', async (code, signalName) => {
      clearTimeout(timer);
      // "was stopped, with the processes it started" holds when it is said.
      if (stopped) await gone(killed, 2000);
      const text = Buffer.concat(stderr).toString('utf8').trimEnd();
      const detail = text.trim() === '' ? '' : `:\n${text}`;
      if (stopped === 'timeout') {
        return reject(
          new UserFacingError(
            `\`${command}\` did not finish within ${timeoutMs / 1000} s and was stopped, with the processes it started: check that the ` +
              `stack's state backend answers (PULUMI_BACKEND_URL, the network, \`pulumi whoami\`); if it is only slow, allow more seconds with ` +
              `--pulumi-timeout <seconds> or ${PULUMI_TIMEOUT_VARIABLE}=<seconds> (default ${DEFAULT_PULUMI_TIMEOUT_SECONDS})${detail}`,
          ),
        );
      }
      // Its output is not shown: it holds secrets.
      if (stopped) return reject(new UserFacingError(`cannot run \`${command}\`: it printed more than ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB and was stopped${detail}`));
      if (code === 0) return resolve(Buffer.concat(stdout).toString('utf8'));
      if (code !== null) return reject(new UserFacingError(`\`${command}\` failed (exit status ${code})${detail}`));
      reject(new UserFacingError(`\`${command}\` was stopped by ${signalName}${detail}`));
    });
  });
}

/** The application's variables (common/names.ts) from a deployed stack's outputs, in .env order; throws naming any missing output. */
export async function stackAppEnv(stack: string, options: StackOutputOptions = {}): Promise<Array<[name: string, value: string]>> {
  return appEnvEntries(stack, parseStackOutputs(stack, await readStackOutputs(stack, options)));
}
