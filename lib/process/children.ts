import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Child programs that end with this process, even when it is killed with SIGKILL and so runs no
 * handler: a pg_dump left running goes on filling its file, a pg_restore its temporary database,
 * a drizzle-kit studio goes on serving the database login.
 *
 * On Linux the kernel does it: util-linux's `setpriv --pdeathsig KILL -- CMD` calls
 * prctl(PR_SET_PDEATHSIG, SIGKILL) and then execvp()s CMD (util-linux sys-utils/setpriv.c, end of
 * main()), and the setting survives that execve for a program that is not set-user-ID and has no
 * file capabilities (prctl(2)). util-linux is Essential in Debian, so setpriv is in every
 * bookworm image (node:*-bookworm-slim, which the backup image is built from, and postgres:15).
 *
 * The signal fires when the *thread* that forked the child ends, not the process. libuv forks in
 * the thread that calls uv_spawn (deps/uv/src/unix/process.c, uv__spawn_and_init_child_fork), and
 * node calls it from the thread that runs the JavaScript: children must be spawned from the main
 * thread, whose end is the process's (one spawned from a worker thread dies with the worker).
 *
 * Not covered: the microseconds between the fork and setpriv's prctl. Elsewhere (macOS, or a Linux
 * without setpriv) the child is started as it is, and `tied` is false.
 */

let setprivPath: string | null | undefined;

/** setpriv, from the system's folders first: PATH only where it is installed elsewhere. */
function findSetpriv(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  if (setprivPath === undefined) {
    const dirs = ['/usr/bin', '/bin', ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean)];
    setprivPath =
      dirs
        .map((dir) => path.join(dir, 'setpriv'))
        .find((file) => {
          try {
            fs.accessSync(file, fs.constants.X_OK);
            return true;
          } catch {
            return false;
          }
        }) ?? null;
  }
  return setprivPath ?? undefined;
}

export interface TiedChild {
  child: ChildProcess;
  /** The child gets SIGKILL when this process ends, however it ends. */
  tied: boolean;
}

/**
 * spawn(), with the child tied to this process (see above). Its pid is the program's own: setpriv
 * execs it in place, so signals sent to the child reach the program.
 *
 * `deathSignal` is the signal the child gets when this process ends: KILL, unless the child must
 * pass the end on. The setting is cleared in the children the child forks (prctl(2),
 * PR_SET_PDEATHSIG), so a program that works through processes of its own, as `pg_restore --jobs`
 * does, is given TERM, which it handles by sending TERM to each of its workers, then a cancel
 * request to the server for its own query, then _exit (pg_dump/parallel.c, sigTermHandler; each
 * worker does the same for its query). The cost: a server that no longer answers at all can hold
 * that cancel request (PQcancel opens a connection) until the connection attempt times out.
 */
export function spawnTied(file: string, args: readonly string[], options: SpawnOptions, deathSignal: 'KILL' | 'TERM' = 'KILL'): TiedChild {
  const setpriv = findSetpriv();
  if (!setpriv) return { child: spawn(file, args, options), tied: false };
  return { child: spawn(setpriv, ['--pdeathsig', deathSignal, '--', file, ...args], options), tied: true };
}

/** How long a guarded process group has, after TERM, before KILL (guardGroup). */
export const GROUP_GRACE_SECONDS = 5;

export interface GroupGuard {
  /** The group has ended (or is ended otherwise): the guard goes, signalling nothing. */
  release(): void;
}

/**
 * Ends the process group `pgid` when this process ends, however it ends: TERM, then KILL if it is
 * still there after GROUP_GRACE_SECONDS. For a program tied with TERM (spawnTied's deathSignal) whose workers pass
 * the TERM on: pg_restore's handler, in the leader and in each worker, sends the server a cancel
 * request (PQcancel) before it exits, and in PostgreSQL 15's libpq that is a blocking connect,
 * send and receive with no timeout (interfaces/libpq/fe-connect.c, internal_cancel), so against a
 * server that takes the connection and never answers (a paused container) they would all stay.
 *
 * No handler of ours runs on SIGKILL, so the guard is another process: a shell, in a session of
 * its own (a Ctrl-C for the command does not reach it), blocked reading a pipe that only this
 * process holds open. The kernel closes the pipe when this process ends; the read returns, and the
 * shell signals the group. release() kills the shell first, so an ended group's id, which the
 * system may give to another, is never signalled. Hand-written, as no library does it: it is the
 * pdeathsig idea for a whole group.
 */
export function guardGroup(pgid: number): GroupGuard {
  // After TERM, it looks ten times a second whether the group is still there, and ends with it.
  // No `--` before the negative pid: dash (Debian's /bin/sh) takes none in its kill, and a signal
  // named first makes the next word the group.
  const tries = GROUP_GRACE_SECONDS * 10;
  const script =
    `read _; kill -TERM -"$1" 2>/dev/null; i=0; ` +
    `while kill -0 -"$1" 2>/dev/null; do i=$((i+1)); if [ $i -ge ${tries} ]; then kill -KILL -"$1" 2>/dev/null; exit 0; fi; sleep 0.1; done`;
  const guard = spawn('/bin/sh', ['-c', script, 'sh', String(pgid)], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  guard.on('error', () => undefined);
  guard.stdin?.on('error', () => undefined);
  // Neither the guard nor its pipe keeps this process alive: its end is what the guard waits for.
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      guard.kill('SIGKILL');
      guard.stdin?.destroy();
    },
  };
}

/** The signals that ask a command to stop: Ctrl-C, `kill`, `docker stop`, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * While the child runs, a stop signal sent to this process is passed on to it, and the child is
 * killed if it has not ended `graceMs` later. Without handlers, node would end at once on those
 * signals: the child would be left running, or (where tied) killed without a chance to close.
 * Resolves with the child's exit status once its output is closed, 0 when a signal passed on from
 * here ended it.
 */
export function stopWithThisProcess(child: ChildProcess, graceMs = 5000): Promise<number> {
  let forwarded = false;
  let killer: NodeJS.Timeout | undefined;
  const forward = (signal: NodeJS.Signals) => {
    forwarded = true;
    child.kill(signal);
    killer ??= setTimeout(() => child.kill('SIGKILL'), graceMs);
  };
  for (const s of STOP_SIGNALS) process.on(s, forward);
  const stopForwarding = () => {
    clearTimeout(killer);
    for (const s of STOP_SIGNALS) process.removeListener(s, forward);
  };
  return new Promise((resolve, reject) => {
    child.once('error', (error) => (stopForwarding(), reject(error)));
    child.once('close', (code, signal) => (stopForwarding(), resolve(code ?? (signal && forwarded ? 0 : 1))));
  });
}
