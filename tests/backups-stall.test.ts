/**
 * A backup and a restore against a server that stops answering after the login: the test's own
 * PostgreSQL 15, whose backend serving pg_dump or pg_restore is stopped with SIGSTOP mid-run (the
 * connection stays open; nothing more comes). Each must give up within its stall bound, naming the
 * server and the bound, and leave nothing half-done behind; a restore's leftover database is
 * dropped by the next restore.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { takeBackup } from '../lib/backups/dump';
import type { BackupFile } from '../lib/backups/files';
import { defaultRestoreJobs, restore } from '../lib/backups/restore';
import { boundQueries } from '../lib/backups/stall-limits';
import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { groupMembers } from '../lib/process/proc';
import { activeBackend as bigActiveBackend, bigDatabaseBackup, rows as bigRows } from './helpers/big-database';
import { startPostgres, type PostgresServer } from './helpers/postgres';
import { childrenOf, isRunning, waitFor } from './helpers/processes';

const STALL_SECONDS = 3;
let server: PostgresServer;
let dir: string;
let big: BackupFile;
const stopped = new Set<number>();

const rows = <T extends Record<string, unknown>>(database: string, text: string, params: unknown[] = []) => bigRows<T>(server, database, text, params);

/** Stops a server process where it is: the server has stopped answering that connection. */
function freeze(pid: number): void {
  process.kill(pid, 'SIGSTOP');
  stopped.add(pid);
}

function thaw(): void {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  stopped.clear();
}

const activeBackend = (applicationName: string, datname?: string, query?: string) => bigActiveBackend(server, applicationName, datname, query);

const log: string[] = [];
const say = (line: string) => log.push(line);

beforeAll(async () => {
  server = await startPostgres();
  big = await bigDatabaseBackup(server);
}, 180_000);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-stall-'));
  log.length = 0;
});

afterEach(() => {
  thaw();
  fs.rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  thaw();
  if (big) fs.rmSync(path.dirname(big.path), { recursive: true, force: true });
  await server?.stop();
});

test('a backup whose server stops answering mid-dump gives up within the bound, naming the server and the bound; pg_dump and its file are gone', async () => {
  const target = parseDatabaseUrl(server.url('big'));
  const started = Date.now();
  const backup = takeBackup({ target, stack: 'big', dir, keep: 1, progressSeconds: 0, stallSeconds: STALL_SECONDS, log: say });
  const failed = backup.then(
    () => undefined,
    (error: Error) => error,
  );
  freeze(await activeBackend('db:backup', 'big'));
  const dumps = childrenOf(process.pid).filter((c) => c.comm === 'pg_dump');
  expect(dumps.length).toBe(1);

  const error = await failed;
  expect(error?.message).toBe(
    `pg_dump made no progress for ${STALL_SECONDS} s: nothing came from PostgreSQL at ${target.display} and nothing was written to the dump. ` +
      "The server stopped answering, or something held pg_dump up (a long migration's lock, say). pg_dump was stopped and its unfinished file removed. " +
      'No backup was taken; the last one and .last-success are as they were. If the server is only slow, allow it longer with --stall-timeout SECONDS.',
  );
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(isRunning(dumps[0].pid)).toBe(false);
  expect(fs.readdirSync(dir)).toEqual([]);
}, 60_000);

/** Starts a restore of the big backup over `database` (which holds a table `kept`), failing with a stall bound of STALL_SECONDS. */
async function stalledRestore(database: string) {
  await rows('postgres', `CREATE DATABASE ${database}`);
  await rows(database, 'CREATE TABLE kept AS SELECT 1 AS id');
  const admin = parseDatabaseUrl(server.url());
  const started = Date.now();
  const failed = restore({ admin, database, backup: big, replace: true, log: say, stallSeconds: STALL_SECONDS }).then(
    () => undefined,
    (error: Error) => error,
  );
  return { admin, started, failed };
}

