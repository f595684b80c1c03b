import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { POSTGRES_MAJOR } from '../../common/names';
import { migrationsPath, ROOT, squawkConfigPath } from '../../common/paths';
import { UserFacingError } from '../postgres/connection';
import { filesAtRevision } from '../stack/git';
import { displayPath, hashMigration, readMigrations, type Migration } from './files';

/**
 * `db:lint`: squawk (its own binary, from npm's @squawk-cli/<platform>-<arch>) over the migrations, for
 * what locks or breaks a live database. Its rules and their exclusions are in .squawk.toml.
 *
 * The migrations already applied somewhere are a baseline (BASELINE_FILE in the migrations
 * folder: each one's name and the sha256 of its file, as files.ts hashes it): their findings are
 * reported, and do not fail. Every other migration must pass, or except a finding with squawk's own
 * comment, naming the rule and saying why, after squawk's trailing `--`:
 *
 *   -- squawk-ignore require-concurrent-index-creation -- the table is created in this same migration
 *
 * squawk reads `squawk-ignore RULE[, RULE]` on the line above the line it reports (or on that line), and
 * `squawk-ignore-file RULE` anywhere for the whole file; it drops whatever follows a further `--`
 * (squawk's crates/squawk_linter/src/ignore.rs, trim_trailing_comment and find_ignores;
 * crates/squawk_linter/src/ignore_index.rs for the lines it covers). squawk accepts an exception
 * without a reason, and a bare `squawk-ignore-file` silences every rule of the file: this module
 * refuses both.
 */

/** The baseline's file, in the migrations folder: it travels with the migrations it lists. */
export const BASELINE_FILE = 'lint-baseline.json';
/** squawk lints this project's migrations in well under a second; a run that takes this long is stuck. */
export const SQUAWK_TIMEOUT_MS = 60_000;
/** What an exception looks like, for messages. */
export const EXCEPTION_FORM = '-- squawk-ignore <rule> -- <why it is safe here>';

export interface Finding {
  /** The migration's journal tag, e.g. `0008_add_index`. */
  migration: string;
  /** Its file, for messages (relative to the working directory, as files.ts names it). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** squawk's rule name, or one of this module's for a malformed exception (EXCEPTION_RULES). */
  rule: string;
  message: string;
  help: string | null;
}

/** The rule names of this module's own findings: an exception comment squawk would take, but that does not say what or why. */
export const EXCEPTION_RULES = {
  noRule: 'exception-without-rule',
  noReason: 'exception-without-reason',
  notARule: 'exception-malformed',
  blockComment: 'exception-in-block-comment',
  notOnBase: 'baseline-not-on-base',
} as const;

export interface LintResult {
  /** The migrations folder and its baseline file. */
  dir: string;
  baselineFile: string;
  /** Every migration, in journal order, and which of them the baseline covers (name and hash match). */
  migrations: string[];
  baselined: string[];
  /** The findings that fail: in migrations the baseline does not cover. */
  findings: Finding[];
  /** The baseline migrations' findings: reported, not failing. */
  baselineFindings: Finding[];
  /** What the user should know about the baseline (a changed file, a stale entry, no baseline at all). */
  notes: string[];
}

export interface LintOptions {
  /** The migrations folder (default: the committed one). */
  dir?: string;
  /**
   * The revision a change is to be merged into (a pull request's base branch): a baseline entry
   * counts only where that revision has the migration, byte for byte. A change may not baseline its
   * own migrations, which would let a risky one through unlinted.
   */
  baseRef?: string;
  /** The squawk binary (default: the one of @squawk-cli/<platform>-<arch>). */
  squawk?: string;
  /** squawk's configuration (default: .squawk.toml at the root). */
  config?: string;
  timeoutMs?: number;
}

interface BaselineEntry {
  name: string;
  sha256: string;
}

const NPM_CI = 'run `npm ci` in the project (squawk is one of its optional dependencies)';

/**
 * Why the binary comes from @squawk-cli/<platform>-<arch> (an optional dependency) and not from
 * squawk-cli, the package that lists every platform's as its own optional dependencies: the
 * registry this project is locked against serves linux-x64's alone, so squawk-cli's lock entry lacks
 * the others and `npm ci` refuses the lock ("Missing: @squawk-cli/darwin-arm64@ from lock file").
 * Elsewhere, the message says which package to add.
 */
