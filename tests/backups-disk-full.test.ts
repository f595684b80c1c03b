/**
 * `npm run db:backup` on a disk that fills up, for real: a tmpfs of a few KiB mounted for the test
 * (tmpfs counts whole 4 KiB pages, so a size can be chosen that holds exactly the dump, or the dump
 * and its checksum). Mounting needs root, as CI runs; these tests fail, not skip, when they cannot
 * mount. Also folders that cannot take a backup at all, which must fail at once.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { LAST_SUCCESS_FILE } from '../common/names';
import { CHECKSUM_EXTENSION, listBackups } from '../lib/backups/files';
import { PG_BIN, startPostgres, type PostgresServer } from './helpers/postgres';
import { startCli } from './helpers/processes';

const run = promisify(execFile);
const STACK = 'full';
const PAGE = 4096;
const SIZE = '\\d+\\.\\d (KiB|MiB)';
let server: PostgresServer;
const cleanups: (() => Promise<void>)[] = [];

async function sql(database: string, text: string): Promise<void> {
  const client = new Client({ connectionString: server.url(database) });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A tmpfs of `bytes` (whole pages) on a new folder, unmounted after the test. */
async function smallDisk(bytes: number, options = ''): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new Error('these tests fill a real disk, a tmpfs of a few KiB, which only root may mount: run them as root (CI does)');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-full-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700${options}`, 'tmpfs', dir]);
  } catch (error) {
    fs.rmdirSync(dir);
    throw new Error(`cannot mount a ${bytes}-byte tmpfs on ${dir}, which these tests need to fill a real disk: ${(error as Error).message}`);
  }
  cleanups.push(async () => {
    await run('umount', [dir]);
    fs.rmdirSync(dir);
  });
  const { blocks, bsize } = fs.statfsSync(dir);
  expect(blocks * bsize).toBe(Math.ceil(bytes / PAGE) * PAGE);
  return dir;
}

/** db:backup of `database` into `dir`, to its end, within a bound. */
async function backup(dir: string, database: string, boundMs = 60_000) {
  const cmd = startCli('db:backup', ['--stack', STACK, '--dir', dir, '--progress', '0'], { DATABASE_URL: server.url(database), PG_BIN });
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    cmd.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        cmd.child.kill('SIGKILL');
        reject(new Error(`db:backup --dir ${dir} had not ended after ${boundMs} ms:\n${cmd.output()}`));
      }, boundMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const output = cmd.output();
  // A full disk is the user's to fix: said in words, never as a stack trace.
  expect(output).not.toMatch(/^\s+at /m);
  expect(output).not.toContain(server.password);
  return { code, output };
}

/** A `.last-success` from an earlier backup, two days old. */
function oldMarker(dir: string): { text: string; mtimeMs: number } {
  const file = path.join(dir, LAST_SUCCESS_FILE);
  fs.writeFileSync(file, '2020-01-01T00:00:00.000Z full-20200101T000000Z.dump\n');
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
  fs.utimesSync(file, twoDaysAgo, twoDaysAgo);
  return marker(dir);
}

function marker(dir: string): { text: string; mtimeMs: number } {
  const file = path.join(dir, LAST_SUCCESS_FILE);
  return { text: fs.readFileSync(file, 'utf8'), mtimeMs: fs.statSync(file).mtimeMs };
}

/** The size of a dump of `database` (the same every time for the same contents), from a backup in an ordinary folder. */
async function dumpSize(database: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-measure-'));
  try {
    expect((await backup(dir, database)).code).toBe(0);
    return fs.statSync(listBackups(dir, STACK)[0].path).size;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  server = await startPostgres();
  await sql('postgres', 'CREATE DATABASE spacious');
  await sql('spacious', `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g`);
  await sql('postgres', 'CREATE DATABASE small');
  await sql('small', `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100) g`);
}, 60_000);

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

afterAll(async () => server?.stop());

describe('db:backup on a disk that fills up', () => {
  test('a dump that does not fit fails naming the folder, what was written and free and about what is needed; nothing of it is left', async () => {
    const size = await dumpSize('spacious');
    // Room for one backup and its checksum, not two.
    const dir = await smallDisk(Math.ceil((size * 1.5) / PAGE) * PAGE);
    const first = await backup(dir, 'spacious');
    expect(first.code).toBe(0);
    const [kept] = listBackups(dir, STACK);
    const before = marker(dir);
    const files = fs.readdirSync(dir).sort();

    const full = await backup(dir, 'spacious');
    expect(full.code).toBe(1);
    expect(full.output).toMatch(
      new RegExp(
        `error: the disk that holds ${dir} is full: pg_dump could not write its dump there \\(${SIZE} written; ${SIZE} free when it began; ` +
          `the last backup of the stack, ${kept.name}, is ${SIZE}: this one needs about as much\\)\\. Its unfinished file was removed\\. ` +
          `No backup was taken; the last one and \\.last-success are as they were\\. Free space on that disk \\(fewer backups kept there: --keep\\), or choose another folder with --dir\\.`,
      ),
    );
    expect(fs.readdirSync(dir).sort()).toEqual(files);
    expect(marker(dir)).toEqual(before);
  });

  test('a checksum that does not fit: the dump is discarded, the previous .last-success is kept as it was', async () => {
    const size = await dumpSize('small');
    // The old marker's page, and exactly the dump's pages: no page for the checksum.
    const dir = await smallDisk(PAGE + Math.ceil(size / PAGE) * PAGE);
    const before = oldMarker(dir);

    const r = await backup(dir, 'small');
    expect(r.code).toBe(1);
    expect(r.output).toMatch(
      new RegExp(
        `error: cannot write ${dir}/${STACK}-\\d{8}T\\d{6}Z\\.dump\\.sha256: the disk is full \\(ENOSPC\\)\\. The dump was discarded: a backup is kept only with its checksum\\. ` +
          `No backup was taken; the last one and \\.last-success are as they were\\. Free space on the disk that holds ${dir} \\(fewer backups kept there: --keep\\), or choose another folder with --dir\\.`,
      ),
    );
    // No dump, no unfinished file, no temporary file of the checksum: only the marker, unchanged.
    expect(fs.readdirSync(dir)).toEqual([LAST_SUCCESS_FILE]);
    expect(marker(dir)).toEqual(before);
  });

  test('a .last-success that does not fit: the backup is kept, the old marker stays whole and old, so health still counts it missing', async () => {
    const size = await dumpSize('small');
    // The old marker's page, the dump's, and one for the checksum: none for the new marker.
    const dir = await smallDisk(2 * PAGE + Math.ceil(size / PAGE) * PAGE);
    const before = oldMarker(dir);

    const r = await backup(dir, 'small');
    expect(r.code).toBe(1);
    const [b, ...others] = listBackups(dir, STACK);
    expect(others).toEqual([]);
    expect(r.output).toContain(
      `error: cannot write ${dir}/${LAST_SUCCESS_FILE}: the disk is full (ENOSPC). The backup ${b.path} was written and checked, but ${LAST_SUCCESS_FILE} ` +
        `was left as it was, so the health check does not count this backup yet. Free space on the disk that holds ${dir} (fewer backups kept there: --keep), or choose another folder with --dir.`,
    );
    expect(fs.readdirSync(dir).sort()).toEqual([LAST_SUCCESS_FILE, b.name, `${b.name}${CHECKSUM_EXTENSION}`].sort());
    expect(marker(dir)).toEqual(before);
  });
});

describe('db:backup into a folder that cannot take a backup', () => {
  test('a folder under /proc fails at once (node\'s recursive mkdir would spin there forever)', async () => {
    const started = Date.now();
    const r = await backup('/proc/pa-no-such-folder/backups', 'small', 30_000);
    expect(r.code).toBe(1);
    expect(r.output).toContain(
      'error: cannot make the backup folder /proc/pa-no-such-folder/backups: /proc does not take new folders (ENOENT; a virtual file system such as /proc or /sys?). Choose another folder with --dir.',
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test('a read-only file system is named as such', async () => {
    const dir = await smallDisk(64 * 1024, ',ro');
    const r = await backup(dir, 'small');
    expect(r.code).toBe(1);
    expect(r.output).toContain(`error: cannot write backups to ${dir}: the file system is read-only (EROFS). Mount the file system of ${dir} read-write, or choose another folder with --dir.`);
  });

  test('a file given as the folder is named as such', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pa-file-')), 'backups');
    fs.writeFileSync(file, 'not a folder');
    const r = await backup(file, 'small');
    expect(r.code).toBe(1);
    expect(r.output).toContain(`error: cannot write backups to ${file}: it is a file, not a folder. Choose another folder with --dir.`);
    fs.rmSync(path.dirname(file), { recursive: true });
  });
});
