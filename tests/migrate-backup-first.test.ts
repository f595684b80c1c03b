/**
 * The staging stack's post-deploy step with backupBeforeMigrate on, run for real on a throwaway
 * PostgreSQL 15 holding what the stack declares inside it (roles, database, grants): its exact
 * script, interpreter and environment, with the host and port of its URLs moved to the test server,
 * PG_BIN set, and one flag added, `--backup-dir`, so that the backups land in a scratch folder and
 * not in this checkout's backups/ (whose staging backups the step's retention would prune).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LAST_SUCCESS_FILE } from '../common/names';
import { ROOT } from '../common/paths';
import { checksumLine, listBackups } from '../lib/backups/files';
import { backupBeforeMigrating } from '../lib/migrations/backup-first';
import { readMigrations } from '../lib/migrations/files';
import { LOCK_NAME, migrate } from '../lib/migrations/runner';
import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { runAbortable } from '../lib/postgres/pg-tools';
import { createHash } from 'node:crypto';
import { applyDeclaredDatabase } from './helpers/database-twin';
import { runProcess, withClient, type CommandResult } from './helpers/db';
import { freePort, PG_BIN, startPostgres, type PostgresServer } from './helpers/postgres';
import { one, runProgram, type ProgramRun } from './helpers/program';
import { plain } from './helpers/pulumi-mocks';

jest.setTimeout(180_000);

const STACK = 'staging';
let server: PostgresServer;
/** A second server with the stack's database, roles and grants and no migration applied: a stack's first `up`. */
let fresh: PostgresServer;
let run: ProgramRun;
let step: { create: string; interpreter: string[]; environment: { DATABASE_URL: string; MIGRATOR_DATABASE_URL: string; BACKUP_DATABASE_URL: string } };
let dir: string;
const migrations = readMigrations();

const atServer = (url: string, port = server.port, host = server.host) => {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  return u.toString();
};

/**
 * The step's script with `--backup-dir DIR` after its `--stack`, run as the command provider runs it:
 * the environment it was started with (here this test's, with PG_BIN) and the step's own after it.
 */
function runStep(options: { backupDir?: string; env?: Record<string, string>; deployerEnv?: Record<string, string>; at?: PostgresServer } = {}): Promise<CommandResult> {
  const flag = `--backup-first --stack ${STACK}`;
  if (!step.create.includes(flag)) throw new Error(`the step does not back up first: ${step.create}`);
  const script = step.create.replace(flag, `${flag} --backup-dir '${options.backupDir ?? dir}'`);
  const [shell, ...shellArgs] = step.interpreter;
  const at = options.at ?? server;
  const own = Object.fromEntries(Object.entries(step.environment).map(([k, v]) => [k, atServer(v, at.port, at.host)]));
  const env: NodeJS.ProcessEnv = { ...process.env, PG_BIN, ...options.deployerEnv, ...own, ...options.env };
  return runProcess(shell, [...shellArgs, script], { cwd: ROOT, env });
}