export function otherPlatform(pkg: string): string {
  const optional = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> }).optionalDependencies ?? {};
  const ours = Object.keys(optional).find((name) => name.startsWith('@squawk-cli/'));
  if (ours === undefined || ours === pkg) return NPM_CI;
  return `the project installs squawk for ${ours.slice('@squawk-cli/'.length)} only; on this machine, \`npm install --no-save ${pkg}@${optional[ours]}\``;
}

/**
 * The squawk binary of this platform's package: the package squawk-cli's own launcher would pick
 * (squawk-cli 2.66.0's js/index.js, getBinaryPath), run directly to save a node start.
 */
export function squawkBinary(): string {
  const pkg = `@squawk-cli/${process.platform}-${process.arch}`;
  try {
    return require.resolve(`${pkg}/bin/${process.platform === 'win32' ? 'squawk.exe' : 'squawk'}`, { paths: [ROOT] });
  } catch {
    throw new UserFacingError(`squawk is not installed here (no ${pkg} under ${path.join(ROOT, 'node_modules')}): ${otherPlatform(pkg)}.`);
  }
}

/** One violation of squawk's JSON reporter (squawk's crates/squawk/src/reporter.rs, fmt_json). */
interface SquawkViolation {
  file: string;
  /** 0-based, as are the columns. */
  line: number;
  column: number;
  level: string;
  message: string;
  help: string | null;
  rule_name: string;
}

function runSquawk(binary: string, files: string[], config: string, timeoutMs: number, options: string[] = []): Promise<SquawkViolation[]> {
  if (files.length === 0) return Promise.resolve([]);
  const args = [...files, '--reporter', 'json', '--config', config, `--pg-version=${POSTGRES_MAJOR}`, ...options];
  return new Promise((resolve, reject) => {
    execFile(binary, args, { cwd: ROOT, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const failure = error as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
      if (failure && (failure.code === 'ENOENT' || failure.code === 'EACCES')) {
        reject(new UserFacingError(`cannot run squawk (${binary}: ${failure.code}): ${NPM_CI}.`));
        return;
      }
      if (failure?.killed) {
        reject(new UserFacingError(`squawk did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped; nothing was linted.`));
        return;
      }
      // squawk exits 1 when it found something, with the JSON on stdout; a bad configuration also exits 1, with nothing there.
      try {
        const parsed: unknown = JSON.parse(stdout);
        if (!Array.isArray(parsed)) throw new Error('not a list');
        resolve(parsed as SquawkViolation[]);
      } catch {
        const said = `${stderr}\n${stdout}`.trim();
        reject(new UserFacingError(`squawk failed (exit status ${failure?.code ?? 0})${said ? `: ${said}` : ', saying nothing'}. Its configuration is ${displayPath(config)}.`));
      }
    });
  });
}

/** The baseline's entries, or undefined when the folder has none. */
export function readBaseline(dir: string = migrationsPath): BaselineEntry[] | undefined {
  const file = path.join(dir, BASELINE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserFacingError(`cannot read the lint baseline ${displayPath(file)}: ${(error as Error).message}.`);
  }
  const entries = (() => {
    try {
      return (JSON.parse(text) as { migrations?: unknown }).migrations;
    } catch {
      return undefined;
    }
  })();
  const valid =
    Array.isArray(entries) &&
    entries.every((e) => typeof e === 'object' && e !== null && typeof (e as BaselineEntry).name === 'string' && /^[0-9a-f]{64}$/.test(String((e as BaselineEntry).sha256)));
  if (!valid) {
    throw new UserFacingError(
      `the lint baseline ${displayPath(file)} is not { "migrations": [{ "name", "sha256" }, ...] }. Restore it from version control, ` +
        'or rewrite it with `npm run db:lint -- --update-baseline` if every migration in the folder has been applied by a release.',
    );
  }
  return entries as BaselineEntry[];
}

/**
 * Records every migration of the folder as the baseline: to run once a release has applied them
 * (they can no longer be changed, only followed by new ones). Written whole or not at all.
 */
export function writeBaseline(dir: string = migrationsPath): { file: string; migrations: string[] } {
  const migrations = readMigrations(dir);
  const file = path.join(dir, BASELINE_FILE);
  const content = {
    $comment:
      'The migrations already applied somewhere (a release ran them): `npm run db:lint` reports their findings without failing. ' +
      'A migration whose file no longer has this sha256 is linted as new. Rewrite with `npm run db:lint -- --update-baseline` once a release has applied the migrations.',
    migrations: migrations.map((m) => ({ name: m.name, sha256: m.hash })),
  };
  try {
    const writeFileAtomic = require('write-file-atomic') as typeof import('write-file-atomic');
    writeFileAtomic.sync(file, `${JSON.stringify(content, null, 2)}\n`);
  } catch (error) {
    throw new UserFacingError(`cannot write the lint baseline ${displayPath(file)}: ${(error as Error).message}.`);
  }
  return { file: displayPath(file), migrations: migrations.map((m) => m.name) };
}

