/**
 * `npm run db:backup` and `db:restore` killed with SIGKILL mid-run, as the commands run (node
 * cli/launch.js ...), against the test's own PostgreSQL 15 holding a table that takes pg_dump some
 * seconds: pg_dump and pg_restore must end with them (no handler runs on SIGKILL: the kernel ends
 * them, lib/process/children.ts), and the next run must remove what the killed one left, saying so.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listBackups, type BackupFile } from '../lib/backups/files';
import { GROUP_GRACE_SECONDS } from '../lib/process/children';
import { groupMembers } from '../lib/process/proc';
import { activeBackend as bigActiveBackend, bigDatabaseBackup, rows as bigRows } from './helpers/big-database';
import { PG_BIN, startPostgres, type PostgresServer } from './helpers/postgres';
import { childrenOf, isRunning, startCli, waitFor } from './helpers/processes';

/** How long a child may outlive its killed parent: the kernel ends it at once. */
const CHILD_GONE_MS = 5_000;
let server: PostgresServer;
let dir: string;
let big: BackupFile;

const rows = <T extends Record<string, unknown>>(database: string, text: string, params: unknown[] = []) => bigRows<T>(server, database, text, params);

async function toTheEnd(cmd: ReturnType<typeof startCli>, boundMs = 120_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    cmd.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => (cmd.child.kill('SIGKILL'), reject(new Error(`not done in ${boundMs} ms:\n${cmd.output()}`))), boundMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

const activeBackend = (applicationName: string, datname?: string, query?: string) => bigActiveBackend(server, applicationName, datname, query);

/**
 * Waits for the command's child program to be at work, kills the command with SIGKILL, and checks
 * that the child ended too, within a bound, with the processes it forked (pg_restore's workers,
 * one per job: `workers` of them) and the command's other children (`others`: the pg_restore that
 * reads a dump back while pg_dump writes it, the shell guarding pg_restore's workers). A child that writes nothing on its stderr meanwhile
 * (a long table) would not notice its parent is gone (no SIGPIPE): the server's process serving it
 * is held (SIGSTOP) while the command is killed, so that nothing but the kernel's signal can end it.
 */
async function killMidRun(
  cmd: ReturnType<typeof startCli>,
  program: string,
  ready: () => boolean,
  session: [string, string, string?],
  o: { workers?: number; others?: string[]; freezeServer?: boolean; boundMs?: number } = {},
): Promise<void> {
  const bound = o.boundMs ?? CHILD_GONE_MS;
  const child = await waitFor(`${program} started by the command`, 60_000, () => ready() && childrenOf(cmd.pid).find((c) => c.comm === program));
  const backend = await activeBackend(...session);
  // pg_restore with jobs leads a process group of its own; pg_dump is in the command's.
  const forked = o.workers ? groupMembers(child.pid).filter((pid) => pid !== child.pid) : [];
  expect(forked.length).toBe(o.workers ?? 0);
  const others = childrenOf(cmd.pid).filter((c) => c.pid !== child.pid);
  expect(others.map((c) => c.comm)).toEqual(o.others ?? []);
  // The whole server: the postmaster too, which then takes connections (the kernel does) and answers none.
  const frozen = [backend, ...(o.freezeServer ? [postmasterPid()] : [])];
  for (const pid of frozen) process.kill(pid, 'SIGSTOP');
  try {
    cmd.child.kill('SIGKILL');
    await cmd.exited;
    const started = Date.now();
    const all = [child.pid, ...forked, ...others.map((c) => c.pid)];
    await waitFor(`${program} (pid ${child.pid}), its workers and the command's other children to end with it`, bound, () => !all.some(isRunning));
    expect(Date.now() - started).toBeLessThan(bound);
  } finally {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
  }
}

/** The server's postmaster: the first line of postmaster.pid. */
const postmasterPid = () => Number(fs.readFileSync(path.join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

beforeAll(async () => {
  server = await startPostgres();
  big = await bigDatabaseBackup(server);
}, 180_000);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-killed-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
afterAll(async () => {
  if (big) fs.rmSync(path.dirname(big.path), { recursive: true, force: true });
  await server?.stop();
});

test('db:backup killed with SIGKILL mid-dump takes pg_dump with it; the next run removes the unfinished dump and says so', async () => {
  const env = { DATABASE_URL: server.url('big'), PG_BIN };
  const args = ['--stack', 'big', '--dir', dir, '--progress', '0'];
  const killed = startCli('db:backup', args, env);
  const partial = () => fs.readdirSync(dir).find((n) => n.endsWith('.partial'));
  // Mid-dump: pg_dump has begun writing the table's rows.
  await killMidRun(killed, 'pg_dump', () => /dumping public\.t/.test(killed.output()) && fs.statSync(path.join(dir, partial() ?? '.')).size > 0, ['db:backup', 'big'], { others: ['pg_restore'] });
  const left = partial() as string;
  expect(left).toMatch(new RegExp(`^\\.big-\\d{8}T\\d{6}Z\\.dump\\.${killed.pid}-\\d+\\.partial$`));

  const next = startCli('db:backup', args, env);
  expect(await toTheEnd(next)).toBe(0);
  expect(next.output()).toContain(`removed ${left}, the unfinished dump of a backup that was stopped before it ended (pid ${killed.pid})`);
  const [b] = listBackups(dir, 'big');
  expect(fs.readdirSync(dir).sort()).toEqual(['.last-success', b.name, `${b.name}.sha256`].sort());
}, 180_000);

test('db:restore killed with SIGKILL mid-restore takes pg_restore with it; the next run drops the temporary database and says so', async () => {
  const env = { DATABASE_URL: server.url(), PG_BIN };
  const args = ['--file', big.path, '--database', 'killed_target'];
  const killed = startCli('db:restore', args, env);
  // Mid-restore, while the rows go in: the pg_restore writing them out (pg_restore --file=-, no
  // workers), and one of the command's own sessions loading them (lib/backups/table-data.ts).
  await killMidRun(killed, 'pg_restore', () => /schema created/.test(killed.output()), ['db:restore', 'killed\\_target\\_\\_restore\\_%', 'COPY %']);
  const [left] = await rows<{ datname: string }>('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'killed\\_target\\_\\_restore\\_%'`);
  expect(left?.datname).toMatch(/^killed_target__restore_[0-9a-f]{6}$/);
  // The server ends the killed pg_restore's session when it next hears from it (after the statement it runs).
  await waitFor('the session of the killed pg_restore to end', 60_000, async () => (await rows('postgres', 'SELECT 1 FROM pg_stat_activity WHERE datname = $1', [left.datname])).length === 0);

  const next = startCli('db:restore', args, env);
  expect(await toTheEnd(next)).toBe(0);
  expect(next.output()).toContain(`dropped "${left.datname}", left by a restore that was stopped before it ended`);
  expect(await rows('postgres', `SELECT datname FROM pg_database WHERE datname LIKE '%\\_\\_re%'`)).toEqual([]);
  expect(await rows('killed_target', 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 2000000 }]);
}, 180_000);

test('db:restore --jobs 2 killed with SIGKILL mid-index while the whole server is frozen: pg_restore and its workers, stuck in their cancel requests, are ended by the group guard', async () => {
  // On TERM each of them sends the server a cancel request, which waits for an answer without a bound (children.ts, guardGroup).
  const env = { DATABASE_URL: server.url(), PG_BIN };
  const killed = startCli('db:restore', ['--file', big.path, '--database', 'frozen_target', '--jobs', '2'], env);
  await killMidRun(killed, 'pg_restore', () => /building the indexes/.test(killed.output()), ['db:restore', 'frozen\\_target\\_\\_restore\\_%', 'CREATE INDEX %'], {
    workers: 2,
    others: ['sh'],
    freezeServer: true,
    boundMs: GROUP_GRACE_SECONDS * 1000 + CHILD_GONE_MS,
  });
  await waitFor('the sessions of the killed restore to end', 60_000, async () => (await rows('postgres', `SELECT 1 FROM pg_stat_activity WHERE datname LIKE 'frozen\\_target\\_\\_restore\\_%'`)).length === 0);
  for (const { datname } of await rows<{ datname: string }>('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'frozen\\_target\\_\\_restore\\_%'`)) {
    await rows('postgres', `DROP DATABASE "${datname}" WITH (FORCE)`);
  }
}, 180_000);
