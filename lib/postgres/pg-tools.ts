import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Client } from 'pg';
import { redact, UserFacingError, type DatabaseTarget } from './connection';
import { guardGroup, spawnTied } from '../process/children';
import { watchForStall } from '../process/stall';

/**
 * PostgreSQL's client programs (pg_dump, pg_restore) of the server's major version: an older
 * pg_dump refuses a newer server, and a newer one writes archives an older pg_restore cannot read.
 */
export type PgTool = 'pg_dump' | 'pg_restore';

export async function serverMajor(client: Client): Promise<{ major: number; version: string }> {
  const { rows } = await client.query<{ num: string; version: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
  );
  return { major: Math.floor(Number(rows[0].num) / 10000), version: rows[0].version };
}

/** Where packages put each major's programs: Debian/Ubuntu, RHEL (PGDG), Homebrew. */
function candidateDirs(major: number, env: NodeJS.ProcessEnv): string[] {
  if (env.PG_BIN) return [env.PG_BIN];
  const onPath = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return [
    `/usr/lib/postgresql/${major}/bin`,
    `/usr/pgsql-${major}/bin`,
    `/opt/homebrew/opt/postgresql@${major}/bin`,
    `/usr/local/opt/postgresql@${major}/bin`,
    ...onPath,
  ];
}

function versionOf(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, ['--version'], { timeout: 10_000 }, (error, stdout) => resolve(error ? undefined : stdout.trim()));
  });
}

/**
 * The path of `tool` for PostgreSQL `major`: from PG_BIN when set (and only there), else the usual
 * package folders, else PATH; each candidate's `--version` must name that major.
 */
export async function findPgTool(tool: PgTool, major: number, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const mismatched: string[] = [];
  for (const dir of candidateDirs(major, env)) {
    const file = path.join(dir, tool);
    if (!fs.existsSync(file)) continue;
    const version = await versionOf(file);
    const found = version && /\(PostgreSQL\) (\d+)/.exec(version);
    if (found && Number(found[1]) === major) return file;
    mismatched.push(`${file} (${version ?? 'does not run'})`);
  }
  const where = env.PG_BIN ? `PG_BIN=${env.PG_BIN}` : 'the PostgreSQL package folders or PATH';
  const others = mismatched.length > 0 ? ` Found only: ${mismatched.join(', ')}.` : '';
  throw new UserFacingError(
    `${tool} of PostgreSQL ${major} (the server's major version) is not in ${where}.${others} ` +
      `Install the client tools of PostgreSQL ${major} (Debian/Ubuntu: \`apt-get install postgresql-client-${major}\`; ` +
      `macOS: \`brew install postgresql@${major}\`), or set PG_BIN to the folder that holds its ${tool}.`,
  );
}

/**
 * libpq's view of a target: a URL without the password (which would show in `ps`), and the
 * password in the child's environment instead.
 */
export function libpqConnection(target: DatabaseTarget): { dbname: string; env: NodeJS.ProcessEnv } {
  const url = new URL(target.url);
  url.password = '';
  url.searchParams.delete('password');
  return { dbname: url.toString(), env: target.password === '' ? {} : { PGPASSWORD: target.password } };
}

/** What --verbose adds (lower case; "while PROCESSING TOC" is context of an error). Failure messages keep the rest. */
const VERBOSE_LINE =
  /^pg_(dump|restore): (dumping|reading|identifying|saving|processing|creating|restoring|restored|finding|flagging|last built-in|connecting|implied|launching|finished|executing|dropping|setting|entering|skipping)\b/;

export interface ToolRun {
  /** Resolves with its stdout (when asked to keep it) once it exits with status 0; rejects with its last lines of output otherwise. */
  done: Promise<string>;
  /** The program ends with this process, even on SIGKILL (lib/process/children.ts). */
  tied: boolean;
  /** Its standard input, when asked for (`stdin`); otherwise it reads nothing. */
  stdin?: Writable;
  /** Its standard output, when asked for (`streamStdout`): read it, or the program waits. */
  stdout?: Readable;
  kill(): void;
}

/** A run given up on for making no progress (see `stallSeconds`); the caller words what it means. */
export class ToolStalledError extends UserFacingError {
  override name = 'ToolStalledError';
  constructor(
    readonly tool: string,
    readonly seconds: number,
  ) {
    super(`${tool} made no progress for ${seconds} s and was stopped`);
  }
}