/** An exception as a line comment: `--` then squawk-ignore (or -file). */
const IGNORE_COMMENT = /--\s*(squawk-ignore-file|squawk-ignore)(?![\w-])(.*)$/;
/** A C-style comment, over as many lines as it takes (to the end of the text when unclosed). */
const BLOCK_COMMENT = /\/\*[\s\S]*?(?:\*\/|$)/g;

/**
 * The exceptions of one file that squawk would take but that do not say what they except and why:
 * no rule (a bare `squawk-ignore-file` silences the whole file), no reason after squawk's trailing
 * `--`, or a reason written where squawk expects rule names (which excepts nothing).
 */
export function exceptionProblems(text: string, m: Pick<Migration, 'name' | 'file'>): Finding[] {
  const problems: Finding[] = [];
  // squawk also reads an exception in a C-style comment, over several lines (`/*` on one line and
  // `squawk-ignore-file` on the next silences the whole file), which a line-by-line reading misses:
  // exceptions are taken as line comments only, where each is seen whole.
  for (const block of text.matchAll(BLOCK_COMMENT)) {
    if (!/squawk-ignore/.test(block[0])) continue;
    const before = text.slice(0, block.index);
    problems.push({
      migration: m.name,
      file: m.file,
      line: before.split('\n').length,
      column: before.length - before.lastIndexOf('\n'),
      help: null,
      rule: EXCEPTION_RULES.blockComment,
      message: `an exception in a /* */ comment is not accepted: write it as a line comment on the line above the one the finding names, as \`${EXCEPTION_FORM}\``,
    });
  }
  text.split('\n').forEach((lineText, i) => {
    const match = IGNORE_COMMENT.exec(lineText);
    if (!match) return;
    const [, kind, body] = match;
    const cut = body.indexOf('--');
    const names = (cut === -1 ? body : body.slice(0, cut)).split(',').map((n) => n.trim()).filter(Boolean);
    const reason = cut === -1 ? '' : body.slice(cut + 2).trim();
    const at = { migration: m.name, file: m.file, line: i + 1, column: match.index + 1, help: null };
    const example = `-- ${kind} ${names.length > 0 && names.every((n) => /^[a-z-]+$/.test(n)) ? names.join(', ') : '<rule>'} -- <why it is safe here>`;
    const malformed = names.filter((n) => !/^[a-z][a-z-]*$/.test(n));
    if (names.length === 0) {
      problems.push({
        ...at,
        rule: EXCEPTION_RULES.noRule,
        message:
          `\`${kind}\` names no rule (${kind === 'squawk-ignore-file' ? 'so it silences every rule of the file' : 'so it excepts nothing'}): ` +
          `name the rule it excepts and why, as \`${example}\``,
      });
    } else if (malformed.length > 0) {
      problems.push({
        ...at,
        rule: EXCEPTION_RULES.notARule,
        message:
          `squawk reads \`${malformed[0]}\` as a rule name, which it is not, so nothing is excepted: ` +
          `put the reason after a second \`--\`, as \`${EXCEPTION_FORM}\`, e.g. \`-- squawk-ignore require-concurrent-index-creation -- the table is created in this same migration\``,
      });
    } else if (reason === '') {
      problems.push({
        ...at,
        rule: EXCEPTION_RULES.noReason,
        message: `the exception for ${names.join(', ')} gives no reason: say why it is safe here, as \`${example}\``,
      });
    }
  });
  return problems;
}

const byPlace = (a: Finding, b: Finding) => a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule);

