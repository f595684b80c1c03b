import * as fs from 'node:fs';

/**
 * The header and table of contents of a pg_dump custom-format archive, read as pg_restore reads
 * them (PostgreSQL's pg_dump/pg_backup_archiver.c: ReadHead, ReadToc, ReadInt, ReadStr, ReadOffset;
 * pg_backup_custom.c: _ReadExtraToc, _readBlockHeader), for what `pg_restore --list` does not
 * print: where each entry's data starts in the file. Archive versions 1.12 to 1.16, the newest in
 * PostgreSQL's pg_backup_archiver.h (PostgreSQL 15's pg_dump writes 1.14). Written here because
 * pg_restore prints no offsets and no maintained npm package reads the format; only the table of
 * contents is parsed, never the data.
 */
export interface TocEntry {
  dumpId: number;
  /** Whether pg_dump wrote data for it (a table's rows, large objects: hadDumper). */
  hasData: boolean;
  desc: string;
  namespace: string | null;
  tag: string;
  /** Where its data block starts, when pg_dump could seek back to record it (K_OFFSET_POS_SET). */
  dataOffset: number | undefined;
  /** Where in the file that offset is recorded (its flag byte). */
  offsetAt: number;
}

/** Archive versions, as pg_backup_archiver.h builds them: ((major * 256) + minor) * 256 + revision. */
const version = (major: number, minor: number) => (major * 256 + minor) * 256;
const V1_12 = version(1, 12);
const V1_14 = version(1, 14);
const V1_15 = version(1, 15);
const V1_16 = version(1, 16);
const V1_17 = version(1, 17);
const CUSTOM_FORMAT = 1;
const K_OFFSET_POS_NOT_SET = 1;
const K_OFFSET_POS_SET = 2;
const K_OFFSET_NO_DATA = 3;
const BLK_DATA = 1;
const BLK_BLOBS = 3;

export class ArchiveFormatError extends Error {
  override name = 'ArchiveFormatError';
}

/** An archive of a version newer than this reader knows: not a fault of the archive. */
export class UnknownArchiveVersion extends ArchiveFormatError {
  override name = 'UnknownArchiveVersion';
}

/** An unsigned number written least significant byte first, as WriteInt and WriteOffset write it. */
function littleEndian(bytes: Buffer): number {
  let value = 0;
  for (let i = bytes.length - 1; i >= 0; i--) value = value * 256 + bytes[i];
  return value;
}

/** Reads forward through a file, a block at a time, as pg_restore's ReadByte does. */
class Reader {
  private buffer = Buffer.alloc(0);
  private start = 0;
  position = 0;
  intSize = 4;
  offSize = 8;
  archiveVersion = 0;

  constructor(private readonly fd: number) {}

  private ensure(n: number): void {
    if (this.position + n <= this.start + this.buffer.length) return;
    const want = Math.max(n, 256 * 1024);
    const chunk = Buffer.alloc(want);
    const got = fs.readSync(this.fd, chunk, 0, want, this.position);
    if (got < n) throw new ArchiveFormatError(`the file ends inside its header or table of contents (at byte ${this.position + got})`);
    this.buffer = chunk.subarray(0, got);
    this.start = this.position;
  }

  bytes(n: number): Buffer {
    this.ensure(n);
    const at = this.position - this.start;
    this.position += n;
    return this.buffer.subarray(at, at + n);
  }

  byte(): number {
    return this.bytes(1)[0];
  }

  /** ReadInt: a sign byte, then intSize bytes, least significant first. */
  int(): number {
    const sign = this.byte();
    const value = littleEndian(this.bytes(this.intSize));
    return sign ? -value : value;
  }

  /** ReadStr: a length (-1 for NULL), then that many bytes. */
  str(): string | null {
    const length = this.int();
    if (length < 0) return null;
    return this.bytes(length).toString('utf8');
  }

  /** ReadOffset: a flag byte, then offSize bytes, least significant first. */
  offset(): { flag: number; value: number } {
    const flag = this.byte();
    if (flag !== K_OFFSET_POS_NOT_SET && flag !== K_OFFSET_POS_SET && flag !== K_OFFSET_NO_DATA) {
      throw new ArchiveFormatError(`unexpected data offset flag ${flag} at byte ${this.position - 1}`);
    }
    return { flag, value: littleEndian(this.bytes(this.offSize)) };
  }
}

