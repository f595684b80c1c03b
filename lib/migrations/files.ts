import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserFacingError } from '../postgres/connection';
import { transactionControl } from '../postgres/sql-script';
import { migrationsPath } from '../../common/paths';

/** drizzle-kit's separator between the statements of one migration file. */
export const STATEMENT_BREAKPOINT = '--> statement-breakpoint';
/** What `drizzle-kit generate --custom` writes into a new, still empty, migration. */
const CUSTOM_TEMPLATE = '-- Custom SQL migration file, put your code below! --';

export interface Statement {
  sql: string;
  /** 1-based line in the file where the statement starts. */
  line: number;
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
}

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

function displayPath(file: string): string {
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
    return { name: entry.tag, file: displayPath(file), createdAt: entry.when, hash: hashMigration(text), statements };
  });
  const problems = migrations.flatMap((m) => transactionProblems(m.file, m.statements));
  if (problems.length > 0) {
    throw new UserFacingError(
      `refusing the migrations, nothing was run:\n  - ${problems.join('\n  - ')}\n` +
        'The runner applies each migration in one transaction, which it begins and commits itself, so that a failing ' +
        'migration is rolled back completely. Remove these statements; work that must be committed on its own goes in ' +
        'a migration of its own (`npm run db:generate -- --custom --name <name>`).',
    );
  }
  return migrations;
}
