import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserFacingError } from '../postgres/connection';
import { quoteIdent, scriptCommands, transactionControl, type ScriptCommand } from '../postgres/sql-script';
import { migrationsPath } from '../../common/paths';

/** drizzle-kit's separator between the statements of one migration file. */
export const STATEMENT_BREAKPOINT = '--> statement-breakpoint';
/** What `drizzle-kit generate --custom` writes into a new, still empty, migration. */
const CUSTOM_TEMPLATE = '-- Custom SQL migration file, put your code below! --';

/**
 * The marker of a migration the runner applies without a transaction, one statement at a time:
 * the file's first line. A comment, so drizzle-kit keeps it in a custom migration (and hashes it
 * with the rest of the file) and `db:check`, which takes a custom migration's SQL as it is, passes;
 * the first line, so that a reviewer sees it before any SQL and so that it cannot be lost in the
 * middle of a file (a marker-like line anywhere else is refused). For what cannot run in a
 * transaction block (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`) or should not hold a
 * lock for long (`VALIDATE CONSTRAINT` after `ADD CONSTRAINT ... NOT VALID`), and
 * `ALTER TYPE ... ADD VALUE`, whose new value a transaction cannot use before it commits. Each
 * statement commits on its own: in a transaction of its own where PostgreSQL allows one (see OnlineStep).
 */
export const NO_TRANSACTION_MARKER = '-- pa-data: no-transaction';

/**
 * What the runner needs to know of a statement of a non-transactional migration, which it may have
 * to resume after an interruption. Most statements run each in a transaction of its own, which also
 * records the runner's progress (so a statement is applied exactly once). Only the statements that
 * PostgreSQL refuses in a transaction block run bare ("bare" steps: CREATE INDEX CONCURRENTLY, DROP
 * INDEX CONCURRENTLY); their progress is recorded after them, so a rerun
 * may repeat them, and they are accepted only in a form safe to repeat. The index a CREATE INDEX
 * CONCURRENTLY builds is named (an interrupted build leaves it INVALID: dropped and built again);
 * an ADD CONSTRAINT and a VALIDATE CONSTRAINT name their constraint (a failed VALIDATE is counted).
 * Names are as SQL spells them, ready for to_regclass (`"schema"."name"`, or unqualified).
 */
export type OnlineStep =
  | { kind: 'create-index'; index: string; concurrently: true }
  | { kind: 'drop-index-concurrently' }
  | { kind: 'add-constraint'; table: string; constraint: string; notValid: boolean }
  | { kind: 'validate-constraint'; table: string; constraint: string }
  | { kind: 'set' }
  | { kind: 'other' };

/** A step that cannot run in a transaction block, so runs bare, its progress recorded after it. */
export function runsBare(step: OnlineStep | undefined): boolean {
  return step?.kind === 'create-index' || step?.kind === 'drop-index-concurrently';
}

/** What the runner runs bare, for messages. */
export const BARE_STATEMENTS = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS and DROP INDEX CONCURRENTLY IF EXISTS';

/**
 * The session settings the runner makes for a marked migration (runner.ts, applyOnline and its bare
 * statements): a migration's RESET of one of them (or RESET ALL, DISCARD ALL) would undo them for
 * the rest of the run.
 */
const RUNNER_SETTINGS = new Set(['lock_timeout', 'statement_timeout', 'client_connection_check_interval', 'tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count']);

export interface Statement {
  sql: string;
  /** 1-based line in the file where the statement starts. */
  line: number;
  /** In a non-transactional migration: what the statement does, for the runner's checks. */
  step?: OnlineStep;
}

export interface Migration {
  /** The journal tag, e.g. `0001_schema`; the file is `<name>.sql`. */
  name: string;
  /** Path for messages, relative to the working directory. */
  file: string;
  /** The journal's `when`: drizzle's key for a migration in its bookkeeping table. */
  createdAt: number;
  /** sha256 of the file's text, as drizzle computes it. */
  hash: string;
  statements: Statement[];
  /** False for a migration marked NO_TRANSACTION_MARKER: applied one statement at a time, each committed on its own. */
  transactional: boolean;
}

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

