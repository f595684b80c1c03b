/**
 * `db:lint` (lib/migrations/lint.ts, cli/commands/lint.ts): squawk over the migrations, the
 * baseline of migrations applied already, the exceptions that must name a rule and a reason. A
 * unit test: squawk is a local binary and no server is started. Risky migrations are added to
 * scratch copies of the committed folder (its baseline included).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { POSTGRES_MAJOR } from '../common/names';
import { migrationsPath, ROOT, squawkConfigPath } from '../common/paths';
import { NO_TRANSACTION_MARKER, readMigrations } from '../lib/migrations/files';
import { BASELINE_FILE, EXCEPTION_RULES, lintMigrations, otherPlatform, readBaseline, squawkBinary, type Finding, type LintResult } from '../lib/migrations/lint';
import { UserFacingError } from '../lib/postgres/connection';
import { MigrationsCopy } from './helpers/migrations-copy';

// Numbered past any committed migration, so that it is always the newest.
const NEW = '0099_risky';
const LOCK_TIMEOUT = "SET LOCAL lock_timeout = '10s';";
const BREAK = '--> statement-breakpoint';

/** A new migration: the lock timeout (line 1), a breakpoint (2), a comment (3), then the statement (line 4 on). */
const migration = (...statement: string[]) => [LOCK_TIMEOUT, BREAK, '-- what this migration does', ...statement].join('\n');

/** The findings of one migration as [file name, line, rule]. */
const places = (findings: Finding[], name = NEW) => findings.filter((f) => f.migration === name).map((f) => [path.basename(f.file), f.line, f.rule]);

