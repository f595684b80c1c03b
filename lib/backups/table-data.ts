import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import { UserFacingError, type DatabaseTarget } from '../postgres/connection';
import { runPgTool } from '../postgres/pg-tools';

/**
 * Loads the table data of a pg_dump archive with every table's rows split between several
 * sessions, so that the server parses them and computes their generated columns (the documents'
 * search vector: most of a restore's time) on as many cores. pg_restore --jobs loads each table in
 * one session (one COPY per TABLE DATA entry: pg_dump/pg_backup_archiver.c, restore_toc_entry), so
 * a restore of one large table uses one core however many jobs it has.
 *
 * pg_restore itself reads the archive: `pg_restore --file=-` writes the entries as a psql script,
 * each table as `COPY name (columns) FROM stdin;`, its rows in COPY's text format, one row per line
 * (a newline inside a value is written `\n`), and a line `\.` (pg_backup_archiver.c, _printTocEntry
 * and ahwrite; the rows are the bytes pg_dump stored). Whole lines of rows go, a read at a time, to
 * whichever session is ready for more, each running its own COPY of the table (pg-copy-streams).
 * Outside the rows, the script holds comments, the session settings pg_restore starts with (run in
 * every session: client_encoding is the rows' encoding; the search_path line is the archive's own,
 * as pg_restore runs it in the other steps) and psql's \restrict and \unrestrict, which guard
 * psql against a doctored archive and mean nothing here. Anything else (an archive dumped with
 * --inserts holds INSERT statements) fails the load.
 *
 * What the rows then lack, the indexes, keys and triggers, pg_restore adds afterwards (the archive's
 * post-data section), so the rows' order between sessions matters to nothing.
 */
export interface TableDataOptions {
  pgRestore: string;
  file: string;
  /** A pg_restore --use-list file naming the archive's TABLE DATA entries to load. */
  listFile: string;
  /** Sessions on the database to load into, each a COPY stream at a time. */
  sessions: Client[];
  /** The server, to scrub its password from pg_restore's messages. */
  target: DatabaseTarget;
  /** Seconds without progress (nothing read from pg_restore, nothing taken by any session) before the load gives up with `stalled()`. */
  stallSeconds: number;
  stalled: () => Error;
  signal?: AbortSignal;
  /** Told each table as its rows start, by the name its COPY gives it. */
  onTable?: (table: string) => void;
}

const COPY = /^COPY (.+) FROM stdin;$/s;
/** The table a COPY names: its schema and name, each a plain word or a quoted identifier (fmtQualifiedId). */
const COPIED_TABLE = /^COPY ((?:"(?:[^"]|"")*"|[^\s".(]+)(?:\.(?:"(?:[^"]|"")*"|[^\s".(]+))?)/;
const CLIENT_ENCODING = /^SET client_encoding = '([^']+)';$/;
/** What pg_restore sets at the start of its script (statement_timeout, client_encoding, search_path...). */
const SESSION_SETTING = /^(SET [a-z_]+ = .*|SELECT pg_catalog\.set_config\('[a-z_]+', .*\));$/;
const PSQL_GUARD = /^\\(restrict|unrestrict) /;
const NEWLINE = 0x0a;
const END_OF_ROWS = Buffer.from('\\.\n');
const LINE_THEN_END_OF_ROWS = Buffer.from('\n\\.\n');

/** The position of the `\.` line in `data` from `at` (a line's start) to `end`, or -1. */
function endOfRows(data: Buffer, at: number, end: number): number {
  if (data.subarray(at, at + END_OF_ROWS.length).equals(END_OF_ROWS)) return at;
  const found = data.indexOf(LINE_THEN_END_OF_ROWS, at);
  return found >= 0 && found + LINE_THEN_END_OF_ROWS.length <= end ? found + 1 : -1;
}

/** One table's COPY, in as many sessions as it has rows for, each started with its first rows. */
class TableCopy {
  private readonly streams: (CopyStreamQuery | undefined)[];
  private next = 0;

  constructor(
    private readonly statement: string,
    private readonly table: string,
    private readonly sessions: Client[],
    private readonly failed: (error: Error) => void,
    private readonly progress: () => void,
  ) {
    this.streams = sessions.map(() => undefined);
  }

  private stream(i: number): CopyStreamQuery {
    let stream = this.streams[i];
    if (!stream) {
      stream = this.sessions[i].query(copyFrom(this.statement));
      // As pg_restore says it (pg_backup_archiver.c, "COPY failed for table"), with where in the rows the server was.
      // The server counts lines within this session's share of the rows, not the table's.
      const share = this.sessions.length > 1 ? `; the line counts this session's share of the rows, one of ${this.sessions.length}` : '';
      stream.on('error', (error: Error & { where?: string }) =>
        this.failed(new Error(`COPY failed for table ${this.table}: ${error.message}${error.where ? ` (${error.where}${share})` : ''}`)),
      );
      this.streams[i] = stream;
    }
    return stream;
  }

