/**
 * Just enough of SQL's lexical rules to handle what pg_restore prints about a database (its
 * CREATE DATABASE, owner, grants, settings, comment): split it into statements and rename the
 * database in them, without touching the inside of a string literal or a quoted identifier.
 */

/** Where each quoted part of `sql` starts and ends: positions in between are inside a literal or identifier. */
function quotedRanges(sql: string): [number, number][] {
  const ranges: [number, number][] = [];
  for (let i = 0; i < sql.length; i++) {
    const quote = sql[i];
    if (quote !== "'" && quote !== '"') continue;
    let j = i + 1;
    for (; j < sql.length; j++) {
      if (sql[j] !== quote) continue;
      if (sql[j + 1] === quote) j++; // a doubled quote stands for itself
      else break;
    }
    ranges.push([i, j]);
    i = j;
  }
  return ranges;
}

const inside = (ranges: [number, number][], at: number) => ranges.some(([a, b]) => at > a && at <= b);

/**
 * The statements of a psql script as pg_dump writes it: `--` comment lines and psql
 * meta-commands (`\connect`, `\restrict`) left out, each statement without its `;`.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  for (const line of script.split('\n')) {
    const continuing = inside(quotedRanges(current), current.length);
    if (!continuing && current.trim() === '' && (line.startsWith('--') || line.startsWith('\\'))) continue;
    current += `${current === '' ? '' : '\n'}${line}`;
    const ranges = quotedRanges(current);
    if (!inside(ranges, current.length) && /;\s*$/.test(line)) {
      statements.push(current.replace(/;\s*$/, '').trim());
      current = '';
    }
  }
  if (current.trim() !== '') statements.push(current.trim());
  return statements.filter((s) => s !== '');
}

/** `name` as an SQL identifier, always quoted. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The statement with its first `DATABASE <from>` outside quotes (the database it is about) naming
 * `to` instead; undefined when there is none. `from` is the identifier as the SQL spells it.
 */
export function renameDatabase(statement: string, from: string, to: string): string | undefined {
  const ranges = quotedRanges(statement);
  const pattern = /\bDATABASE\s+/g;
  for (let m = pattern.exec(statement); m; m = pattern.exec(statement)) {
    if (inside(ranges, m.index)) continue;
    const at = m.index + m[0].length;
    const after = statement[at + from.length];
    if (statement.startsWith(from, at) && (after === undefined || /[\s;]/.test(after))) {
      return `${statement.slice(0, at)}${quoteIdent(to)}${statement.slice(at + from.length)}`;
    }
  }
  return undefined;
}
