import { once } from 'node:events';
import * as fs from 'node:fs';
import type { DatabaseTarget } from '../postgres/connection';
import { runPgTool } from '../postgres/pg-tools';

/**
 * Reads a pg_dump custom-format archive back whole while pg_dump is still writing it, so that the
 * check costs the dump's own time rather than adding to it: the bytes of the file are handed, as
 * they are written, to `pg_restore --file=/dev/null` on its standard input, on another core.
 *
 * What that proves, from PostgreSQL 15's pg_dump/pg_backup_custom.c:
 * - pg_dump writes the whole archive when it closes it (_CloseArchive): the header, the table of
 *   contents with no data offsets yet, then each table's data as compressed blocks, in order; then
 *   it seeks back and writes the table of contents again, the same length (WriteOffset always
 *   writes a flag byte and sizeof(pgoff_t) bytes), with each block's offset filled in.
 * - pg_restore reading a pipe cannot seek (checkSeek), so it finds each table's block by reading
 *   forward through the blocks (_PrintTocData), never using the offsets, and inflates every block
 *   of every table to its output. A block missing, cut short or corrupt fails it. So whichever
 *   table of contents it read, the first or the rewritten one (or, read across the rewrite, parts
 *   of each, an offset even half-written: it parses them and never uses them), it read every data byte.
 * What pg_dump wrote last, the rewritten table of contents, is then read by `pg_restore --list` on
 * the finished file (lib/backups/dump.ts), and the file is hashed as it is once pg_dump has ended,
 * with its length checked against the length it had then.
 *
 * Not proved by that reading: that each offset in that table of contents points at its block
 * (--list parses them and does not follow them; a restore from the file seeks by them, and fails
 * on a wrong one: "found unexpected block ID"). lib/backups/archive-toc.ts checks that, reading
 * a few bytes at each offset of the finished file (dump.ts).
 *
 * The archive pg_dump writes is the one `pg_dump --file` writes, offsets included: pg_dump writes
 * no offsets to a pipe (it cannot seek back), and without them `pg_restore --jobs` must search the
 * file for each table's data and cannot start the largest tables first (_PrepParallelRestore).
 */
export interface ReadBack {
  /**
   * Once pg_dump has ended with success: hands pg_restore the rest of the file, and resolves with
   * the bytes it was handed (all of the file, unless pg_restore ended before taking them) once it
   * has found the archive whole; rejects if not.
   */
  finish(): Promise<number>;
  /** pg_dump failed or was stopped: stops reading and ends pg_restore. */
  cancel(): Promise<void>;
  /** Whether pg_restore is tied to this process (lib/process/children.ts). */
  tied: boolean;
}

/** pg_restore ended by finish()'s own kill after the feed failed: the feed's error says why. */
const readerKilled = (error: Error) => /stopped by SIG(TERM|KILL)/.test(error.message);

/** Bytes read at once. */
const CHUNK = 1024 * 1024;
/**
 * While pg_dump writes, the last bytes of the file are left to read until a later write has
 * followed them (or pg_dump has ended): a read racing the write that extends a file may see its
 * new length before its bytes. pg_dump writes through stdio, a few KiB at a time.
 */
const BEHIND = 64 * 1024;
/** How often the file is looked at when it has not grown. */
const POLL_MS = 50;

/**
 * Starts reading `file` back as it is written. `onUnreadable` is called, once, if pg_restore fails
 * before finish(): the dump is broken, and pg_dump need not go on.
 */
export function readBackWhileWritten(pgRestore: string, file: string, target: DatabaseTarget, onUnreadable: (error: Error) => void): ReadBack {
  const run = runPgTool(pgRestore, ['--file=/dev/null'], { env: {}, target, stdin: true });
  const stdin = run.stdin as NonNullable<typeof run.stdin>;
  let writerDone = false;
  let cancelled = false;
  let wake: () => void = () => undefined;
  let readerEnded = false;
  const readerResult = run.done.then(
    () => undefined,
    (error: Error) => error,
  );
  void readerResult.then((error) => {
    readerEnded = true;
    wake();
    if (error && !writerDone && !cancelled) onUnreadable(error);
  });

  let position = 0;
  const feed = (async () => {
    const handle = await fs.promises.open(file, 'r');
    try {
      while (!cancelled && !readerEnded) {
        const done = writerDone;
        const until = done ? Number.POSITIVE_INFINITY : (await handle.stat()).size - BEHIND;
        if (position < until) {
          const buffer = Buffer.allocUnsafe(Math.min(CHUNK, until - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead > 0) {
            position += bytesRead;
            if (!stdin.write(buffer.subarray(0, bytesRead))) await Promise.race([once(stdin, 'drain'), readerResult]);
            continue;
          }
        }
        if (done) break; // at the end of the finished file
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          wake = () => (clearTimeout(timer), resolve());
        });
      }
    } finally {
      await handle.close();
      stdin.end();
    }
  })();
  // A failure to read the file ends the feed; finish() reports it.
  const fed = feed.then(
    () => undefined,
    (error: Error) => error,
  );

  return {
    tied: run.tied,
    async finish() {
      writerDone = true;
      wake();
      const feedError = await fed;
      if (feedError) run.kill();
      // pg_restore's own words first: a reader that failed makes the feed fail too (EPIPE, which
      // arrives before the reader's exit status) and would hide why.
      const error = await readerResult;
      if (error && !(feedError && readerKilled(error))) throw error;
      if (feedError) throw feedError;
      return position;
    },
    async cancel() {
      cancelled = true;
      wake();
      run.kill();
      await fed;
      await readerResult;
    },
  };
}
