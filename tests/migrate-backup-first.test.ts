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
import { ROOT } from '../common/paths';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { applyDeclaredDatabase } from './helpers/database-twin';
import { runProcess, withClient, type CommandResult } from './helpers/db';
import { freePort, PG_BIN, startPostgres, type PostgresServer } from './helpers/postgres';
import { one, runProgram, type ProgramRun } from './helpers/program';
import { plain } from './helpers/pulumi-mocks';

jest.setTimeout(180_000);

const STACK = 'staging';
let server: PostgresServer;
let run: ProgramRun;
let step: { create: string; interpreter: string[]; environment: { DATABASE_URL: string; BACKUP_DATABASE_URL: string } };
let dir: string;
const migrations = readMigrations();

const atServer = (url: string, port = server.port) => {
  const u = new URL(url);
  u.hostname = server.host;
  u.port = String(port);
  return u.toString();
};

/** The step's script with `--backup-dir DIR` after its `--stack`, run as the command provider runs it. */
function runStep(options: { backupDir?: string; env?: Record<string, string> } = {}): Promise<CommandResult> {
  const flag = `--backup-first --stack ${STACK}`;
  if (!step.create.includes(flag)) throw new Error(`the step does not back up first: ${step.create}`);
  const script = step.create.replace(flag, `${flag} --backup-dir '${options.backupDir ?? dir}'`);
  const [shell, ...shellArgs] = step.interpreter;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PG_BIN,
    DATABASE_URL: atServer(step.environment.DATABASE_URL),
    BACKUP_DATABASE_URL: atServer(step.environment.BACKUP_DATABASE_URL),
    ...options.env,
  };
  delete env.MIGRATOR_DATABASE_URL;
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
  [server, run] = await Promise.all([startPostgres(), runProgram(STACK)]);
  step = plain(one(run, 'command:local:Command', 'migrate-and-seed').raw);
  await applyDeclaredDatabase(run, (database) => server.url(database));
  // Every migration but the last one applied: one pending, and a history to find in the backup.
  await withClient(migratorUrl(), (c) => migrate(c, migrations.slice(0, -1)));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-backup-first-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('db:migrate --backup-first, as the staging post-deploy step runs it', () => {
  test('the step backs up first and names the stack: its script and the backup role\'s login', () => {
    expect(step.create).toMatch(/^npm run --silent db:migrate -- --backup-first --stack staging && npm run --silent db:seed$/);
    expect(new URL(step.environment.BACKUP_DATABASE_URL).username).toBe('pa_backup');
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
    const r = await runStep();
    expect(r.code).toBe(0);
    expectNoPassword(r);
    const printed = /^backup before migrating: (.+)$/m.exec(r.stdout);
    expect(printed).not.toBeNull();
    const file = printed![1];
    expect(path.dirname(file)).toBe(dir);
    expect(path.basename(file)).toMatch(/^staging-\d{8}T\d{6}Z\.dump$/);
    expect(dumps()).toEqual([path.basename(file)]);
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
});
