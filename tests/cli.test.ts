/**
 * The operator tool as one executable (cli/main.ts, cli/tree.ts): its command tree, exit codes,
 * help and suggestions; npm's swallowed flags; the migrator's login; --json for scripts; paths
 * relative to where the user runs it. Commands that need a server run against the shared test
 * PostgreSQL.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../common/paths';
import { formatWait } from '../cli/commands/backup';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { freshDatabase, npmRun, runProcess, withClient, type TestDatabase } from './helpers/db';
import { sharedServer } from './helpers/shared-server';

const MIGRATIONS = readMigrations();
const LAUNCHER = path.join(ROOT, 'cli', 'launch.js');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

/** The tool run directly, as `npx pa-data` runs it (package.json `bin`), with only the variables given. */
function tool(args: string[], env: Record<string, string> = {}, cwd = ROOT) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$|DATABASE_URL$|MIGRATOR_DATABASE_URL$)/.test(k)));
  return runProcess(process.execPath, [LAUNCHER, ...args], { cwd, env: { ...base, ...env } });
}

const appliedCount = (url: string) =>
  withClient(url, async (c) => {
    const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'drizzle' AND tablename = '__drizzle_migrations'`);
    if (rows[0].n === 0) return 0;
    return (await c.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')).rows[0].n as number;
  });

describe('one executable: the command tree', () => {
  test('package.json names it as `bin` (npx pa-data), and every npm alias starts the launcher with a command of the tree', async () => {
    expect(PACKAGE.bin).toEqual({ 'pa-data': 'cli/launch.js' });
    expect(fs.readFileSync(LAUNCHER, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const help = await tool(['--help']);
    expect(help.code).toBe(0);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z]+)(?: \[options\])?(?: \[command\])? {2,}/gm)].map((m) => m[1]);
    expect(commands).toEqual(['migrate', 'status', 'seed', 'verify', 'baseline', 'check', 'lint', 'studio', 'backup', 'restore', 'health', 'env', 'prepare', 'help']);
    const aliases = Object.entries(PACKAGE.scripts).filter(([, script]) => script.startsWith('node cli/launch.js '));
    expect(aliases.map(([name]) => name).sort()).toEqual(
      ['db:backup', 'db:baseline', 'db:check', 'db:lint', 'db:migrate', 'db:prepare', 'db:restore', 'db:seed', 'db:status', 'db:studio', 'db:verify', 'env', 'health', 'storage:prepare'].sort(),
    );
    for (const [name, script] of aliases) {
      const words = /^node cli\/launch\.js (.+)$/.exec(script)?.[1].split(' ') ?? [];
      const r = await tool([...words, '--help']);
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
      expect(r.stdout).toMatch(new RegExp(`^Usage: pa-data ${words.join(' ')} `));
    }
  });

  test('exit status 2 for bad usage, with a suggestion; 0 for --help and --version; the codes are in the help', async () => {
    const version = await tool(['--version']);
    expect([version.code, version.stdout]).toEqual([0, `${PACKAGE.version}\n`]);
    const help = await tool(['--help']);
    expect(help.stdout).toContain('Exit status: 0 done, 1 failed, 2 bad usage');
    for (const [args, message] of [
      [['migrat'], "error: unknown command 'migrat'\n(Did you mean migrate?)"],
      [['migrate', '--dryrun'], "error: unknown option '--dryrun'\n(Did you mean --dry-run?)"],
      [['migrate', 'now'], "error: too many arguments for 'migrate'"],
      [['studio', '--port', 'abc'], "error: option '--port <port>' argument 'abc' is invalid. must be a TCP port, 1 to 65535"],
      [['backup', '--stack', 'dev', '--keep', '0'], "error: option '--keep <n>' argument '0' is invalid. must be a whole number of backups from 1 to 10000"],
      [['backup'], "error: required option '-s, --stack <name>' not specified"],
      [['restore', '--database', 'x', '--file', 'a.dump', '--stack', 'dev'], "error: option '--file <file>' cannot be used with option '-s, --stack <name>'"],
      [['prepare', 'database', '--database', 'x', '--owner', 'y', '--mark', 'm', '--fresh', '--release'], "error: option '--fresh' cannot be used with option '--release'"],
      [[], 'Usage: pa-data [options] [command]'],
    ] as Array<[string[], string]>) {
      const r = await tool(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }
  });

  test('exit status 1 for a failure, with one clear line and no stack trace', async () => {
    const r = await tool(['status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: neither MIGRATOR_DATABASE_URL nor DATABASE_URL is set: set MIGRATOR_DATABASE_URL to the migrator's login (the stack's `migratorDatabaseUrl` output; " +
        '`npm run env -- --stack <name>` writes it to .env.<stack>), e.g. postgres://pa_migrator:PASSWORD@HOST:5432/pronunciation_assistant\n',
    );
  });
});

describe('npm swallows the flags typed before `--` (trap 1)', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(() => t.close());

  /** `npm run <script> <args>`, without `--`, as a careless operator types it. */
  const careless = (script: string, args: string[], env: Record<string, string> = {}) => {
    const base = { ...process.env };
    delete base.DATABASE_URL;
    delete base.MIGRATOR_DATABASE_URL;
    return runProcess('npm', ['run', '--silent', script, ...args], { cwd: ROOT, env: { ...base, ...env } });
  };

  test('`npm run db:migrate --dry-run` refuses and applies nothing, naming the way to write it', async () => {
    const r = await careless('db:migrate', ['--dry-run'], { DATABASE_URL: t.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: npm took --dry-run for itself (typed before `--`), so the command would run without it: nothing was run.');
    expect(r.stderr).toContain('npm run db:migrate -- --dry-run');
    expect(await appliedCount(t.url)).toBe(0);
    const right = await npmRun('db:migrate', ['--dry-run'], { DATABASE_URL: t.url });
    expect(right.code).toBe(0);
    expect(right.stdout).toContain(`dry run: ${MIGRATIONS.length} migrations would be applied`);
    expect(await appliedCount(t.url)).toBe(0);
  });

  test.each([
    ['db:status', ['--json']],
    ['health', ['--json']],
    ['db:seed', ['--demo']],
    ['db:backup', ['--stack', 'dev']],
    ['db:prepare', ['--fresh']],
    ['env', ['--stack', 'dev']],
  ])('`npm run %s %j` refuses the same way', async (script, args) => {
    const r = await careless(script, args, { DATABASE_URL: t.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: npm took ${args[0]} for itself`);
    // With --json npm itself reports the script's failure as JSON on stdout (npm's own error object); nothing of the command's.
    expect(r.stdout === '' || Object.keys(JSON.parse(r.stdout))).toEqual(r.stdout === '' ? true : ['error']);
  });

  test("another npm's flags, inherited from further up (npm test), do not count", async () => {
    const r = await tool(['status', '--json'], { DATABASE_URL: t.url, npm_lifecycle_event: 'test', npm_config_json: 'true', npm_config_dry_run: 'true' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).pending).toHaveLength(MIGRATIONS.length);
    // Settings of an .npmrc reach the script as '' or 'false' (json=false, progress=false): not typed flags.
    const npmrc = await tool(['status', '--json'], { DATABASE_URL: t.url, npm_lifecycle_event: 'db:status', npm_config_json: '', npm_config_query_timeout: 'false' });
    expect(npmrc.code).toBe(0);
    const typed = await tool(['status', '--json'], { DATABASE_URL: t.url, npm_lifecycle_event: 'db:status', npm_config_json: 'true' });
    expect([typed.code, typed.stdout]).toEqual([2, '']);
  });
});

