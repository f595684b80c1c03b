import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BACKUP_DIR } from '../lib/backups/files';
import { DEFAULT_KEEP, LAST_SUCCESS_FILE } from '../common/names';
import { takeBackup, type BackupOptions } from '../lib/backups/dump';
import { uploadTargetFromEnv } from '../lib/backups/upload';
import { parseDatabaseUrl, redact, UserFacingError } from '../lib/postgres/connection';
import { stackNameProblem } from '../lib/stack/env-file';
import { ROOT } from '../common/paths';
import { numberFlag, runCli, say, secondsFlag, UsageError } from './run';

const DEFAULT_PROGRESS_SECONDS = 10;
const MIN_EVERY_HOURS = 0.001;
const MAX_EVERY_HOURS = 24 * 31;
const RETRY_AFTER_FAILURE_MS = 15 * 60 * 1000;

const USAGE = `usage: npm run db:backup -- --stack STACK [--dir DIR] [--keep N] [--progress SECONDS] [--every HOURS]

Backs up the database in DATABASE_URL with pg_dump (custom format, one consistent snapshot) to
DIR/STACK-<UTC time>.dump, with its sha256 in the same name + .sha256. The dump is read back whole
before it counts as a backup. Then keeps the newest N backups of the stack in DIR (never deleting
the newest valid one) and, when S3_ENDPOINT, S3_REGION, S3_BACKUP_ACCESS_KEY, S3_BACKUP_SECRET_KEY
and S3_BUCKET_BACKUPS are all set, uploads both files to that bucket (whose lifecycle rule expires
old copies: the backup credential cannot delete). Uses pg_dump of the server's major version (from
PG_BIN if set). DATABASE_URL should reach PostgreSQL directly, as a role that can read every table
(the stack's backupDatabaseUrl output).

  --stack STACK       the stack (or any label) the backup is named after
  --dir DIR           the backup folder (default ${DEFAULT_BACKUP_DIR}/ in the project root; relative to it)
  --keep N            backups of the stack to keep in DIR (default ${DEFAULT_KEEP})
  --progress SECONDS  a progress line this often while dumping (default ${DEFAULT_PROGRESS_SECONDS}; 0: one per table)
  --every HOURS       keep running, one backup every HOURS (fractions allowed); a failed backup is
                      reported and tried again after ${RETRY_AFTER_FAILURE_MS / 60000} minutes (or HOURS, if sooner). Each success
                      touches DIR/${LAST_SUCCESS_FILE}.`;

const FLAGS = {
  stack: { type: 'string' },
  dir: { type: 'string' },
  keep: { type: 'string' },
  progress: { type: 'string' },
  every: { type: 'string' },
} as const;

function positiveInteger(raw: string | boolean | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || n < 1) throw new UsageError(`--${name} must be a whole number from 1, not "${String(raw)}"`);
  return n;
}

/** Resolves after `ms`, or as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

function stamp(line: string): void {
  say(`${new Date().toISOString()} ${line}`);
}

/** One backup every `hours`, counted from the last success (so a restarted container does not dump at once). */
async function schedule(options: Omit<BackupOptions, 'signal' | 'log'>, hours: number): Promise<void> {
  const period = hours * 3600 * 1000;
  const stop = new AbortController();
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => (stamp(`${s}: stopping`), stop.abort()));
  let last = 0;
  try {
    last = fs.statSync(path.join(options.dir, LAST_SUCCESS_FILE)).mtimeMs;
  } catch {
    // no backup yet: take one now
  }
  stamp(`backing up every ${hours} h to ${options.dir}${options.upload ? ` and ${options.upload.display}` : ''}`);
  let wait = Math.max(0, last + period - Date.now());
  while (!stop.signal.aborted) {
    if (wait > 0) stamp(`next backup in ${Math.round(wait / 60000)} min`);
    await sleep(wait, stop.signal);
    if (stop.signal.aborted) break;
    const started = Date.now();
    let next = period;
    try {
      const r = await takeBackup({ ...options, log: stamp, signal: stop.signal });
      stamp(`backup ${r.backup.name} done in ${(r.ms / 1000).toFixed(1)} s`);
    } catch (error) {
      // A passing failure (a restarting server) should not cost a whole interval without a backup.
      next = Math.min(period, RETRY_AFTER_FAILURE_MS);
      const text = error instanceof UserFacingError ? error.message : redact(error instanceof Error ? (error.stack ?? error.message) : String(error), options.target);
      stamp(`error: backup failed, trying again in ${Math.round(next / 60000)} min: ${text}`);
    }
    wait = Math.max(0, started + next - Date.now());
  }
}

runCli(USAGE, FLAGS, async (values) => {
  const stack = values.stack;
  if (typeof stack !== 'string' || stack === '') throw new UsageError('name the stack with --stack, e.g. --stack dev');
  const badName = stackNameProblem(stack);
  if (badName) throw new UsageError(badName);
  if (values.dir !== undefined && (typeof values.dir !== 'string' || values.dir.trim() === '')) throw new UsageError('--dir needs a folder');
  const keep = positiveInteger(values.keep, 'keep', DEFAULT_KEEP);
  const progressSeconds = secondsFlag(values, 'progress', DEFAULT_PROGRESS_SECONDS, 0, 3600);
  const every = values.every === undefined ? undefined : numberFlag(values, 'every', 'hours', 0, MIN_EVERY_HOURS, MAX_EVERY_HOURS);
  const options = {
    target: parseDatabaseUrl(process.env.DATABASE_URL),
    stack,
    dir: path.resolve(ROOT, (values.dir as string | undefined) ?? DEFAULT_BACKUP_DIR),
    keep,
    upload: uploadTargetFromEnv(process.env),
    progressSeconds,
  };
  if (every !== undefined) return schedule(options, every);
  if (!options.upload) say('S3 settings are not set: the backup stays in the local folder only.');
  const r = await takeBackup({ ...options, log: say });
  say(`backup of ${options.target.display} done in ${(r.ms / 1000).toFixed(1)} s: ${r.backup.path}`);
});