/** A path as messages show it: relative to the folder the command runs in, when it is inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}

export function hashMigration(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function splitStatements(text: string): Statement[] {
  const statements: Statement[] = [];
  let offset = 0;
  for (const part of text.split(STATEMENT_BREAKPOINT)) {
    const leading = part.length - part.trimStart().length;
    const sql = part.trim();
    if (sql !== '') {
      const line = text.slice(0, offset + leading).split('\n').length;
      statements.push({ sql, line });
    }
    offset += part.length + STATEMENT_BREAKPOINT.length;
  }
  return statements;
}

/** What each kind of transaction statement would do inside the transaction the runner applies a migration in. */
function transactionEffect(statement: string): string {
  if (/^(BEGIN|START)/.test(statement)) return 'starts a transaction inside the one the migration runs in';
  if (/PREPARED$/.test(statement)) return 'finishes a prepared transaction, which cannot run inside the one the migration runs in';
  if (/SAVEPOINT/.test(statement)) return 'manages a savepoint: a ROLLBACK TO undoes part of the migration, which is then recorded as applied';
  if (/^SET/.test(statement)) return 'changes the mode of the transaction the migration runs in';
  return 'ends the transaction the migration runs in: a later failure no longer rolls the whole migration back';
}

/** The statements of a migration that begin, end or nest a transaction, each as `file line N: STATEMENT ...`. */
function transactionProblems(file: string, statements: Statement[]): string[] {
  return statements.flatMap((s) =>
    transactionControl(s.sql).map(({ statement, at }) => {
      const line = s.line + s.sql.slice(0, at).split('\n').length - 1;
      return `${file} line ${line}: ${statement} ${transactionEffect(statement)}.`;
    }),
  );
}

type Token = ScriptCommand['tokens'][number];
const isName = (t: Token | undefined) => t !== undefined && (t.kind === 'word' || t.kind === 'ident');

/** A possibly qualified name at tokens[i]: its SQL spelling (each part quoted) and the index past it. */
function qualifiedName(tokens: Token[], i: number): { name: string; next: number } | undefined {
  if (!isName(tokens[i])) return undefined;
  const parts = [tokens[i].text];
  let j = i + 1;
  while (tokens[j]?.text === '.' && isName(tokens[j + 1])) {
    parts.push(tokens[j + 1].text);
    j += 2;
  }
  return { name: parts.map(quoteIdent).join('.'), next: j };
}

/** The words of a command from `i` on, as keywords (a quoted identifier is never one). */
const wordAt = (tokens: Token[], i: number) => (tokens[i]?.kind === 'word' ? tokens[i].text : undefined);

/** The index past a parenthesised list at tokens[i] (an option list such as REINDEX's), or i when there is none. */
function pastParens(tokens: Token[], i: number): number {
  if (tokens[i]?.kind !== '(') return i;
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    if (tokens[j].kind === '(') depth++;
    else if (tokens[j].kind === ')' && --depth === 0) return j + 1;
  }
  return tokens.length;
}

const hasWord = (tokens: Token[], word: string) => tokens.some((x) => x.kind === 'word' && x.text === word);

/** True when the command says `refresh = false` (or off, 0), as ALTER SUBSCRIPTION's WITH (refresh = false) does. */
function refreshOff(tokens: Token[]): boolean {
  return tokens.some((x, i) => x.kind === 'word' && x.text === 'refresh' && tokens[i + 1]?.text === '=' && /^(false|off|0|'false'|'off')$/i.test(tokens[i + 2]?.text ?? ''));
}

/**
 * Commands that PostgreSQL refuses in a transaction block (its PreventInTransactionBlock calls) and
 * that the runner does not run bare (it cannot make them safe to repeat), by their words.
 */
function neverInTransaction(tokens: Token[], w: (i: number) => string | undefined): string | undefined {
  if (w(0) === 'vacuum') return 'VACUUM';
  if ((w(0) === 'create' || w(0) === 'drop') && (w(1) === 'database' || w(1) === 'tablespace' || w(1) === 'subscription')) return `${w(0)!.toUpperCase()} ${w(1)!.toUpperCase()}`;
  if (w(0) === 'alter' && w(1) === 'system') return 'ALTER SYSTEM';
  if (w(0) === 'reindex') {
    const kind = wordAt(tokens, pastParens(tokens, 1));
    if (kind === 'system' || kind === 'database' || kind === 'schema') return `REINDEX ${kind.toUpperCase()}`;
  }
  if (w(0) === 'cluster' && w(1) === undefined) return 'CLUSTER without a table';
  if (w(0) === 'alter' && w(1) === 'database' && tokens.some((x, i) => x.kind === 'word' && x.text === 'set' && wordAt(tokens, i + 1) === 'tablespace')) return 'ALTER DATABASE ... SET TABLESPACE';
  if (w(0) === 'alter' && w(1) === 'subscription') {
    if (hasWord(tokens, 'refresh') && hasWord(tokens, 'publication') && tokens.some((x, i) => x.kind === 'word' && x.text === 'refresh' && wordAt(tokens, i + 1) === 'publication')) {
      return 'ALTER SUBSCRIPTION ... REFRESH PUBLICATION';
    }
    if (hasWord(tokens, 'publication') && ['add', 'set', 'drop'].some((v) => tokens.some((x, i) => x.kind === 'word' && x.text === v && wordAt(tokens, i + 1) === 'publication')) && !refreshOff(tokens)) {
      return 'ALTER SUBSCRIPTION ... ADD/SET/DROP PUBLICATION without WITH (refresh = false)';
    }
  }
  if (w(0) === 'alter' && (w(1) === 'table' || w(1) === 'foreign') && tokens.some((x, i) => x.kind === 'word' && x.text === 'detach' && wordAt(tokens, i + 1) === 'partition') && hasWord(tokens, 'concurrently')) {
    return 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY';
  }
  if (w(0) === 'discard' && w(1) === 'all') return 'DISCARD ALL';
  return undefined;
}