describe('the right login, and JSON for scripts', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase();
  });
  afterEach(() => t.close());

  test('migrate and seed take MIGRATOR_DATABASE_URL over DATABASE_URL and say which they used', async () => {
    const elsewhere = await freshDatabase();
    try {
      const m = await tool(['migrate'], { MIGRATOR_DATABASE_URL: t.url, DATABASE_URL: elsewhere.url });
      expect(m.code).toBe(0);
      expect(m.stdout).toContain('(from MIGRATOR_DATABASE_URL)');
      const s = await tool(['seed'], { MIGRATOR_DATABASE_URL: t.url, DATABASE_URL: elsewhere.url });
      expect(s.code).toBe(0);
      expect(s.stdout).toContain('(from MIGRATOR_DATABASE_URL)');
      expect(await appliedCount(t.url)).toBe(MIGRATIONS.length);
      expect(await appliedCount(elsewhere.url)).toBe(0);
      const fallback = await tool(['status'], { DATABASE_URL: elsewhere.url });
      expect(fallback.stdout).toContain('(from DATABASE_URL)');
    } finally {
      await elsewhere.close();
    }
  });

  test('status --json and migrate --json: what is applied and what is pending, progress on stderr', async () => {
    await migrate(t.client, MIGRATIONS.slice(0, -1));
    const status = await tool(['status', '--json'], { DATABASE_URL: t.url });
    expect(status.code).toBe(0);
    const before = JSON.parse(status.stdout);
    expect(before.applied.map((a: { name: string }) => a.name)).toEqual(MIGRATIONS.slice(0, -1).map((m) => m.name));
    expect(before.pending).toEqual([{ name: MIGRATIONS.at(-1)!.name, file: MIGRATIONS.at(-1)!.file, statements: MIGRATIONS.at(-1)!.statements.length }]);
    expect(status.stdout).not.toContain(sharedServer().password);

    const run = await tool(['migrate', '--json'], { DATABASE_URL: t.url });
    expect(run.code).toBe(0);
    const after = JSON.parse(run.stdout);
    expect(after.appliedNow).toEqual([MIGRATIONS.at(-1)!.name]);
    expect(after.applied.map((a: { name: string }) => a.name)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(after.pending).toEqual([]);
    expect(run.stderr).toContain(`applied ${MIGRATIONS.at(-1)!.name}`);
  });
});

describe('studio', () => {
  test('a busy port is named with what to do, before drizzle-kit starts (exit 1)', async () => {
    const t = await freshDatabase();
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as net.AddressInfo).port;
      const r = await tool(['studio', '--port', String(port)], { DATABASE_URL: t.url });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: port ${port} on 127.0.0.1 is in use: choose another with --port.\n`);
    } finally {
      busy.close();
      await t.close();
    }
  });
});

describe('paths a user types are taken from the folder the user runs in', () => {
  test('`npm run db:restore -- --file x.dump` run from another folder looks for x.dump there, not in the project root', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-cli-'));
    try {
      const base = { ...process.env };
      delete base.DATABASE_URL;
      const r = await runProcess('npm', ['--prefix', ROOT, 'run', '--silent', 'db:restore', '--', '--database', 'x', '--file', 'missing.dump'], {
        cwd: dir,
        env: { ...base, DATABASE_URL: 'postgres://u:p@127.0.0.1:1/postgres' },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: ${path.join(fs.realpathSync(dir), 'missing.dump')} does not exist; nothing was changed.\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('formatWait (the scheduled backup\'s "next backup in")', () => {
  test.each([
    [0, '1 s'],
    [1, '1 s'],
    [29_500, '30 s'],
    [59_999, '60 s'],
    [60_000, '1 min'],
    [90 * 60_000, '90 min'],
    [2 * 3_600_000, '2.0 h'],
    [36 * 3_600_000, '36.0 h'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatWait(ms)).toBe(text);
  });
});
