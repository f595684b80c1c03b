/**
 * Just enough of SQL's lexical rules for two jobs: what pg_restore prints about a database (its
 * CREATE DATABASE, owner, grants, settings, comment), split into statements with the database
 * renamed in them; and the commands of a migration, to find those that would end or nest the
 * runner's transaction (transactionControl). Neither touches the inside of a string literal, a
 * dollar-quoted body, a comment or a quoted identifier.
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

/** A token of PostgreSQL's lexer (src/backend/parser/scan.l) that matters for splitting and classifying commands. */
interface Token {
  /** `word`: a keyword or an unquoted identifier (lower-cased); `ident`: a quoted identifier; `;`, `(`, `)`; `other`: the rest. */
  kind: 'word' | 'ident' | ';' | '(' | ')' | 'other';
  text: string;
  /** Offset in the script. */
  at: number;
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_CONT = /[A-Za-z_0-9$\u0080-\uffff]/;
/** scan.l's {dolqdelim}: `$$` or `$tag$`, the tag an identifier without `$`. */
const DOLLAR_QUOTE = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*)?\$/y;

/** Where the quoted text starting at `start` (its opening quote) ends, just past the closing quote. */
function quotedEnd(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (backslashEscapes && sql[i] === '\\') i++;
    else if (sql[i] === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i++; // a doubled quote stands for itself
    }
  }
  return sql.length;
}

/**
 * The script's tokens, leaving out whitespace, comments, literals and dollar-quoted bodies. As in
 * scan.l: `--` and nestable block comments; '...' with doubled quotes (standard_conforming_strings,
 * on by default since PostgreSQL 9.1), E'...' with backslash escapes, B'', X'', N'' and U&'...';
 * "..." and U&"..." identifiers; $tag$...$tag$, where a `$` inside an identifier or before a digit
 * (a parameter) starts none.
 */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const at = i;
    if (/\s/.test(c)) {
      i++;
    } else if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (sql.startsWith('/*', i)) {
      let depth = 0;
      while (i < sql.length) {
        if (sql.startsWith('/*', i)) (depth++, (i += 2));
        else if (sql.startsWith('*/', i)) {
          i += 2;
          if (--depth === 0) break;
        } else i++;
      }
    } else if (c === "'") {
      i = quotedEnd(sql, i, "'", false);
      tokens.push({ kind: 'other', text: sql.slice(at, i), at });
    } else if (c === '"') {
      i = quotedEnd(sql, i, '"', false);
      tokens.push({ kind: 'ident', text: sql.slice(at + 1, i - 1).replace(/""/g, '"'), at });
    } else if (c === '$') {
      DOLLAR_QUOTE.lastIndex = i;
      const delimiter = DOLLAR_QUOTE.exec(sql)?.[0];
      if (delimiter) {
        const end = sql.indexOf(delimiter, i + delimiter.length);
        i = end < 0 ? sql.length : end + delimiter.length;
      } else {
        i++;
        while (i < sql.length && /[0-9]/.test(sql[i])) i++;
      }
      tokens.push({ kind: 'other', text: sql.slice(at, i), at });
    } else if (IDENT_START.test(c)) {
      while (i < sql.length && IDENT_CONT.test(sql[i])) i++;
      const word = sql.slice(at, i);
      if (sql[i] === "'" && /^[EeBbXxNn]$/.test(word)) {
        i = quotedEnd(sql, i, "'", word === 'E' || word === 'e');
        tokens.push({ kind: 'other', text: sql.slice(at, i), at });
      } else if (/^[Uu]$/.test(word) && sql[i] === '&' && (sql[i + 1] === "'" || sql[i + 1] === '"')) {
        const quote = sql[i + 1];
        i = quotedEnd(sql, i + 1, quote, false);
        tokens.push(quote === '"' ? { kind: 'ident', text: sql.slice(at + 3, i - 1), at } : { kind: 'other', text: sql.slice(at, i), at });
      } else {
        tokens.push({ kind: 'word', text: word.toLowerCase(), at });
      }
    } else if (c === ';' || c === '(' || c === ')') {
      i++;
      tokens.push({ kind: c, text: c, at });
    } else {
      i++;
      while (i < sql.length && /[0-9.]/.test(c) && /[0-9A-Za-z_.]/.test(sql[i])) i++; // a number with its digits, as one token
      tokens.push({ kind: 'other', text: sql.slice(at, i), at });
    }
  }
  return tokens;
}

/**
 * The commands of a script as psql sends them: split at each `;` outside parentheses and outside
 * the BEGIN ... END body of a CREATE [OR REPLACE] FUNCTION or PROCEDURE (a SQL-standard body,
 * BEGIN ATOMIC, holds `;`). psql's own heuristic: PostgreSQL's src/fe_utils/psqlscan.l, the rules
 * for `;` and {identifier} (begin_depth: BEGIN opens, END closes, CASE inside a BEGIN opens too).
 */