  /** Hands whole lines of rows to the next session with room for them, waiting for one when none has. */
  async write(rows: Buffer): Promise<void> {
    const n = this.sessions.length;
    let chosen = -1;
    for (let k = 0; k < n && chosen < 0; k++) {
      const i = (this.next + k) % n;
      if (!this.streams[i]?.writableNeedDrain) chosen = i;
    }
    if (chosen < 0) {
      // Every session has started and has a write in hand: the first to take it gets the next. (A
      // stream's error fails the load through `failed`, and this wait is then left behind.)
      const started = this.streams as CopyStreamQuery[];
      chosen = await new Promise<number>((resolve) => {
        const listeners = started.map((s, i) => {
          const drained = () => {
            started.forEach((other, j) => other.off('drain', listeners[j]));
            resolve(i);
          };
          s.once('drain', drained);
          return drained;
        });
      });
    }
    this.next = (chosen + 1) % n;
    this.stream(chosen).write(rows);
    this.progress();
  }

  /** Ends every session's COPY and waits for the server to have taken each. */
  async finish(): Promise<void> {
    const started = this.streams.filter((s): s is CopyStreamQuery => s !== undefined);
    // A table without rows still gets its COPY, as pg_restore runs it: it fails as it would for a table missing.
    if (started.length === 0) started.push(this.stream(0));
    await Promise.all(
      started.map(async (s) => {
        s.end();
        await finished(s);
        this.progress();
      }),
    );
  }
}

/** Reads pg_restore's script and loads each COPY's rows through `sessions`. */
async function loadScript(input: Readable, o: TableDataOptions, progress: () => void, failed: (error: Error) => void, ended: Promise<unknown>): Promise<void> {
  let copy: TableCopy | undefined;
  let encoding = 'UTF8';
  // Bytes of a line not yet ended: a read without a newline waits here for the rest.
  let pending: Buffer[] = [];
  for await (const chunk of input as AsyncIterable<Buffer>) {
    progress();
    if (chunk.indexOf(NEWLINE) < 0) {
      pending.push(chunk);
      continue;
    }
    const data = pending.length > 0 ? Buffer.concat([...pending, chunk]) : chunk;
    const end = data.lastIndexOf(NEWLINE) + 1;
    pending = end < data.length ? [data.subarray(end)] : [];
    let at = 0;
    while (at < end) {
      if (copy) {
        const stop = endOfRows(data, at, end);
        const rowsEnd = stop < 0 ? end : stop;
        if (rowsEnd > at) await copy.write(data.subarray(at, rowsEnd));
        if (stop < 0) break;
        await copy.finish();
        copy = undefined;
        at = stop + END_OF_ROWS.length;
        continue;
      }
      const newline = data.indexOf(NEWLINE, at);
      const line = data.toString('utf8', at, newline);
      at = newline + 1;
      if (COPY.test(line)) {
        // node-postgres sends statements as UTF-8; the server reads them in the archive's client_encoding.
        if (encoding !== 'UTF8' && /[^\x00-\x7f]/.test(line)) {
          throw new UserFacingError(
            `the backup's data is in ${encoding}, and a table's or column's name in it is not ASCII ("${line.slice(0, 60)}..."): db:restore sends statements in UTF8. Restore this archive with pg_restore itself.`,
          );
        }
        const table = COPIED_TABLE.exec(line)?.[1] ?? line;
        o.onTable?.(table);
        copy = new TableCopy(line, table, o.sessions, failed, progress);
      } else if (SESSION_SETTING.test(line)) {
        encoding = CLIENT_ENCODING.exec(line)?.[1].toUpperCase() ?? encoding;
        await Promise.all(o.sessions.map((s) => s.query(line)));
      } else if (line !== '' && !line.startsWith('--') && !PSQL_GUARD.test(line)) {
        throw new UserFacingError(
          `the backup's table data holds a statement other than COPY ("${line.slice(0, 60)}${line.length > 60 ? '...' : ''}"): ` +
            'db:restore loads only COPY data, as pg_dump writes it unless told --inserts. Restore this archive with pg_restore itself.',
        );
      }
    }
  }
  if (copy || pending.length > 0) {
    await ended; // pg_restore's own failure, when it failed, says more.
    throw new UserFacingError(`pg_restore's output ended in the middle of ${copy ? "a table's rows" : 'a line'}`);
  }
}

/**
 * Loads the table data named in `listFile` into the database the sessions are on. Resolves once
 * every row is in and pg_restore has ended well; rejects on the first error (pg_restore's, or a
 * session's COPY), on a stall, or on an abort, having stopped pg_restore. The sessions may be left
 * mid-COPY then: end them (ending a client with a query active destroys its connection).
 */
export async function loadTableData(o: TableDataOptions): Promise<void> {
  const run = runPgTool(o.pgRestore, ['--exit-on-error', '--section=data', `--use-list=${o.listFile}`, '--file=-', o.file], {
    env: {},
    target: o.target,
    streamStdout: true,
  });
  let last = Date.now();
  const progress = () => (last = Date.now());
  let fail: (error: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (fail = reject));
  const watch = setInterval(() => {
    if (Date.now() - last > o.stallSeconds * 1000) fail(o.stalled());
  }, Math.min(1000, o.stallSeconds * 250));
  const abort = () => fail(new UserFacingError('the load of the table data was stopped'));
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener('abort', abort, { once: true });
  const work = Promise.all([loadScript(run.stdout as Readable, o, progress, fail, run.done), run.done]);
  // Once the load has failed, what is still under way ends in errors of its own, which say nothing more.
  work.catch(() => undefined);
  try {
    await Promise.race([work, failure]);
  } catch (error) {
    run.kill();
    run.stdout?.destroy();
    throw error;
  } finally {
    clearInterval(watch);
    o.signal?.removeEventListener('abort', abort);
  }
}