/** A DO block's body, or undefined: the string (dollar-quoted or not) after DO, LANGUAGE coming before or after it. */
function doBody(tokens: Token[]): string | undefined {
  const body = tokens.slice(1).find((x) => x.kind === 'other' && (x.text.startsWith('$') || x.text.startsWith("'") || /^[Ee]'/.test(x.text)));
  return body?.text;
}

/** Whether procedural code ends the transaction it runs in (COMMIT or ROLLBACK outside its comments and strings). */
function endsTransaction(body: string): boolean {
  // The body's own tokens: its quotes and comments left out as the tokenizer leaves them out.
  const inner = body.replace(/^(\$[^$]*\$|[Ee]?')/, '').replace(/(\$[^$]*\$|')$/, '');
  return scriptCommands(inner).some((c) => c.tokens.some((x) => x.kind === 'word' && (x.text === 'commit' || x.text === 'rollback')));
}

/** What a single command of a non-transactional migration does, or why the runner cannot run it safely. */
export function onlineStep(command: ScriptCommand): OnlineStep | { problem: string } {
  const t = command.tokens;
  const w = (i: number) => wordAt(t, i);
  if (w(0) === 'set' && w(1) === 'local') {
    return { problem: 'SET LOCAL ends with its statement: each statement of a marked migration commits on its own. Write SET (or SET SESSION), which holds for the rest of the migration' };
  }
  const setting = (i: number) => (t[i]?.kind === 'word' || t[i]?.kind === 'ident' ? t[i].text.toLowerCase() : undefined);
  if (w(0) === 'set') {
    const i = w(1) === 'session' && w(2) !== 'authorization' ? 2 : 1;
    if (setting(i) === 'role' || (w(i) === 'session' && w(i + 1) === 'authorization')) {
      return {
        problem:
          `${setting(i) === 'role' ? 'SET ROLE' : 'SET SESSION AUTHORIZATION'} would hold for the rest of the migration, in the session that also writes the ` +
          `runner's progress record (drizzle.__pa_data_online_progress) after each statement: that record would be written as the other role. ` +
          'Run the migration as the role it needs (the migrator, which owns the database), or give the objects to it (ALTER ... OWNER TO); refused in a marked migration',
      };
    }
    return { kind: 'set' };
  }
  if (w(0) === 'reset') {
    const name = setting(1);
    if (name === 'all' && t[1]?.kind === 'word') {
      return { problem: `RESET ALL would also reset the runner's own session settings (${[...RUNNER_SETTINGS].join(', ')}), for the rest of the migration: RESET each setting the migration SET instead` };
    }
    if (name && RUNNER_SETTINGS.has(name)) {
      return { problem: `RESET ${name} would undo the runner's own ${name} for the rest of the migration (it sets ${[...RUNNER_SETTINGS].join(', ')}): leave it out, or SET it to the value the migration needs` };
    }
    return { kind: 'set' };
  }
  if (w(0) === 'create' && (w(1) === 'index' || (w(1) === 'unique' && w(2) === 'index'))) {
    let i = w(1) === 'unique' ? 3 : 2;
    // Without CONCURRENTLY it runs in a transaction of its own, with its progress: no condition on it.
    if (w(i) !== 'concurrently') return { kind: 'other' };
    i++;
    const ifNotExists = w(i) === 'if' && w(i + 1) === 'not' && w(i + 2) === 'exists';
    if (ifNotExists) i += 3;
    const name = w(i) === 'on' ? undefined : qualifiedName(t, i);
    if (!name || !ifNotExists) {
      return {
        problem:
          'CREATE INDEX CONCURRENTLY must name its index and say IF NOT EXISTS (CREATE INDEX CONCURRENTLY IF NOT EXISTS "name" ON ...): it cannot run in a ' +
          'transaction, so it commits apart from the record of it, and a rerun after an interruption may run it again',
      };
    }
    // The index is created in its table's schema: qualify it likewise.
    let j = name.next;
    if (w(j) !== 'on') return { problem: 'CREATE INDEX: expected ON after the index name' };
    j++;
    if (w(j) === 'only') j++;
    const table = qualifiedName(t, j);
    const schema = table && table.name.includes('"."') ? `${table.name.slice(0, table.name.lastIndexOf('"."') + 1)}.` : '';
    return { kind: 'create-index', index: `${schema}${name.name}`, concurrently: true };
  }
  if (w(0) === 'drop' && w(1) === 'index' && w(2) === 'concurrently') {
    if (!(w(3) === 'if' && w(4) === 'exists')) {
      return {
        problem:
          'DROP INDEX CONCURRENTLY must say IF EXISTS (DROP INDEX CONCURRENTLY IF EXISTS "name"): it cannot run in a transaction, so it commits apart ' +
          'from the record of it, and a rerun after an interruption may run it again',
      };
    }
    return { kind: 'drop-index-concurrently' };
  }
  const refused = neverInTransaction(t, w);
  if (refused) {
    return {
      problem:
        `${refused} cannot run in a transaction block, and a marked migration runs bare only ${BARE_STATEMENTS} (each of its other ` +
        'statements runs in a transaction of its own, together with the record of it, so that it is applied exactly once). Run it by hand, outside the migrations',
    };
  }
  if (w(0) === 'reindex' && hasWord(t, 'concurrently')) {
    return {
      problem:
        'REINDEX ... CONCURRENTLY is refused in a marked migration: an interrupted one leaves INVALID indexes named <index>_ccnew and <index>_ccold ' +
        'that nothing drops. Build the index again with CREATE INDEX CONCURRENTLY IF NOT EXISTS under a new name, then DROP INDEX CONCURRENTLY IF EXISTS ' +
        'the old one (and ALTER INDEX ... RENAME TO the old name if it matters), each a statement of its own',
    };
  }
  if (w(0) === 'do') {
    const body = doBody(t);
    if (body !== undefined && endsTransaction(body)) {
      return {
        problem:
          'this DO block COMMITs or ROLLBACKs, which fails inside the transaction the runner runs each statement of a marked migration in ' +
          '(invalid transaction termination, 2D000): split its batches into statements of their own (each commits on its own), or run it by hand, outside the migrations',
      };
    }
  }
  if (w(0) === 'alter' && w(1) === 'table') {
    let i = 2;
    if (w(i) === 'if' && w(i + 1) === 'exists') i += 2;
    if (w(i) === 'only') i++;
    const table = qualifiedName(t, i);
    if (!table) return { kind: 'other' };
    const k = table.next;
    const constraint = isName(t[k + 2]) ? t[k + 2].text : undefined;
    if (w(k) === 'add' && w(k + 1) === 'constraint' && constraint) {
      const last = t.filter((x) => x.kind !== ';');
      const notValid = wordAt(last, last.length - 2) === 'not' && wordAt(last, last.length - 1) === 'valid';
      return { kind: 'add-constraint', table: table.name, constraint, notValid };
    }
    if (w(k) === 'validate' && w(k + 1) === 'constraint' && constraint) return { kind: 'validate-constraint', table: table.name, constraint };
  }
  return { kind: 'other' };
}

/** A non-transactional migration's statements with their steps, and the problems that make it unsafe to resume. */
function onlineStatements(file: string, statements: Statement[]): { statements: Statement[]; problems: string[] } {
  const problems: string[] = [];
  const out = statements.map((s) => {
    const commands = scriptCommands(s.sql);
    const lineOf = (at: number) => s.line + s.sql.slice(0, at).split('\n').length - 1;
    if (commands.length !== 1) {
      // PostgreSQL runs several commands sent as one query in an implicit transaction block, where
      // CREATE INDEX CONCURRENTLY is refused; and the runner records progress per statement.
      if (commands.length > 1) {
        problems.push(`${file} line ${lineOf(commands[1].at)}: a migration marked \`${NO_TRANSACTION_MARKER}\` holds one command per statement; put \`${STATEMENT_BREAKPOINT}\` before this one.`);
      }
      return s;
    }
    const step = onlineStep(commands[0]);
    if ('problem' in step) {
      problems.push(`${file} line ${lineOf(commands[0].at)}: ${step.problem}.`);
      return s;
    }
    return { ...s, step };
  });
  return { statements: out, problems };
}

/** A marker anywhere but on the first line: the author meant it, and the runner would not see it. */
function misplacedMarker(file: string, text: string): string[] {
  return text
    .split('\n')
    .map((line, i) => ({ line, i }))
    .filter(({ line, i }) => i > 0 && /^\s*--\s*pa-data\s*:/i.test(line))
    .map(({ i }) => `${file} line ${i + 1}: \`${NO_TRANSACTION_MARKER}\` is read on the first line of a migration only; move it there (or remove it).`);
}

/**
 * Reads drizzle-kit's journal and the SQL files it lists, refusing a folder that drizzle's own
 * migrator would misread (a missing or unlisted file, a journal out of order, an empty template)
 * and migrations that manage their own transaction, which the runner's rollback cannot undo.
 */
export function readMigrations(dir: string = migrationsPath): Migration[] {
  const journalPath = path.join(dir, 'meta', '_journal.json');
  let entries: JournalEntry[];
  try {
    entries = (JSON.parse(fs.readFileSync(journalPath, 'utf8')) as { entries: JournalEntry[] }).entries;
  } catch (error) {
    throw new UserFacingError(
      `cannot read the migration journal ${displayPath(journalPath)}: ${(error as Error).message}. ` +
        'It is written by `npm run db:generate`; restore it from version control.',
    );
  }
  const listed = new Set(entries.map((e) => `${e.tag}.sql`));
  const unlisted = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql') && !listed.has(f))
    .sort();
  if (unlisted.length > 0) {
    throw new UserFacingError(
      `${unlisted.map((f) => displayPath(path.join(dir, f))).join(', ')} ${unlisted.length > 1 ? 'are' : 'is'} not in ` +
        `${displayPath(journalPath)}, so no migrator would run it. Create migrations with \`npm run db:generate\` ` +
        '(`-- --custom --name <name>` for hand-written SQL) rather than by hand.',
    );
  }
  const markerProblems: string[] = [];
  const migrations = entries.map((entry, i) => {
    const file = path.join(dir, `${entry.tag}.sql`);
    if (i > 0 && entry.when <= entries[i - 1].when) {
      throw new UserFacingError(
        `${displayPath(journalPath)}: ${entry.tag} is not newer than ${entries[i - 1].tag}; ` +
          'drizzle applies migrations by time, so it would be skipped. Regenerate it with `npm run db:generate`.',
      );
    }
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw new UserFacingError(
        `${displayPath(file)} is listed in ${displayPath(journalPath)} but cannot be read. Restore it from version control.`,
      );
    }
    const statements = splitStatements(text);
    if (statements.length === 0 || (statements.length === 1 && statements[0].sql === CUSTOM_TEMPLATE)) {
      throw new UserFacingError(`${displayPath(file)} holds no SQL yet: write the migration, or remove it with \`npx drizzle-kit drop\`.`);
    }
    const transactional = text.split('\n')[0].trimEnd() !== NO_TRANSACTION_MARKER;
    const online = transactional ? { statements, problems: [] } : onlineStatements(displayPath(file), statements);
    markerProblems.push(...misplacedMarker(displayPath(file), text), ...online.problems);
    return { name: entry.tag, file: displayPath(file), createdAt: entry.when, hash: hashMigration(text), statements: online.statements, transactional };
  });
  const problems = [...migrations.flatMap((m) => transactionProblems(m.file, m.statements)), ...markerProblems];
  if (problems.length > 0) {
    throw new UserFacingError(
      `refusing the migrations, nothing was run:\n  - ${problems.join('\n  - ')}\n` +
        'The runner applies each migration in one transaction, which it begins and commits itself, so that a failing ' +
        'migration is rolled back completely. Remove these statements; work that must be committed on its own goes in ' +
        `a migration of its own (\`npm run db:generate -- --custom --name <name>\`), marked \`${NO_TRANSACTION_MARKER}\` on its ` +
        'first line where it cannot run in a transaction: the runner then applies its statements one at a time, each committed on its own ' +
        `(${BARE_STATEMENTS} bare, every other in a transaction of its own).`,
    );
  }
  return migrations;
}
