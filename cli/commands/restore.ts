import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ROOT } from '../../common/paths';
import { backupAt, DEFAULT_BACKUP_DIR, listBackups } from '../../lib/backups/files';
import { databaseNameProblem, defaultRestoreJobs, MAX_DEFAULT_RESTORE_JOBS, MAX_RESTORE_JOBS, restore } from '../../lib/backups/restore';
import { DEFAULT_RESTORE_STALL_SECONDS } from '../../lib/backups/stall-limits';
import { parseDatabaseUrl, UserFacingError } from '../../lib/postgres/connection';
import { nonEmpty, numberIn, say, stackOption, UsageError, userPath } from '../program';

function databaseName(raw: string): string {
  const problem = databaseNameProblem(raw);
  if (problem) throw new InvalidArgumentError(problem);
  return raw;
}

function chooseBackup(o: { file?: string; stack?: string; dir?: string }) {
  if (o.file !== undefined) {
    const full = userPath(o.file);
    if (!fs.existsSync(full)) throw new UserFacingError(`${full} does not exist; nothing was changed.`);
    return backupAt(full);
  }
  if (o.stack === undefined) throw new UsageError('choose the backup with --file FILE, or --stack NAME for its newest');
  const dir = o.dir === undefined ? path.join(ROOT, DEFAULT_BACKUP_DIR) : userPath(o.dir);
  const newest = listBackups(dir, o.stack)[0];
  if (!newest) throw new UserFacingError(`there is no backup of stack "${o.stack}" in ${dir}; nothing was changed. Name one with --file.`);
  return newest;
}

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .summary('restore a backup into a database, all or nothing')
    .description(
      "Restores a backup of `backup` into the database NAME on the server in DATABASE_URL, which must be\n" +
        "the server's admin login (the stack's postgresAdminUrl output). First checks the backup's sha256\n" +
        'against its .sha256 file and that it is a pg_dump archive; then restores into a new temporary\n' +
        "database and, only once all of it went in, puts that in NAME's place. On any failure NAME is left\n" +
        "as it was. Uses pg_restore of the server's major version (from PG_BIN if set). An existing NAME\n" +
        '(empty, or with --replace) has its sessions ended when the restored database takes its place, and\n' +
        'is then dropped. Ctrl-C before that drops what the restore made and changes nothing.',
    )
    .requiredOption('--database <name>', 'the database to restore into; made if missing', databaseName)
    .addOption(new Option('--file <file>', 'the backup to restore (its checksum file FILE.sha256 beside it); relative to the folder you run in').argParser(nonEmpty).conflicts(['stack', 'dir']))
    .addOption(stackOption('or: the newest backup of this stack in the backup folder'))
    .option('--dir <dir>', `with --stack: the backup folder (default: ${DEFAULT_BACKUP_DIR}/ in the project root; a relative path is taken from the folder you run in)`, nonEmpty)
    .option('--replace', 'replace NAME even if it holds anything (tables, functions, types, extensions...)')
    .addOption(
      new Option('--stall-timeout <seconds>', 'give up when the restore makes no progress (no answer, nothing read or sent) for this long; NAME is left as it was')
        .argParser(numberIn('seconds', 1, 86_400))
        .default(DEFAULT_RESTORE_STALL_SECONDS),
    )
    .addOption(
      new Option(
        '--jobs <n>',
        `sessions sharing each table's rows, and indexes pg_restore builds at once, each a connection of its own (default: the CPUs here, at most ${MAX_DEFAULT_RESTORE_JOBS}; ${defaultRestoreJobs()} here)`,
      ).argParser(numberIn('jobs', 1, MAX_RESTORE_JOBS, true)),
    )
    .action(async (o: { database: string; file?: string; stack?: string; dir?: string; replace?: boolean; stallTimeout: number; jobs?: number }) => {
      const backup = chooseBackup(o);
      const admin = parseDatabaseUrl(process.env.DATABASE_URL);
      // Ctrl-C or a stop lets the restore drop what it made (and never interrupts the swap itself).
      const stop = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => (say(`${signal}: stopping the restore`), stop.abort()));
      const result = await restore({ admin, database: o.database, backup, replace: Boolean(o.replace), log: say, signal: stop.signal, stallSeconds: o.stallTimeout, jobs: o.jobs });
      say(`restored ${backup.name} into "${o.database}" on ${admin.display.replace(/\/[^/]*$/, '')}${result.replaced ? ' (replacing it)' : ''} in ${(result.ms / 1000).toFixed(1)} s.`);
    });
}
