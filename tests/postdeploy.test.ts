import { Client } from 'pg';
import { ROOT } from '../common/paths';
import { readMigrations } from '../lib/migrations/files';
import { AI_PROVIDERS } from '../schema/seeds/reference';
import { DEMO_USER_ID } from '../schema/seeds/demo';
import { POSTGRES } from '../stacks/services';
import { ROLES } from '../common/names';
import { applyDeclaredDatabase } from './helpers/database-twin';
import { runProcess, tableContents, withClient, type CommandResult } from './helpers/db';
import { freePort, startPostgres, type PostgresServer } from './helpers/postgres';
import { one, runProgram, type ProgramRun } from './helpers/program';
import { postDeployScript } from '../stacks/postdeploy';
import { plain } from './helpers/pulumi-mocks';

/**
 * The dev stack's post-deploy step, run for real: the database, roles and privileges it declares
 * applied to a throwaway PostgreSQL 15, then the exact command, interpreter, folder and environment
 * of its local.Command, with only the host and port of DATABASE_URL moved to the test server.
 */

jest.setTimeout(120_000);

let server: PostgresServer;
let dev: ProgramRun;
let step: { create: string; interpreter: string[]; environment: { DATABASE_URL: string; MIGRATOR_DATABASE_URL: string } };

/** An output URL (or the command's) pointed at the test server. */
const atServer = (url: string, port = server.port) => {
  const u = new URL(url);
  u.hostname = server.host;
  u.port = String(port);
  return u.toString();
};

/**
 * The step as the command provider runs it: its interpreter and script, in the folder Pulumi starts
 * its plugins in, the project's (it declares no `dir`: pulumi/pulumi
 * sdk/go/common/resource/plugin/plugin.go, `cmd.Dir = pwd`).
 */
function runStep(databaseUrl: string, deployerEnv: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  const [shell, ...shellArgs] = step.interpreter;
  // The provider's order (pulumi/pulumi-command v1.2.1, provider/pkg/provider/local/commandOutputs.go):
  // the deployer's whole environment, then the step's own, which wins.
  const own = Object.fromEntries(Object.keys(step.environment).map((k) => [k, databaseUrl]));
  return runProcess(shell, [...shellArgs, step.create], { cwd: ROOT, env: { ...process.env, ...deployerEnv, ...own } });
}

const TABLES = async (c: Client) =>
  (await c.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.t);

beforeAll(async () => {
  [server, dev] = await Promise.all([startPostgres(), runProgram('dev')]);
  step = plain(one(dev, 'command:local:Command', 'migrate-and-seed').raw);
  await applyDeclaredDatabase(dev, (database) => server.url(database));
});
afterAll(async () => server?.stop());

