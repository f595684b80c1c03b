/**
 * lib/backups/archive-toc.ts against real pg_dump archives of PostgreSQL 15: the table of contents
 * it reads is the one `pg_restore --list` prints, and the data offsets it checks are the ones
 * pg_restore seeks by; an offset moved, past the end, or never written (a dump through a pipe) is
 * named.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { ArchiveFormatError, dataOffsetProblem, readToc, UnknownArchiveVersion } from '../lib/backups/archive-toc';
import { createDatabase, PG_BIN, startPostgres, type PostgresServer } from './helpers/postgres';

let server: PostgresServer;
let dir: string;
let archive: string;
let url: string;

beforeAll(async () => {
  server = await startPostgres();
  url = await createDatabase(server, 'toc');
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(
    `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g;
     CREATE TABLE "Odd ""name""" (x int); CREATE TABLE empty_one (id int); CREATE SEQUENCE s; SELECT nextval('s');
     CREATE INDEX t_v ON t (v); COMMENT ON TABLE t IS 'a comment'; GRANT SELECT ON t TO PUBLIC;`,
  );
  await client.end();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-toc-'));
  archive = path.join(dir, 'toc.dump');
  execFileSync(path.join(PG_BIN, 'pg_dump'), ['--format=custom', `--file=${archive}`, `--dbname=${url}`]);
}, 60_000);

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await server?.stop();
});

/** A copy of the archive, changed by `edit`. */
function copyOf(name: string, edit: (bytes: Buffer) => Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, edit(fs.readFileSync(archive)));
  return file;
}

test('reads the entries pg_restore --list prints, in its order, each entry with data located', () => {
  const { archiveVersion, entries } = readToc(archive);
  expect(archiveVersion).toBe((1 * 256 + 14) * 256); // PostgreSQL 15 writes archive version 1.14
  const listed = execFileSync(path.join(PG_BIN, 'pg_restore'), ['--list', archive], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^\d+;/.test(l))
    .map((l) => Number(l.split(';')[0]));
  // --list leaves out the entries pg_restore handles itself (_tocEntryRequired: REQ_SPECIAL) and, without --create, the database's own.
  expect(entries.slice(0, 4).map((e) => e.desc)).toEqual(['ENCODING', 'STDSTRINGS', 'SEARCHPATH', 'DATABASE']);
  expect(entries.slice(4).map((e) => e.dumpId)).toEqual(listed);
  const data = entries.filter((e) => e.hasData);
  expect(data.map((e) => `${e.desc} ${e.namespace}.${e.tag}`).sort()).toEqual(['TABLE DATA public.Odd "name"', 'TABLE DATA public.empty_one', 'TABLE DATA public.t']);
  expect(data.every((e) => e.dataOffset !== undefined && e.dataOffset > 0)).toBe(true);
  expect(entries.find((e) => e.desc === 'SEQUENCE SET')).toMatchObject({ hasData: false, dataOffset: undefined });
  expect(dataOffsetProblem(archive)).toBeUndefined();
});

/** Writes `value` as the offset recorded for `entry` (ReadOffset: a flag byte, then 8 bytes, least significant first). */
function withOffset(bytes: Buffer, offsetAt: number, value: number): Buffer {
  bytes.writeBigUInt64LE(BigInt(value), offsetAt + 1);
  return bytes;
}

test('an offset that points at another entry\'s data, or past the end, is named with its entry', () => {
  const { entries } = readToc(archive);
  const t = entries.find((e) => e.tag === 't' && e.hasData)!;
  const other = entries.find((e) => e.tag === 'empty_one' && e.hasData)!;
  const moved = copyOf('moved.dump', (b) => withOffset(b, t.offsetAt, other.dataOffset!));
  expect(dataOffsetProblem(moved)).toBe(
    `the data offset of TABLE DATA public.t (entry ${t.dumpId}), ${other.dataOffset}, points at no data block of it (block type 1, entry ${other.dumpId})`,
  );
  const inside = copyOf('inside.dump', (b) => withOffset(b, t.offsetAt, t.dataOffset! + 7));
  expect(dataOffsetProblem(inside)).toMatch(new RegExp(`^the data offset of TABLE DATA public\\.t \\(entry ${t.dumpId}\\), ${t.dataOffset! + 7}, points at no data block of it`));
  const size = fs.statSync(archive).size;
  const past = copyOf('past.dump', (b) => withOffset(b, t.offsetAt, size + 100));
  expect(dataOffsetProblem(past)).toBe(`the data offset of TABLE DATA public.t (entry ${t.dumpId}), ${size + 100}, leaves no room for a block before the end of the file (${size} bytes)`);
  // pg_restore, seeking by that offset, fails on the same file: what the check spares a restore.
  const english = { ...process.env, LC_ALL: '', LC_MESSAGES: 'C' };
  expect(() => execFileSync(path.join(PG_BIN, 'pg_restore'), ['--file=/dev/null', moved], { stdio: 'pipe', env: english })).toThrow(/unexpected block ID|could not find block ID/);
});

test('a dump written through a pipe has no data offsets, and is named', () => {
  const piped = path.join(dir, 'piped.dump');
  fs.writeFileSync(piped, execFileSync(path.join(PG_BIN, 'pg_dump'), ['--format=custom', `--dbname=${url}`], { maxBuffer: 64 * 1024 * 1024 }));
  expect(dataOffsetProblem(piped)).toMatch(/^its table of contents records no data offset for TABLE DATA public\..+ \(entry \d+\)$/);
});

test('a file that is not a custom-format archive, or ends inside its table of contents, is refused with why', () => {
  const text = path.join(dir, 'text.sql');
  fs.writeFileSync(text, 'SELECT 1;\n');
  expect(() => readToc(text)).toThrow(new ArchiveFormatError('it does not start with PGDMP: not a pg_dump custom-format archive'));
  const cut = copyOf('cut.dump', (b) => b.subarray(0, 300));
  expect(() => readToc(cut)).toThrow(/^the file ends inside its header or table of contents \(at byte \d+\)$/);
  const future = copyOf('future.dump', (b) => (b.writeUInt8(99, 6), b));
  expect(() => readToc(future)).toThrow(new UnknownArchiveVersion('its archive version 1.99 is newer than the ones this reads (1.12 to 1.16)'));
  const old = copyOf('old.dump', (b) => (b.writeUInt8(11, 6), b));
  expect(() => readToc(old)).toThrow('its archive version 1.11 is older than the ones this reads (1.12 to 1.16)');
});