const migratorUrl = () => atServer(run.outputs.migratorDatabaseUrl.value as string);
const appliedCount = () =>
  withClient(migratorUrl(), async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')).rows[0].n);
const dumps = () => fs.readdirSync(dir).filter((f) => f.endsWith('.dump'));
const passwords = () => [new URL(step.environment.DATABASE_URL).password, new URL(step.environment.BACKUP_DATABASE_URL).password];
const expectNoPassword = (r: CommandResult) => {
  for (const p of passwords()) expect(`${r.stdout}${r.stderr}`).not.toContain(p);
};

beforeAll(async () => {
  [server, fresh, run] = await Promise.all([startPostgres(), startPostgres(), runProgram(STACK)]);
  step = plain(one(run, 'command:local:Command', 'migrate-and-seed').raw);
  await applyDeclaredDatabase(run, (database) => server.url(database));
  await applyDeclaredDatabase(run, (database) => fresh.url(database));
  // Every migration but the last one applied: one pending, and a history to find in the backup.
  await withClient(migratorUrl(), (c) => migrate(c, migrations.slice(0, -1)));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-backup-first-'));
});
afterAll(async () => {
  await Promise.all([server?.stop(), fresh?.stop()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('db:migrate --backup-first, as the staging post-deploy step runs it', () => {
  test('the step backs up first and names the stack: its script and the backup role\'s login', () => {
    expect(step.create).toMatch(/^npm run --silent db:migrate -- --backup-first --stack staging && npm run --silent db:seed$/);
    expect(new URL(step.environment.BACKUP_DATABASE_URL).username).toBe('pa_backup');
    // The migrator's URL in both variables the runner reads: a deployer's own MIGRATOR_DATABASE_URL
    // (the provider hands the step the deployer's environment) cannot choose another database.
    expect(step.environment.MIGRATOR_DATABASE_URL).toBe(step.environment.DATABASE_URL);
  });

  test('the server\'s system identifier, by which the two logins are compared, is readable by both roles', async () => {
    for (const url of [migratorUrl(), atServer(step.environment.BACKUP_DATABASE_URL)]) {
      const id = await withClient(url, async (c) => (await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0].id);
      expect(id).toMatch(/^\d+$/);
    }
  });

  test('a deployer\'s exported MIGRATOR_DATABASE_URL pointing elsewhere: the step\'s own wins, as the provider appends it', async () => {
    // The deployer's points at no server; the backup role's at a closed port, so that nothing is applied
    // here: the run gets as far as the backup, which it reaches only through the stack's migrator URL.
    const closed = await freePort();
    const elsewhere = 'postgres://someone:elsewhere-password@elsewhere.invalid:1/another_database';
    const r = await runStep({
      deployerEnv: { MIGRATOR_DATABASE_URL: elsewhere },
      env: { BACKUP_DATABASE_URL: atServer(step.environment.BACKUP_DATABASE_URL, closed) },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the backup before migrating failed, so no migration was applied: .*(could not connect|connection refused|ECONNREFUSED)/i);
    expect(r.stderr).toContain(`:${closed}`);
    expect(`${r.stdout}${r.stderr}`).not.toContain('elsewhere');
    expect(await appliedCount()).toBe(migrations.length - 1);
  });

  test('the backup role\'s login reaches another database of the same server: refused, no backup, nothing applied', async () => {
    const other = new URL(atServer(step.environment.BACKUP_DATABASE_URL));
    other.pathname = '/postgres';
    const r = await runStep({ env: { BACKUP_DATABASE_URL: other.toString() } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/BACKUP_DATABASE_URL \(.*\) reaches database "postgres" \(oid \d+\) on the server with system identifier \d+, but MIGRATOR_DATABASE_URL \(the migrator's login, .*\) reaches database "pronunciation_assistant"/);
    expect(r.stderr).toContain('No backup was taken and no migration was applied');
    expect(r.stdout).not.toMatch(/^backup before migrating:/m);
    expect(await appliedCount()).toBe(migrations.length - 1);
    expect(dumps()).toEqual([]);
    expectNoPassword(r);
  });

  test('the backup role\'s login reaches a database of that name on another server: refused by the servers\' system identifiers', async () => {
    const r = await runStep({ env: { BACKUP_DATABASE_URL: atServer(step.environment.BACKUP_DATABASE_URL, fresh.port, fresh.host) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/reaches database "pronunciation_assistant" \(oid \d+\) on the server with system identifier (\d+), but .* reaches database "pronunciation_assistant" \(oid \d+\) on the server with system identifier (?!\1)\d+/);
    expect(await appliedCount()).toBe(migrations.length - 1);
    expect(dumps()).toEqual([]);
  });

  test('Ctrl-C while waiting for another run\'s migration lock ends the wait at once: no backup, nothing applied', async () => {
    const holder = await connect(parseDatabaseUrl(migratorUrl(), 'MIGRATOR_DATABASE_URL'), 'test: another run');
    const client = await connect(parseDatabaseUrl(migratorUrl(), 'MIGRATOR_DATABASE_URL'), 'test: db:migrate');
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [LOCK_NAME]);
      const stop = new AbortController();
      const started = Date.now();
      const attempt = backupBeforeMigrating(client, migrations, {
        backup: { target: parseDatabaseUrl(atServer(step.environment.BACKUP_DATABASE_URL), 'BACKUP_DATABASE_URL'), stack: STACK, dir, keep: 5, progressSeconds: 0 },
        lockTimeoutSeconds: 120,
        queryTimeoutSeconds: 30,
        log: (line) => {
          if (line.startsWith('waiting up to')) setTimeout(() => stop.abort(), 200);
        },
        signal: stop.signal,
      });
      await expect(attempt).rejects.toThrow('stopped while waiting for the migration lock: no backup was taken and no migration was applied.');
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await client.end().catch(() => undefined);
      await holder.end();
    }
    expect(await appliedCount()).toBe(migrations.length - 1);
    expect(dumps()).toEqual([]);
  });

  test('a backup role that cannot reach the server: exit 1, the backup\'s own message, no migration applied, no file', async () => {
    const closed = await freePort();
    const r = await runStep({ env: { BACKUP_DATABASE_URL: atServer(step.environment.BACKUP_DATABASE_URL, closed) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the backup before migrating failed, so no migration was applied: .*(could not connect|connection refused|ECONNREFUSED)/i);
    expect(r.stderr).toContain(`:${closed}`);
    expect(r.stdout).not.toMatch(/^backup before migrating:/m);
    expect(r.stdout).not.toMatch(/applied \d+ migration/);
    expect(await appliedCount()).toBe(migrations.length - 1);
    expect(dumps()).toEqual([]);
    expectNoPassword(r);
  });

  test('a backup folder that cannot be written: exit 1, the message names the folder, no migration applied', async () => {
    const file = path.join(dir, 'not-a-folder');
    fs.writeFileSync(file, '');
    try {
      const r = await runStep({ backupDir: file });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the backup before migrating failed, so no migration was applied: cannot write backups to ${file}: it is a file, not a folder`);
      expect(await appliedCount()).toBe(migrations.length - 1);
    } finally {
      fs.rmSync(file);
    }
  });

  test('a backup role with a wrong password: exit 1, the login refused, no migration applied', async () => {
    const wrong = new URL(atServer(step.environment.BACKUP_DATABASE_URL));
    wrong.password = 'not-the-password';
    const r = await runStep({ env: { BACKUP_DATABASE_URL: wrong.toString() } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the backup before migrating failed, so no migration was applied: .*pa_backup/);
    expect(r.stderr).not.toContain('not-the-password');
    expect(await appliedCount()).toBe(migrations.length - 1);
    expect(dumps()).toEqual([]);
  });

  test('pending migrations: a backup of the database as it was before them, printed on a line of its own, then the migrations', async () => {
    // db:backup's own backups of the stack, as many as its retention keeps, and its health marker:
    // the backup before migrating is named and pruned apart from them, and leaves the marker alone.
    const manual = Array.from({ length: 7 }, (_, i) => `staging-2026010${i + 1}T000000Z.dump`);
    for (const name of manual) {
      fs.writeFileSync(path.join(dir, name), name);
      fs.writeFileSync(path.join(dir, `${name}.sha256`), checksumLine(createHash('sha256').update(name).digest('hex'), name));
    }
    const marker = path.join(dir, LAST_SUCCESS_FILE);
    fs.writeFileSync(marker, '2026-01-07T00:00:00.000Z staging-20260107T000000Z.dump\n');
    const markerTime = fs.statSync(marker).mtimeMs;
    const r = await runStep();
    expect(r.code).toBe(0);
    expectNoPassword(r);
    const printed = /^backup before migrating: (.+)$/m.exec(r.stdout);
    expect(printed).not.toBeNull();
    const file = printed![1];
    expect(path.dirname(file)).toBe(dir);
    expect(path.basename(file)).toMatch(/^staging-before-migrate-\d{8}T\d{6}Z\.dump$/);
    expect(dumps().sort()).toEqual([...manual, path.basename(file)].sort());
    for (const name of manual) expect(fs.existsSync(path.join(dir, `${name}.sha256`))).toBe(true);
    expect(fs.readFileSync(marker, 'utf8')).toBe('2026-01-07T00:00:00.000Z staging-20260107T000000Z.dump\n');
    expect(fs.statSync(marker).mtimeMs).toBe(markerTime);
    // db:restore --stack staging still restores db:backup's newest; --stack staging-before-migrate this one.
    expect(listBackups(dir, STACK)[0].name).toBe('staging-20260107T000000Z.dump');
    expect(listBackups(dir, `${STACK}-before-migrate`).map((b) => b.name)).toEqual([path.basename(file)]);
    // Printed before the migration was applied.
    expect(r.stdout.indexOf(printed![0])).toBeLessThan(r.stdout.indexOf(`applied ${migrations[migrations.length - 1].name}`));
    expect(await appliedCount()).toBe(migrations.length);

    const list = await runProcess(path.join(PG_BIN, 'pg_restore'), ['--list', file], { cwd: dir, env: process.env });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/TABLE DATA drizzle __drizzle_migrations/);
    // The history in the backup: every migration but the last, as before this run.
    const history = await runProcess(path.join(PG_BIN, 'pg_restore'), ['--data-only', '--schema=drizzle', '--file=-', file], { cwd: dir, env: process.env });
    expect(history.code).toBe(0);
    const copy = /^COPY drizzle\.__drizzle_migrations .*\n([\s\S]*?)^\\\.$/m.exec(history.stdout);
    expect(copy).not.toBeNull();
    expect(copy![1].split('\n').filter(Boolean)).toHaveLength(migrations.length - 1);
    expect(fs.existsSync(`${file}.sha256`)).toBe(true);
  });

  test('nothing pending: no backup, and the step succeeds', async () => {
    const before = dumps();
    const r = await runStep();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no migration is pending: no backup taken');
    expect(r.stdout).not.toMatch(/^backup before migrating:/m);
    expect(r.stdout).toMatch(/is up to date \(\d+ migrations applied\)/);
    expect(dumps()).toEqual(before);
  });

  test('a new database (no migration applied yet, no table): no backup, and every migration applied', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-backup-first-new-'));
    try {
      const r = await runStep({ at: fresh, backupDir: empty });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('no migration applied yet: no backup taken');
      expect(r.stdout).not.toMatch(/^backup before migrating:/m);
      expect(fs.readdirSync(empty)).toEqual([]);
      const freshUrl = atServer(run.outputs.migratorDatabaseUrl.value as string, fresh.port, fresh.host);
      const n = await withClient(freshUrl, async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')).rows[0].n);
      expect(n).toBe(migrations.length);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('runAbortable', () => {
  test('a signal aborted before the program started stops it at once', async () => {
    let killed = false;
    let finish: (out: string) => void = () => undefined;
    const run = { done: new Promise<string>((resolve) => (finish = resolve)), kill: () => ((killed = true), finish('')) };
    await Promise.race([runAbortable(run, AbortSignal.abort()), new Promise((resolve) => setTimeout(resolve, 2000))]);
    expect(killed).toBe(true);
  });
});