describe('the post-deploy step of the dev stack, on a real PostgreSQL', () => {
  const password = () => new URL(step.environment.DATABASE_URL).password;

  test('migrates and seeds (demo data included) as the migrator, and prints no password', async () => {
    const result = await runStep(atServer(step.environment.DATABASE_URL));
    expect(result).toMatchObject({ code: 0 });
    expect(`${result.stdout}${result.stderr}`).not.toContain(password());
    expect(result.stdout).toMatch(/applied \d+ migration/);
    await withClient(atServer(dev.outputs.migratorDatabaseUrl.value as string), async (c) => {
      const { rows } = await c.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
      expect(rows[0].n).toBe(readMigrations().length);
      expect((await c.query('SELECT count(*)::int AS n FROM ai_providers')).rows[0].n).toBe(AI_PROVIDERS.length);
      expect((await c.query('SELECT count(*)::int AS n FROM users WHERE id = $1', [DEMO_USER_ID])).rows[0].n).toBe(1);
      // Every table belongs to the migrator, which is no superuser.
      const owners = await c.query(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'`);
      expect(owners.rows).toEqual([{ tableowner: ROLES.migrator }]);
    });
  });

  test('a second run changes nothing', async () => {
    const url = atServer(dev.outputs.migratorDatabaseUrl.value as string);
    const snapshot = () =>
      withClient(url, async (c) => {
        const contents: Record<string, string[]> = {};
        for (const t of await TABLES(c)) contents[t] = await tableContents(c, t);
        return contents;
      });
    const before = await snapshot();
    const result = await runStep(atServer(step.environment.DATABASE_URL));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/is up to date \(\d+ migrations applied\)/);
    expect(await snapshot()).toEqual(before);
  });

  test('a MIGRATOR_DATABASE_URL the deployer exported does not choose the database: the step sets its own', async () => {
    expect(step.environment.MIGRATOR_DATABASE_URL).toBe(step.environment.DATABASE_URL);
    const elsewhere = 'postgres://someone:elsewhere-password@elsewhere.invalid:1/another_database';
    const result = await runStep(atServer(step.environment.DATABASE_URL), { MIGRATOR_DATABASE_URL: elsewhere });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/is up to date \(\d+ migrations applied\)/);
    expect(`${result.stdout}${result.stderr}`).not.toContain('elsewhere');
  });

  test('the app role reads and writes every table the migrations created, and can change no schema', async () => {
    await withClient(atServer(dev.outputs.directDatabaseUrl.value as string), async (c) => {
      for (const t of await TABLES(c)) await c.query(`SELECT 1 FROM "${t}" LIMIT 1`);
      await c.query(`INSERT INTO users (email, name) VALUES ('app-role@example.com', 'App role')`);
      await c.query(`UPDATE users SET name = 'Renamed' WHERE email = 'app-role@example.com'`);
      await c.query(`DELETE FROM users WHERE email = 'app-role@example.com'`);
      await expect(c.query('CREATE TABLE app_made (id int)')).rejects.toThrow(/permission denied for schema public/);
      await expect(c.query('ALTER TABLE users ADD COLUMN x int')).rejects.toThrow(/must be owner of table users/);
      await expect(c.query('TRUNCATE users CASCADE')).rejects.toThrow(/permission denied/);
      await expect(c.query('DROP TABLE documents')).rejects.toThrow(/must be owner of table documents/);
    });
  });

  test('the read-only role reads and cannot write', async () => {
    await withClient(atServer(dev.outputs.readonlyDatabaseUrl.value as string), async (c) => {
      expect((await c.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBeGreaterThan(0);
      await expect(c.query(`INSERT INTO users (email, name) VALUES ('ro@example.com', 'RO')`)).rejects.toThrow(/permission denied for table users/);
      await expect(c.query(`UPDATE users SET name = 'x'`)).rejects.toThrow(/permission denied for table users/);
    });
  });

  test('no role but the server\'s own superuser is a superuser; none may create roles or databases', async () => {
    await withClient(server.url(), async (c) => {
      const { rows } = await c.query(`SELECT rolname FROM pg_roles WHERE rolsuper OR rolcreaterole OR rolcreatedb ORDER BY 1`);
      expect(rows.map((r) => r.rolname)).toEqual([POSTGRES.superuser]);
      const { rows: ours } = await c.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1)`, [Object.values(ROLES)]);
      expect(ours[0].n).toBe(Object.values(ROLES).length);
    });
  });

  test('a failure fails the step with the runner\'s own message, and no password', async () => {
    const closed = await freePort();
    const result = await runStep(atServer(step.environment.DATABASE_URL, closed));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/db:migrate: could not connect|connection refused|ECONNREFUSED/i);
    expect(`${result.stdout}${result.stderr}`).not.toContain(password());
  });
});

describe('backupBeforeMigrate: the post-deploy step backs up first (under mocks)', () => {
  test('on: `--backup-first --stack <stack>` and the backup role\'s URL, a secret; off (dev\'s default): neither', async () => {
    expect(step.create).not.toContain('--backup-first');
    expect(Object.keys(step.environment)).toEqual(['DATABASE_URL', 'MIGRATOR_DATABASE_URL']);
    const on = await runProgram('dev', { config: { backupBeforeMigrate: 'true' } });
    const declared = one(on, 'command:local:Command', 'migrate-and-seed');
    const c = plain(declared.raw);
    expect(c.create).toBe('npm run --silent db:migrate -- --backup-first --stack dev && npm run --silent db:seed -- --demo');
    expect(c.environment).toEqual({
      DATABASE_URL: on.outputs.migratorDatabaseUrl.value,
      MIGRATOR_DATABASE_URL: on.outputs.migratorDatabaseUrl.value,
      BACKUP_DATABASE_URL: on.outputs.backupDatabaseUrl.value,
    });
    expect(new URL(c.environment.BACKUP_DATABASE_URL).username).toBe(ROLES.backup);
    // Turning it on or off changes the script and the environment, never the triggers: an update
    // (the provider runs `create` again: nothing pending, so no backup and no migration), not a replacement.
    expect(c.triggers).toEqual(plain(one(dev, 'command:local:Command', 'migrate-and-seed').raw).triggers);
  });

  test('a stack name that could not name a backup file is refused', () => {
    expect(postDeployScript(false, 'prod')).toBe('npm run --silent db:migrate -- --backup-first --stack prod && npm run --silent db:seed');
    expect(() => postDeployScript(false, 'a b; rm -rf /')).toThrow(/cannot name a backup file/);
  });
});