function commands(sql: string): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];
  let parens = 0;
  let begins = 0;
  for (const token of tokenize(sql)) {
    if (token.kind === ';' && parens === 0 && begins === 0) {
      if (current.length > 0) out.push(current);
      current = [];
      continue;
    }
    current.push(token);
    if (token.kind === '(') parens++;
    else if (token.kind === ')') parens = Math.max(0, parens - 1);
    else if (token.kind === 'word' && parens === 0 && definesRoutine(current)) {
      if (token.text === 'begin' || (token.text === 'case' && begins > 0)) begins++;
      else if (token.text === 'end' && begins > 0) begins--;
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** psqlscan.l's test: the command starts CREATE [OR REPLACE] FUNCTION or PROCEDURE. */
function definesRoutine(command: Token[]): boolean {
  const words = command.slice(0, 4).map((t) => (t.kind === 'word' ? t.text : ''));
  const routine = (w: string | undefined) => w === 'function' || w === 'procedure';
  return words[0] === 'create' && (routine(words[1]) || (words[1] === 'or' && words[2] === 'replace' && routine(words[3])));
}

/** Settings whose SET changes the current (or every later) transaction's mode. */
const TRANSACTION_SETTINGS = new Set([
  'transaction_isolation',
  'transaction_read_only',
  'transaction_deferrable',
  'default_transaction_isolation',
  'default_transaction_read_only',
  'default_transaction_deferrable',
]);

/** What a command does to the transaction it runs in, by its first words (PostgreSQL's gram.y TransactionStmt, VariableSetStmt); undefined for anything else. */
function transactionStatement(command: Token[]): string | undefined {
  const w = command.slice(0, 4).map((t) => (t.kind === 'word' ? t.text : undefined));
  switch (w[0]) {
    case 'begin':
      return 'BEGIN';
    case 'start':
      return w[1] === 'transaction' ? 'START TRANSACTION' : undefined;
    case 'commit':
      return w[1] === 'prepared' ? 'COMMIT PREPARED' : 'COMMIT';
    case 'end':
      return 'END';
    case 'abort':
      return 'ABORT';
    case 'rollback':
      if (w[1] === 'prepared') return 'ROLLBACK PREPARED';
      return w[1] === 'to' || ((w[1] === 'work' || w[1] === 'transaction') && w[2] === 'to') ? 'ROLLBACK TO SAVEPOINT' : 'ROLLBACK';
    case 'savepoint':
      return 'SAVEPOINT';
    case 'release':
      return 'RELEASE SAVEPOINT';
    case 'prepare':
      return w[1] === 'transaction' ? 'PREPARE TRANSACTION' : undefined;
    case 'set': {
      const scoped = w[1] === 'local' || (w[1] === 'session' && w[2] !== 'characteristics' && w[2] !== 'authorization');
      const name = command[scoped ? 2 : 1];
      if (w[1] === 'session' && w[2] === 'characteristics') return 'SET SESSION CHARACTERISTICS AS TRANSACTION';
      if (name?.kind === 'word' && name.text === 'transaction') return 'SET TRANSACTION';
      if ((name?.kind === 'word' || name?.kind === 'ident') && TRANSACTION_SETTINGS.has(name.text.toLowerCase())) return `SET ${name.text.toLowerCase()}`;
      return undefined;
    }
    default:
      return undefined;
  }
}

export interface TransactionControl {
  /** The statement's kind, e.g. `COMMIT`, `ROLLBACK TO SAVEPOINT`, `SET TRANSACTION`. */
  statement: string;
  /** Offset of the command in the script. */
  at: number;
}

/**
 * The commands of `sql` that begin, end or nest a transaction or change its mode: what a script
 * run inside someone else's transaction must not hold. A DO block or a function body (quoted, or
 * BEGIN ATOMIC) may hold BEGIN and END: those are not commands of the script.
 */
export function transactionControl(sql: string): TransactionControl[] {
  return commands(sql).flatMap((command) => {
    const statement = transactionStatement(command);
    return statement ? [{ statement, at: command[0].at }] : [];
  });
}

/** One command of a script: where it starts, and its tokens (comments and whitespace left out). */
export interface ScriptCommand {
  at: number;
  /** `word`: a keyword or unquoted identifier, lower-cased; `ident`: a quoted identifier as written; the rest as in the text. */
  tokens: { kind: 'word' | 'ident' | ';' | '(' | ')' | 'other'; text: string }[];
}

/**
 * The commands of `sql` as psql would send them, with their tokens: for the runner's checks of a
 * non-transactional migration (one command per statement; what a CREATE INDEX or a constraint names).
 */
export function scriptCommands(sql: string): ScriptCommand[] {
  return commands(sql).map((command) => ({
    at: command[0].at,
    // The tokenizer reads `.name` after an unquoted name as one token (a number's rule): split it into `.` and the word.
    tokens: command.flatMap(({ kind, text }) => {
      const dotted = kind === 'other' ? /^\.([A-Za-z_\u0080-\uffff][A-Za-z_0-9$\u0080-\uffff]*)$/.exec(text) : null;
      return dotted ? [{ kind: 'other' as const, text: '.' }, { kind: 'word' as const, text: dotted[1].toLowerCase() }] : [{ kind, text }];
    }),
  }));
}
