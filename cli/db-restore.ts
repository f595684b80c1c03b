import * as fs from 'node:fs';
import * as path from 'node:path';
import { backupAt, DEFAULT_BACKUP_DIR, listBackups } from '../lib/backups/files';
import { parseDatabaseUrl, UserFacingError } from '../lib/postgres/connection';
import { stackNameProblem } from '../lib/stack/env-file';
import { ROOT } from '../common/paths';
import { databaseNameProblem, restore } from '../lib/backups/restore';
import { runCli, say, UsageError } from './run';

const USAGE = `usage: npm run db:restore -- --database NAME (--file FILE | --stack STACK [--dir DIR]) [--replace]

Restores a backup of db:backup into the database NAME on the server in DATABASE_URL, which must be
the server's admin login (the stack's postgresAdminUrl output): the restore creates databases and
gives the backup's objects their owners. First checks the backup's sha256 against its .sha256 file
and that it is a pg_dump archive; then restores into a new temporary database and, only once all of
it went in, puts that in NAME's place. On any failure NAME is left as it was. Uses pg_restore of the
server's major version (from PG_BIN if set).

  --database NAME  the database to restore into; made if missing
  --file FILE      the backup to restore (its checksum file FILE.sha256 must be beside it)
  --stack STACK    or: the newest backup of STACK in DIR
  --dir DIR        the backup folder (default ${DEFAULT_BACKUP_DIR}/ in the project root; relative to it)
  --replace        replace NAME even if it holds anything (tables, functions, types, extensions...)

An existing NAME (empty, or with --replace) has its sessions ended when the restored database takes
its place, and is then dropped. Ctrl-C before that drops what the restore made and changes nothing.`;

const FLAGS = {
  database: { type: 'string' },
  file: { type: 'string' },
  stack: { type: 'string' },
  dir: { type: 'string' },
  replace: { type: 'boolean' },
} as const;

function chooseBackup(values: Record<string, string | boolean | undefined>) {
  const { file, stack } = values;
  if (file !== undefined && stack !== undefined) throw new UsageError('give either --file or --stack, not both');
  if (typeof file === 'string') {
    if (file.trim() === '') throw new UsageError('--file needs a file name');
    const full = path.resolve(ROOT, file);
    if (!fs.existsSync(full)) throw new UserFacingError(`${full} does not exist; nothing was changed.`);
    return backupAt(full);
  }
  if (typeof stack !== 'string' || stack === '') throw new UsageError('choose the backup with --file FILE, or --stack STACK for its newest');
  const badName = stackNameProblem(stack);
  if (badName) throw new UsageError(badName);
  const dir = path.resolve(ROOT, typeof values.dir === 'string' ? values.dir : DEFAULT_BACKUP_DIR);
  const newest = listBackups(dir, stack)[0];
  if (!newest) throw new UserFacingError(`there is no backup of stack "${stack}" in ${dir}; nothing was changed. Name one with --file.`);
  return newest;
}

runCli(USAGE, FLAGS, async (values) => {
  const database = values.database;
  if (typeof database !== 'string') throw new UsageError('name the database to restore into with --database');
  const badDatabase = databaseNameProblem(database);
  if (badDatabase) throw new UsageError(badDatabase);
  const backup = chooseBackup(values);
  const admin = parseDatabaseUrl(process.env.DATABASE_URL);
  // Ctrl-C or a stop lets the restore drop what it made (and never interrupts the swap itself).
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (say(`${signal}: stopping the restore`), stop.abort()));
  const result = await restore({ admin, database, backup, replace: Boolean(values.replace), log: say, signal: stop.signal });
  say(`restored ${backup.name} into "${database}" on ${admin.display.replace(/\/[^/]*$/, '')}${result.replaced ? ' (replacing it)' : ''} in ${(result.ms / 1000).toFixed(1)} s.`);
});