function readHeader(r: Reader): void {
  if (r.bytes(5).toString('latin1') !== 'PGDMP') throw new ArchiveFormatError('it does not start with PGDMP: not a pg_dump custom-format archive');
  const major = r.byte();
  const minor = r.byte();
  const revision = r.byte();
  r.archiveVersion = (major * 256 + minor) * 256 + revision;
  if (r.archiveVersion >= V1_17) throw new UnknownArchiveVersion(`its archive version ${major}.${minor} is newer than the ones this reads (1.12 to 1.16)`);
  if (r.archiveVersion < V1_12) throw new ArchiveFormatError(`its archive version ${major}.${minor} is older than the ones this reads (1.12 to 1.16)`);
  r.intSize = r.byte();
  r.offSize = r.byte();
  if (r.intSize < 1 || r.intSize > 8 || r.offSize < 1 || r.offSize > 8) throw new ArchiveFormatError(`its integer and offset sizes (${r.intSize}, ${r.offSize}) are not sensible`);
  const format = r.byte();
  if (format !== CUSTOM_FORMAT) throw new ArchiveFormatError(`its format is ${format}, not the custom format (${CUSTOM_FORMAT})`);
  if (r.archiveVersion >= V1_15) r.byte(); // the compression algorithm
  else r.int(); // the compression level
  for (let i = 0; i < 7; i++) r.int(); // when it was made: tm_sec ... tm_isdst
  r.str(); // the database's name
  r.str(); // the server's version
  r.str(); // pg_dump's version
}

/** `read` of the file, open for reading while it runs. */
function withFile<T>(file: string, read: (fd: number) => T): T {
  const fd = fs.openSync(file, 'r');
  try {
    return read(fd);
  } finally {
    fs.closeSync(fd);
  }
}

interface Toc {
  archiveVersion: number;
  intSize: number;
  entries: TocEntry[];
}

/** Reads the archive's header and table of contents. */
export function readToc(file: string): Toc {
  return withFile(file, tocOf);
}

function tocOf(fd: number): Toc {
  const r = new Reader(fd);
  readHeader(r);
  const count = r.int();
  const entries: TocEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = r.int();
    const hasData = r.int() !== 0;
    r.str(); // catalog table oid
    r.str(); // oid
    const tag = r.str() ?? '';
    const desc = r.str() ?? '';
    r.int(); // section
    r.str(); // definition
    r.str(); // drop statement
    r.str(); // copy statement
    const namespace = r.str();
    r.str(); // tablespace
    if (r.archiveVersion >= V1_14) r.str(); // table access method
    if (r.archiveVersion >= V1_16) r.int(); // relkind
    r.str(); // owner
    r.str(); // "false": WITH OIDS, long gone
    while (r.str() !== null); // the dependencies, ended by a NULL
    const offsetAt = r.position;
    const { flag, value } = r.offset();
    entries.push({ dumpId, hasData, desc, namespace, tag, dataOffset: flag === K_OFFSET_POS_SET ? value : undefined, offsetAt });
  }
  return { archiveVersion: r.archiveVersion, intSize: r.intSize, entries };
}

const named = (e: TocEntry) => `${e.desc} ${e.namespace ? `${e.namespace}.` : ''}${e.tag} (entry ${e.dumpId})`;

/**
 * What is wrong with the archive's data offsets, or undefined: every entry with data must have its
 * offset recorded, and it must point into the file at the start of a data block of that entry (a
 * block type, then the entry's id: _readBlockHeader). pg_restore --jobs plans by these offsets and
 * a restore from the file seeks by them; a wrong one fails that restore ("found unexpected block
 * ID"), while reading the file from start to end (as the backup reads it back) never uses them.
 */
export function dataOffsetProblem(file: string): string | undefined {
  return withFile(file, (fd) => {
    const { intSize, entries } = tocOf(fd);
    const size = fs.fstatSync(fd).size;
    for (const e of entries) {
      if (!e.hasData) continue;
      if (e.dataOffset === undefined) return `its table of contents records no data offset for ${named(e)}`;
      // The block's header: its type, then ReadInt's sign byte and intSize bytes of the entry's id.
      const head = Buffer.alloc(2 + intSize);
      const got = e.dataOffset < size ? fs.readSync(fd, head, 0, head.length, e.dataOffset) : 0;
      if (got < head.length) return `the data offset of ${named(e)}, ${e.dataOffset}, leaves no room for a block before the end of the file (${size} bytes)`;
      const type = head[0];
      const id = (head[1] === 0 ? 1 : -1) * littleEndian(head.subarray(2));
      if ((type !== BLK_DATA && type !== BLK_BLOBS) || id !== e.dumpId) {
        return `the data offset of ${named(e)}, ${e.dataOffset}, points at no data block of it (block type ${type}, entry ${id})`;
      }
    }
    return undefined;
  });
}