/** Lints the migrations of the folder (journal order), applying the baseline. */
export async function lintMigrations(options: LintOptions = {}): Promise<LintResult> {
  const dir = options.dir ?? migrationsPath;
  const migrations = readMigrations(dir);
  const binary = options.squawk ?? squawkBinary();
  const baseline = readBaseline(dir);
  const baselineFile = displayPath(path.join(dir, BASELINE_FILE));
  const notes: string[] = [];

  const recorded = new Map((baseline ?? []).map((e) => [e.name, e.sha256]));
  const baselined = new Set<string>();
  if (baseline === undefined) {
    notes.push(
      `there is no lint baseline (${baselineFile}), so every migration is linted as new. Once a release has applied them, ` +
        'record them with `npm run db:lint -- --update-baseline`.',
    );
  }
  const onBase = options.baseRef === undefined ? undefined : await filesAtRevision(dir, options.baseRef, migrations.filter((m) => recorded.get(m.name) === m.hash).map((m) => `${m.name}.sql`));
  const unmerged: Finding[] = [];
  for (const m of migrations) {
    const hash = recorded.get(m.name);
    if (hash === m.hash && onBase !== undefined) {
      const text = onBase.get(`${m.name}.sql`);
      if (text === undefined || hashMigration(text) !== hash) {
        unmerged.push({
          migration: m.name,
          file: m.file,
          line: 1,
          column: 1,
          help: null,
          rule: EXCEPTION_RULES.notOnBase,
          message:
            `${m.name} is in the baseline (${baselineFile}), but ${options.baseRef} ${text === undefined ? 'does not have it' : 'has another version of it'}: ` +
            'the baseline records what a release has applied, and a change may not add its own migrations to it. Take the entry out; the migration is linted as new.',
        });
        continue;
      }
    }
    if (hash === m.hash) baselined.add(m.name);
    else if (hash !== undefined) {
      notes.push(
        `${m.file} has changed since the baseline recorded it (its sha256 is no longer the one in ${baselineFile}), so it is linted as a new migration. ` +
          'A migration that a release has applied must not be edited (`db:migrate` refuses it); put the change in a new migration.',
      );
    }
  }
  const names = new Set(migrations.map((m) => m.name));
  const stale = [...recorded.keys()].filter((name) => !names.has(name));
  if (stale.length > 0) {
    notes.push(`${baselineFile} lists ${stale.join(', ')}, which ${stale.length === 1 ? 'is' : 'are'} not among the migrations (removed, or from another branch).`);
  }

  const byFile = new Map(migrations.map((m) => [path.resolve(dir, `${m.name}.sql`), m]));
  const filesOf = (transactional: boolean) => [...byFile].filter(([, m]) => m.transactional === transactional).map(([file]) => file);
  // .squawk.toml has squawk judge each file as run in one transaction, as the runner runs it. A
  // migration marked NO_TRANSACTION_MARKER runs without one, so it is linted in a second run with
  // --no-assume-in-transaction (squawk's flag that overrides the configuration): its CREATE INDEX
  // CONCURRENTLY is then what require-concurrent-index-creation asks for, not a statement that
  // cannot run in a transaction, and its VALIDATE CONSTRAINT is not in the ADD CONSTRAINT's transaction.
  const config = options.config ?? squawkConfigPath;
  const timeout = options.timeoutMs ?? SQUAWK_TIMEOUT_MS;
  const violations = [
    ...(await runSquawk(binary, filesOf(true), config, timeout)),
    ...(await runSquawk(binary, filesOf(false), config, timeout, ['--no-assume-in-transaction'])),
  ];
  const all = new Map<string, Finding[]>(migrations.map((m) => [m.name, []]));
  for (const v of violations) {
    const m = byFile.get(path.resolve(ROOT, v.file));
    if (!m) throw new UserFacingError(`squawk reported on ${v.file}, which is not one of the migrations it was given.`);
    all.get(m.name)!.push({ migration: m.name, file: m.file, line: v.line + 1, column: v.column + 1, rule: v.rule_name, message: v.message, help: v.help ?? null });
  }
  for (const [file, m] of byFile) {
    const own = exceptionProblems(fs.readFileSync(file, 'utf8'), m);
    // squawk's own complaint about a malformed exception ("unknown name ...") says less than ours: keep ours.
    const lines = new Set(own.filter((f) => f.rule === EXCEPTION_RULES.notARule).map((f) => f.line));
    const list = all.get(m.name)!;
    all.set(m.name, [...list.filter((f) => !(f.rule === 'unused-ignore' && lines.has(f.line))), ...own].sort(byPlace));
  }

  const findings: Finding[] = [...unmerged];
  const baselineFindings: Finding[] = [];
  for (const m of migrations) (baselined.has(m.name) ? baselineFindings : findings).push(...all.get(m.name)!);
  return { dir: displayPath(dir), baselineFile, migrations: migrations.map((m) => m.name), baselined: [...baselined], findings, baselineFindings, notes };
}

/** A finding as one line: `schema/migrations/0008_x.sql:12: rule: message (help)`. */
export const formatFinding = (f: Finding): string => `${f.file}:${f.line}: ${f.rule}: ${f.message}${f.help ? ` (${f.help})` : ''}`;