/**
 * Runs a client program, handing each line it writes on stderr to `onLine` (pg_dump and
 * pg_restore report progress there with --verbose). Its output is scrubbed of the password
 * before it reaches an error message. The program is tied to this process, so that it never
 * outlives it. With `stallSeconds`, a run that makes no progress for that long (no line, no growth
 * of `writes`, no bytes read or written: lib/process/stall.ts) is killed and rejects with a
 * ToolStalledError: once connected, libpq waits for a server that stopped answering forever.
 *
 * With `workers` (pg_restore --jobs above 1, which forks a worker process per job:
 * pg_dump/parallel.c, ParallelBackupStart), the program runs in a process group of its own, so that
 * a stop or a stall reaches every worker at once, the workers' reads and writes count as progress,
 * and the program gets TERM rather than KILL when this process ends, which it passes on to its
 * workers (lib/process/children.ts).
 */
export function runPgTool(
  file: string,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    target: DatabaseTarget;
    onLine?: (line: string) => void;
    keepStdout?: boolean;
    /** Hand its standard output to the caller as a stream (ToolRun.stdout) instead of keeping it. */
    streamStdout?: boolean;
    /** Give the program a standard input to write to (ToolRun.stdin). */
    stdin?: boolean;
    stallSeconds?: number;
    /** Files the program writes, whose growth is progress. */
    writes?: string[];
    workers?: boolean;
  },
): ToolRun {
  const { child, tied } = spawnTied(
    file,
    args,
    {
      // Messages in English, as ours are, and as callers read them ("No space left on device"). An
      // empty LC_ALL counts as unset (glibc locale/findlocale.c, _nl_find_locale), so LC_MESSAGES
      // applies, and gettext ignores LANGUAGE under the C locale (intl/dcigettext.c, guess_category_value).
      env: { ...process.env, LC_ALL: '', LC_MESSAGES: 'C', ...options.env },
      stdio: [options.stdin ? 'pipe' : 'ignore', options.keepStdout || options.streamStdout ? 'pipe' : 'ignore', 'pipe'],
      detached: options.workers === true,
    },
    options.workers ? 'TERM' : 'KILL',
  );
  // Should the workers outlive their TERM (a cancel request to a server that never answers), the group is killed (children.ts).
  const guard = options.workers && child.pid !== undefined ? guardGroup(child.pid) : undefined;
  // A group's id is its first process's pid; the workers stay in it (they only fork).
  const signal = (name: NodeJS.Signals) => {
    try {
      if (options.workers && child.pid !== undefined) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      // all of them have ended already
    }
  };
  const tool = path.basename(file);
  const watch =
    options.stallSeconds === undefined
      ? undefined
      : watchForStall({ pid: child.pid, files: options.writes ?? [], seconds: options.stallSeconds, onStall: () => signal('SIGKILL'), group: options.workers });
  let stdout = '';
  if (options.keepStdout) child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const tail: string[] = [];
  let partial = '';
  const take = (line: string) => {
    watch?.touch();
    options.onLine?.(line);
    if (VERBOSE_LINE.test(line)) return;
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(take);
  });
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', (error) => {
      watch?.stop();
      guard?.release();
      reject(new UserFacingError(`cannot run ${file}: ${error.message}`));
    });
    child.on('close', (code, signalName) => {
      watch?.stop();
      // A leader that failed may leave workers behind (one killed by the OOM killer, say); while any
      // lives, the group's id cannot be given to another process (children.ts, guardGroup).
      if (code !== 0 && options.workers) signal('SIGKILL');
      guard?.release();
      if (partial) take(partial);
      if (code === 0) return resolve(stdout);
      if (watch?.stalled) return reject(new ToolStalledError(tool, options.stallSeconds as number));
      const why = signalName ? `was stopped by ${signalName}` : `failed (exit status ${code})`;
      const output = tail.length > 0 ? `:\n${redact(tail.join('\n'), options.target).replace(/^/gm, '  ')}` : '';
      reject(new UserFacingError(`${tool} ${why}${output}`));
    });
  });
  // A program that reads its input may end before taking all of it: that is told by its exit status, not by EPIPE.
  child.stdin?.on('error', () => undefined);
  return { done, tied, stdin: child.stdin ?? undefined, stdout: options.streamStdout ? (child.stdout ?? undefined) : undefined, kill: () => signal('SIGTERM') };
}

/** Runs a client program to its end; aborting the signal stops it. */
export async function runAbortable(run: { done: Promise<string>; kill(): void }, signal: AbortSignal | undefined): Promise<string> {
  const stop = () => run.kill();
  // A signal aborted before the program started fires no 'abort' event again: stop it now.
  if (signal?.aborted) stop();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    return await run.done;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
