import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { DEFAULT_KEEP, LAST_SUCCESS_FILE } from '../../common/names';
import { ROOT } from '../../common/paths';
import type { BackupOptions } from '../../lib/backups/dump';
import { DEFAULT_BACKUP_DIR } from '../../lib/backups/files';
import { DEFAULT_BACKUP_STALL_SECONDS } from '../../lib/backups/stall-limits';
import { parseDatabaseUrl, redact, UserFacingError } from '../../lib/postgres/connection';
import { nonEmpty, numberIn, say, stackOption, userPath } from '../program';

const DEFAULT_PROGRESS_SECONDS = 10;
const RETRY_AFTER_FAILURE_MS = 15 * 60 * 1000;

/** A wait as a person reads it: seconds under a minute, minutes under two hours, else hours. */
export function formatWait(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.ceil(ms / 1000))} s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
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
  const { takeBackup } = await import('../../lib/backups/dump');
  const period = hours * 3600 * 1000;
  const stop = new AbortController();
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(s, () => (stamp(`${s}: stopping`), stop.abort()));
  let last = 0;
  try {
    last = fs.statSync(path.join(options.dir, LAST_SUCCESS_FILE)).mtimeMs;
  } catch {
    // no backup yet: take one now
  }
  stamp(`backing up every ${hours} h to ${options.dir}${options.upload ? ` and ${options.upload.display}` : ''}`);
  let wait = Math.max(0, last + period - Date.now());
  while (!stop.signal.aborted) {
    if (wait > 0) stamp(`next backup in ${formatWait(wait)}`);
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
      stamp(`error: backup failed, trying again in ${formatWait(next)}: ${text}`);
    }
    wait = Math.max(0, started + next - Date.now());
  }
}

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .summary('back up the database with pg_dump, check it, keep the newest, upload')
    .description(
      'Backs up the database in DATABASE_URL with pg_dump (custom format, one consistent snapshot) to\n' +
        'DIR/<stack>-<UTC time>.dump, with its sha256 in the same name + .sha256; the dump is read back\n' +
        'whole before it counts. Then keeps the newest N backups of the stack in DIR (never deleting the\n' +
        'newest valid one) and, when S3_ENDPOINT, S3_REGION, S3_BACKUP_ACCESS_KEY, S3_BACKUP_SECRET_KEY\n' +
        "and S3_BUCKET_BACKUPS are all set, uploads both files to that bucket. Uses pg_dump of the server's\n" +
        "major version (from PG_BIN if set). DATABASE_URL should reach PostgreSQL directly, as a role that\n" +
        "can read every table (the stack's backupDatabaseUrl output).",
    )
    .addOption(stackOption('the stack the backup is named after').makeOptionMandatory())
    .option('--dir <dir>', `the backup folder (default: ${DEFAULT_BACKUP_DIR}/ in the project root; a relative path is taken from the folder you run in)`, nonEmpty)
    .addOption(new Option('--keep <n>', 'backups of the stack to keep in the folder').argParser(numberIn('backups', 1, 10_000, true)).default(DEFAULT_KEEP))
    .addOption(
      new Option('--progress <seconds>', 'a progress line this often while dumping (0: one per table)').argParser(numberIn('seconds', 0, 3600)).default(DEFAULT_PROGRESS_SECONDS),
    )
    .addOption(
      new Option(
        '--every <hours>',
        `keep running, one backup every HOURS (fractions allowed); a failed backup is reported and tried again after ${RETRY_AFTER_FAILURE_MS / 60000} min (or HOURS, if sooner). Each success touches DIR/${LAST_SUCCESS_FILE}`,
      ).argParser(numberIn('hours', 0.001, 24 * 31)),
    )
    .addOption(
      new Option('--stall-timeout <seconds>', 'give up when the server makes no progress (no answer, no bytes of the dump) for this long; nothing half-written is left')
        .argParser(numberIn('seconds', 1, 86_400))
        .default(DEFAULT_BACKUP_STALL_SECONDS),
    )
    .action(async (o: { stack: string; dir?: string; keep: number; progress: number; every?: number; stallTimeout: number }) => {
      // The library (pg_dump, the S3 client) is loaded when the command runs: --help and a usage error stay fast.
      const [{ takeBackup }, { uploadTargetFromEnv }] = await Promise.all([import('../../lib/backups/dump'), import('../../lib/backups/upload')]);
      const options = {
        target: parseDatabaseUrl(process.env.DATABASE_URL),
        stack: o.stack,
        dir: o.dir === undefined ? path.join(ROOT, DEFAULT_BACKUP_DIR) : userPath(o.dir),
        keep: o.keep,
        upload: uploadTargetFromEnv(process.env),
        progressSeconds: o.progress,
        stallSeconds: o.stallTimeout,
      };
      if (o.every !== undefined) return schedule(options, o.every);
      if (!options.upload) say('S3 settings are not set: the backup stays in the local folder only.');
      // A stop ends pg_dump and removes its unfinished file at once, rather than leaving it to the next run.
      const stop = new AbortController();
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => (say(`${s}: stopping the backup`), stop.abort()));
      const r = await takeBackup({ ...options, log: say, signal: stop.signal });
      say(`backup of ${options.target.display} done in ${(r.ms / 1000).toFixed(1)} s: ${r.backup.path}`);
    });
}