describe('db:lint on a copy of the migrations', () => {
  let copy: MigrationsCopy;
  beforeEach(() => (copy = new MigrationsCopy()));
  afterEach(() => copy.cleanup());
  const lint = (): Promise<LintResult> => lintMigrations({ dir: copy.dir });

  it.each([
    ['an index built without CONCURRENTLY on an existing table', ['CREATE INDEX "idx_users_email_lower" ON "users" (lower("email"));'], 4, 'require-concurrent-index-creation'],
    ['a column added NOT NULL without a default', ['ALTER TABLE "users" ADD COLUMN "nickname" text NOT NULL;'], 4, 'adding-required-field'],
    ['an existing column made NOT NULL', ['ALTER TABLE "documents" ALTER COLUMN "description" SET NOT NULL;'], 4, 'adding-not-nullable-field'],
    ['a column type change', ['ALTER TABLE "documents" ALTER COLUMN "title" SET DATA TYPE text;'], 4, 'changing-column-type'],
    ['a renamed column', ['ALTER TABLE "documents" RENAME COLUMN "title" TO "name";'], 4, 'renaming-column'],
    ['a renamed table', ['ALTER TABLE "documents" RENAME TO "texts";'], 4, 'renaming-table'],
    // squawk points at the constraint, on the statement's second line.
    ['a constraint added without NOT VALID', ['ALTER TABLE "documents"', '  ADD CONSTRAINT "documents_title_present" CHECK ("title" <> \'\');'], 5, 'constraint-missing-not-valid'],
  ])('flags %s with its file, 1-based line and rule', async (_kind, statement, line, rule) => {
    copy.add(NEW, migration(...statement));
    const result = await lint();
    expect(places(result.findings)).toEqual([[`${NEW}.sql`, line, rule]]);
    const finding = result.findings[0];
    expect(path.resolve(finding.file)).toBe(path.join(copy.dir, `${NEW}.sql`));
    expect(finding.message).not.toBe('');
    // The committed migrations, in the baseline, fail nothing.
    expect(result.findings.every((f) => f.migration === NEW)).toBe(true);
  });

  it('lints a migration marked `-- pa-data: no-transaction` as run without a transaction: CREATE INDEX CONCURRENTLY passes there, and is flagged unmarked', async () => {
    // Without a transaction, a session SET holds for the rest of the migration (the runner makes it again when it resumes one).
    const statements = ["SET lock_timeout = '10s';", BREAK, 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_users_email_lower" ON "users" (lower("email"));'];
    copy.add(NEW, [NO_TRANSACTION_MARKER, ...statements].join('\n'));
    expect(places((await lint()).findings)).toEqual([]);
    copy.edit(NEW, (sql) => sql.replace(`${NO_TRANSACTION_MARKER}\n`, '-- not marked\n'));
    expect(places((await lint()).findings)).toEqual([[`${NEW}.sql`, 4, 'ban-concurrent-index-creation-in-transaction']]);
  });

  it('flags a migration that locks a table without a lock timeout, on the statement that takes the lock', async () => {
    copy.add(NEW, ['-- lessons, linked from documents', 'ALTER TABLE "documents" ADD COLUMN "lesson_id" uuid;'].join('\n'));
    expect(places((await lint()).findings)).toEqual([[`${NEW}.sql`, 2, 'require-lock-timeout']]);
  });

  it('passes a risky statement that carries an exception naming the rule and a reason, and fails it without', async () => {
    const index = 'CREATE INDEX "idx_users_email_lower" ON "users" (lower("email"));';
    copy.add(NEW, migration('-- squawk-ignore require-concurrent-index-creation -- users holds a few hundred rows: the write lock lasts milliseconds', index));
    expect((await lint()).findings).toEqual([]);
    copy.edit(NEW, (sql) => sql.replace(/^-- squawk-ignore .*\n/m, ''));
    expect(places((await lint()).findings)).toEqual([[`${NEW}.sql`, 4, 'require-concurrent-index-creation']]);
  });

  it('passes a file-wide exception that names its rule and a reason; the other rules still apply', async () => {
    copy.add(
      NEW,
      migration(
        '-- squawk-ignore-file require-concurrent-index-creation -- both tables hold a few hundred rows',
        'CREATE INDEX "idx_users_email_lower" ON "users" (lower("email"));',
        BREAK,
        'CREATE INDEX "idx_documents_title" ON "documents" ("title");',
        BREAK,
        'ALTER TABLE "documents" RENAME COLUMN "title" TO "name";',
      ),
    );
    expect(places((await lint()).findings)).toEqual([[`${NEW}.sql`, 9, 'renaming-column']]);
  });

  it('fails an exception without a reason, saying what to write, though squawk would accept it', async () => {
    copy.add(NEW, migration('-- squawk-ignore require-concurrent-index-creation', 'CREATE INDEX "idx_users_email_lower" ON "users" (lower("email"));'));
    const { findings } = await lint();
    expect(places(findings)).toEqual([[`${NEW}.sql`, 4, EXCEPTION_RULES.noReason]]);
    expect(findings[0].message).toBe(
      'the exception for require-concurrent-index-creation gives no reason: say why it is safe here, as `-- squawk-ignore require-concurrent-index-creation -- <why it is safe here>`',
    );
  });

  it('fails a bare squawk-ignore-file, which would silence every rule of the file', async () => {
    copy.add(NEW, migration('-- squawk-ignore-file', 'ALTER TABLE "documents" RENAME COLUMN "title" TO "name";'));
    const { findings } = await lint();
    expect(places(findings)).toEqual([[`${NEW}.sql`, 4, EXCEPTION_RULES.noRule]]);
    expect(findings[0].message).toContain('so it silences every rule of the file');
    expect(findings[0].message).toContain('`-- squawk-ignore-file <rule> -- <why it is safe here>`');
  });

  it('fails a reason written where squawk reads rule names (which excepts nothing), and the finding stays', async () => {
    copy.add(NEW, migration('-- squawk-ignore require-concurrent-index-creation: users is small', 'CREATE INDEX "idx_users_email_lower" ON "users" (lower("email"));'));
    const { findings } = await lint();
    expect(places(findings)).toEqual([
      [`${NEW}.sql`, 4, EXCEPTION_RULES.notARule],
      [`${NEW}.sql`, 5, 'require-concurrent-index-creation'],
    ]);
    expect(findings[0].message).toContain('put the reason after a second `--`');
  });

  it.each([
    ['over several lines, silencing the whole file', '/*\nsquawk-ignore-file\n*/'],
    ['on one line, with a rule and a reason', '/* squawk-ignore require-concurrent-index-creation -- users is small */'],
  ])('fails an exception in a block comment (%s): the lint fails even where squawk took it', async (_, comment) => {
    copy.add(NEW, migration(comment, 'CREATE INDEX "idx_users_email_lower" ON "users" (lower("email"));'));
    const { findings } = await lint();
    const blockRules = findings.filter((f) => f.rule === EXCEPTION_RULES.blockComment);
    expect(places(blockRules)).toEqual([[`${NEW}.sql`, 4, EXCEPTION_RULES.blockComment]]);
    expect(blockRules[0].message).toContain('write it as a line comment');
  });

  it('lints a baseline migration whose file changed as new, and says so', async () => {
    const before = await lint();
    expect(before.baselineFindings.some((f) => f.migration === '0004_skill_area_check' && f.rule === 'constraint-missing-not-valid')).toBe(true);
    copy.edit('0004_skill_area_check', (sql) => `-- edited after it was applied\n${sql}`);
    const after = await lint();
    expect(after.baselined).not.toContain('0004_skill_area_check');
    expect(places(after.findings, '0004_skill_area_check')).toEqual([
      ['0004_skill_area_check.sql', 2, 'require-lock-timeout'],
      ['0004_skill_area_check.sql', 2, 'constraint-missing-not-valid'],
    ]);
    expect(after.notes).toEqual([expect.stringMatching(/0004_skill_area_check\.sql has changed since the baseline recorded it .* so it is linted as a new migration/)]);
  });

  it('lints every migration as new when there is no baseline, and names a baseline entry with no migration', async () => {
    fs.rmSync(path.join(copy.dir, BASELINE_FILE));
    const none = await lint();
    expect(none.baselined).toEqual([]);
    expect(none.findings.length).toBeGreaterThan(0);
    expect(none.notes).toEqual([expect.stringContaining('there is no lint baseline')]);
    fs.cpSync(path.join(migrationsPath, BASELINE_FILE), path.join(copy.dir, BASELINE_FILE));
    copy.remove('0007_public_head_search_per_field');
    expect((await lint()).notes).toEqual([expect.stringMatching(/lists 0007_public_head_search_per_field, which is not among the migrations/)]);
  });

  it('refuses a baseline that is not a list of names and hashes', async () => {
    fs.writeFileSync(path.join(copy.dir, BASELINE_FILE), JSON.stringify({ migrations: [{ name: '0000_extensions' }] }));
    await expect(lint()).rejects.toThrow(/lint-baseline\.json is not \{ "migrations": \[\{ "name", "sha256" \}, \.\.\.\] \}/);
  });
});

describe('db:lint on the committed migrations', () => {
  it('passes: those a release applied are in the baseline with the hash of their file, and the newer ones lint clean', async () => {
    const result = await lintMigrations();
    // No finding at all: a migration not yet released (not in the baseline) must pass as it is.
    expect(result.findings).toEqual([]);
    const migrations = readMigrations();
    const baseline = readBaseline() ?? [];
    // The baseline is the oldest migrations, as their files are now; those after it are linted as new.
    expect(baseline.length).toBeGreaterThan(0);
    expect(baseline).toEqual(migrations.slice(0, baseline.length).map((m) => ({ name: m.name, sha256: m.hash })));
    expect(result.baselined).toEqual(baseline.map((entry) => entry.name));
    expect(result.notes).toEqual([]);
  });

  it("keeps squawk's configuration in line with the project: the PostgreSQL major, the transaction, the named rules on", () => {
    const config = fs.readFileSync(squawkConfigPath, 'utf8');
    expect(/^pg_version = "(\d+)"$/m.exec(config)?.[1]).toBe(String(POSTGRES_MAJOR));
    expect(config).toMatch(/^assume_in_transaction = true$/m);
    const excluded = [.../^excluded_rules = \[([\s\S]*?)^\]/m.exec(config)![1].matchAll(/^\s*"([a-z-]+)",/gm)].map((m) => m[1]);
    expect(excluded.length).toBeGreaterThan(0);
    const named = ['require-concurrent-index-creation', 'adding-required-field', 'adding-not-nullable-field', 'changing-column-type', 'renaming-column', 'renaming-table', 'constraint-missing-not-valid', 'require-lock-timeout'];
    expect(excluded.filter((rule) => named.includes(rule))).toEqual([]);
  });
});

describe('db:lint when squawk cannot run', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-lint-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('finds the binary npm installed for this platform', () => {
    expect(fs.statSync(squawkBinary()).isFile()).toBe(true);
  });

  it('names the package to add on a platform the lock has no squawk for, and `npm ci` on this one', () => {
    const locked = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { optionalDependencies: Record<string, string> }).optionalDependencies['@squawk-cli/linux-x64'];
    expect(otherPlatform('@squawk-cli/darwin-arm64')).toBe(`the project installs squawk for linux-x64 only; on this machine, \`npm install --no-save @squawk-cli/darwin-arm64@${locked}\``);
    expect(otherPlatform('@squawk-cli/linux-x64')).toMatch(/^run `npm ci`/);
  });

  it('says to run `npm ci` when squawk is missing', async () => {
    const error = await lintMigrations({ squawk: path.join(scratch, 'no-squawk-here') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/^cannot run squawk \(.*no-squawk-here: ENOENT\): run `npm ci` in the project/);
  });

  it('stops a squawk that does not finish', async () => {
    const stuck = path.join(scratch, 'stuck-squawk');
    fs.writeFileSync(stuck, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const started = Date.now();
    await expect(lintMigrations({ squawk: stuck, timeoutMs: 500 })).rejects.toThrow('squawk did not finish within 1 s and was stopped; nothing was linted.');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("reports squawk's own error, such as a bad configuration", async () => {
    const config = path.join(scratch, 'bad.toml');
    fs.writeFileSync(config, 'excluded_rules = ["no-such-rule"]\n');
    await expect(lintMigrations({ config })).rejects.toThrow(/^squawk failed \(exit status 1\): Configuration error: .*no-such-rule/s);
  });
});

describe('the lint command', () => {
  const run = promisify(execFile);
  /** The tool as `npx pa-data` runs it, from the project root. */
  const tool = (...args: string[]) =>
    run(process.execPath, [path.join(ROOT, 'cli', 'launch.js'), 'lint', ...args], { cwd: ROOT }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  let copy: MigrationsCopy;
  beforeEach(() => (copy = new MigrationsCopy()));
  afterEach(() => copy.cleanup());

  it('exits 0 on the committed migrations, summarising the baseline', async () => {
    const r = await tool();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^baseline, not failing: \d+ findings in migrations a release has applied: 0000_extensions \(require-lock-timeout\);/m);
    const all = readMigrations().length;
    const baselined = readBaseline()?.length ?? 0;
    expect(r.stdout).toContain(`${all} migrations linted (${baselined} in the baseline, ${all - baselined} new): nothing that fails.`);
  });

  it('exits 1 on a risky migration, printing file:line: rule: message (help); --json gives the same', async () => {
    copy.add(NEW, migration('ALTER TABLE "documents" ALTER COLUMN "title" SET DATA TYPE text;', BREAK, 'CREATE INDEX "idx_documents_title" ON "documents" ("title");'));
    const file = path.join(copy.dir, `${NEW}.sql`);
    const r = await tool('--dir', copy.dir);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter((line) => line.startsWith(file))).toEqual([
      `${file}:4: changing-column-type: Changing a column type requires an \`ACCESS EXCLUSIVE\` lock on the table which blocks reads and writes while the table is rewritten. Changing the type of the column may also break other clients reading from the table.`,
      `${file}:6: require-concurrent-index-creation: During normal index creation, table updates are blocked, but reads are still allowed. (Use \`concurrently\` to avoid blocking writes.)`,
    ]);
    expect(r.stdout).toContain('2 findings in 1 migration outside the baseline: change the migration, or except the finding');
    const json = await tool('--dir', copy.dir, '--json');
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; findings: Finding[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.findings.map((f) => [f.file, f.line, f.rule])).toEqual([
      [file, 4, 'changing-column-type'],
      [file, 6, 'require-concurrent-index-creation'],
    ]);
  });

  it('--update-baseline records the migrations as applied: their findings then no longer fail', async () => {
    copy.add(NEW, migration('ALTER TABLE "documents" RENAME COLUMN "title" TO "name";'));
    expect((await tool('--dir', copy.dir)).code).toBe(1);
    const r = await tool('--dir', copy.dir, '--update-baseline');
    expect(r.stdout).toContain(`recorded ${readMigrations(copy.dir).length} migrations as the baseline in ${path.join(copy.dir, BASELINE_FILE)} (the newest: ${NEW}); commit it.`);
    expect(r.code).toBe(0);
    expect(readBaseline(copy.dir)?.at(-1)).toEqual({ name: NEW, sha256: readMigrations(copy.dir).at(-1)!.hash });
  });

  describe('--base-ref, in a pull request check', () => {
    const git = (...args: string[]) => promisify(execFile)('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: copy.dir });
    beforeEach(async () => {
      await git('init', '--quiet', '--initial-branch=main');
      await git('add', '.');
      await git('commit', '--quiet', '-m', 'the migrations a release applied');
    });

    it('refuses a change that baselines its own migration: the entry fails, and the migration is linted as new', async () => {
      copy.add(NEW, migration('ALTER TABLE "documents" RENAME COLUMN "title" TO "name";'));
      expect((await tool('--dir', copy.dir, '--update-baseline')).code).toBe(0);
      const r = await tool('--dir', copy.dir, '--base-ref', 'main');
      expect(r.code).toBe(1);
      const file = path.join(copy.dir, `${NEW}.sql`);
      expect(r.stdout.split('\n').filter((line) => line.startsWith(file))).toEqual([
        expect.stringMatching(new RegExp(`^${file}:1: ${EXCEPTION_RULES.notOnBase}: ${NEW} is in the baseline .* but main does not have it`)),
        expect.stringMatching(new RegExp(`^${file}:4: renaming-column: `)),
      ]);
    });

    it('takes the baseline entries the base revision has, byte for byte', async () => {
      copy.add(NEW, migration('ALTER TABLE "documents" RENAME COLUMN "title" TO "name";'));
      expect((await tool('--dir', copy.dir, '--update-baseline')).code).toBe(0);
      await git('add', '.');
      await git('commit', '--quiet', '-m', `a release applied ${NEW} too`);
      expect((await tool('--dir', copy.dir, '--base-ref', 'main')).code).toBe(0);
      await git('commit', '--quiet', '--allow-empty', '-m', 'later');
      copy.edit(NEW, (sql) => `${sql}\n`);
      expect((await tool('--dir', copy.dir, '--update-baseline')).code).toBe(0);
      const r = await tool('--dir', copy.dir, '--base-ref', 'main');
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`${NEW} is in the baseline (${path.join(copy.dir, BASELINE_FILE)}), but main has another version of it`);
    });

    it('names an unknown revision and how to fetch it', async () => {
      const r = await tool('--dir', copy.dir, '--base-ref', 'origin/nowhere');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('git does not know the revision "origin/nowhere"');
      expect(r.stderr).toContain('fetch-depth: 0');
    });
  });
});