test('a restore whose server stops answering while it loads the rows gives up within the bound; the target is untouched, and the next restore drops what it left', async () => {
  const { admin, started, failed } = await stalledRestore('stalled_target');
  // One of the sessions the rows are split between (lib/backups/table-data.ts): the other takes
  // the rest of them, then the load waits for this one's COPY to end.
  freeze(await activeBackend('db:restore', 'stalled\\_target\\_\\_restore\\_%', 'COPY %'));
  // The pg_restore writing the rows out (pg_restore --file=-), which forks no worker.
  const restores = childrenOf(process.pid).filter((c) => c.comm === 'pg_restore');
  expect(restores.length).toBe(1);

  const error = await failed;
  expect(error?.message).toBe(
    `loading the backup's rows made no progress for ${STALL_SECONDS} s: nothing read from the backup, no row taken by PostgreSQL at ${admin.display}. ` +
      'The server stopped answering, or something held it up. The restore was stopped, so "stalled_target" was left as it was. ' +
      'If the server is only slow, allow it longer with --stall-timeout SECONDS.',
  );
  // The load of 2M rows in the other session, the bound, and DROP DATABASE ... WITH (FORCE)'s own 5 s wait for the stopped session.
  expect(Date.now() - started).toBeLessThan(40_000);
  // The table whose rows took more than a moment was named while they went in.
  expect(log).toContain('  loading public.t');
  expect(isRunning(restores[0].pid)).toBe(false);
  expect(await rows('stalled_target', 'SELECT id FROM kept')).toEqual([{ id: 1 }]);
  const leftover = log.find((l) => /could not be dropped/.test(l));
  expect(leftover).toMatch(/^warning: the database "stalled_target__restore_[0-9a-f]{6}" this restore made could not be dropped \(.*\): the next restore drops it/);

  // The restore's own DROP DATABASE ... WITH (FORCE) goes on in the server until it gives up on the
  // stopped session (5 s). Then, answering again, the server ends the cut-off session, and the
  // next restore drops the database it left.
  const name = /"(stalled_target__restore_[0-9a-f]{6})"/.exec(leftover as string)![1];
  const session = (sql: string, value: string) => async () => (await rows('postgres', sql, [value])).length === 0;
  await waitFor("the stopped restore's DROP to give up", 30_000, session('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', `db:restore ${name.slice(-6)}`));
  thaw();
  await waitFor("the stopped load's session to end", 30_000, session('SELECT 1 FROM pg_stat_activity WHERE datname = $1', name));
  expect(await rows('postgres', 'SELECT datname FROM pg_database WHERE datname = $1', [name])).toEqual([{ datname: name }]);
  log.length = 0;
  // The default bound: building the index takes pg_restore more than 3 s without a sign of progress.
  await restore({ admin, database: 'stalled_target', backup: big, replace: true, log: say });
  expect(log).toContain(`dropped "${name}", left by a restore that was stopped before it ended`);
  expect(await rows('postgres', `SELECT datname FROM pg_database WHERE datname LIKE '%\\_\\_re%'`)).toEqual([]);
  expect(await rows('stalled_target', 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 2000000 }]);
}, 120_000);

test('a restore whose server stops answering while pg_restore builds an index gives up within the bound; pg_restore and its workers are gone', async () => {
  const { admin, started, failed } = await stalledRestore('stalled_index');
  // The worker's session building the index (pg_restore --jobs forks one per job).
  freeze(await activeBackend('db:restore', 'stalled\\_index\\_\\_restore\\_%', 'CREATE INDEX %'));
  const restores = childrenOf(process.pid).filter((c) => c.comm === 'pg_restore');
  expect(restores.length).toBe(1);
  const jobs = defaultRestoreJobs();
  const workers = groupMembers(restores[0].pid).filter((pid) => pid !== restores[0].pid);
  expect(workers.length).toBe(jobs > 1 ? jobs : 0);

  const error = await failed;
  expect(error?.message).toBe(
    `pg_restore made no progress for ${STALL_SECONDS} s: nothing read from the backup, nothing sent to or received from PostgreSQL at ${admin.display}, no line of output. ` +
      'The server stopped answering, or something held it up. pg_restore was stopped, so "stalled_index" was left as it was. ' +
      'A long index build on a big table shows no progress either: if that is what took so long, allow it longer with --stall-timeout SECONDS.',
  );
  expect(Date.now() - started).toBeLessThan(40_000);
  expect(isRunning(restores[0].pid)).toBe(false);
  expect(workers.filter(isRunning)).toEqual([]);
  expect(await rows('stalled_index', 'SELECT id FROM kept')).toEqual([{ id: 1 }]);
  thaw();
}, 120_000);

test('a query to a server that stops answering fails within the bound, and its client is closed', async () => {
  const client = await connect(parseDatabaseUrl(server.url()), 'stall-test');
  const bounded = boundQueries(client, 1, () => new Error('no answer within 1 s'));
  const [{ pid }] = (await bounded.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
  freeze(pid);
  const started = Date.now();
  await expect(bounded.query('SELECT 1')).rejects.toThrow('no answer within 1 s');
  expect(Date.now() - started).toBeLessThan(5_000);
  await expect(bounded.query('SELECT 1')).rejects.toThrow(/not queryable|closed|ended/i);
});
