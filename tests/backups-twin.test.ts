import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client as MinioClient } from 'minio';
import { Client } from 'pg';
import { DUMP_EXTENSION, CHECKSUM_EXTENSION } from '../lib/backups/files';
import { BACKUP_DOCKERFILE } from '../stacks/containers/backups';
import { readMigrations } from '../lib/migrations/files';
import { migrate, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../lib/migrations/runner';
import { ROOT } from '../common/paths';
import { READ_ALL_DATA_ROLE } from '../stacks/inside/database';
import { BACKUPS, MINIO, POSTGRES } from '../stacks/services';
import { ROLES, STORAGE_USERS } from '../common/names';
import { applyDeclaredDatabase, prepareStep, runDeclaredCommand } from './helpers/database-twin';
import { runProcess } from './helpers/db';
import { startMinio, type MinioServer } from './helpers/minio';
import { createUser } from './helpers/minio-admin';
import { PG_BIN, startPostgres, type PostgresServer } from './helpers/postgres';
import { one, runProgram, SHARED_STACK_ENV, type ProgramRun } from './helpers/program';
import { plain } from './helpers/pulumi-mocks';
import { containerSpec, TwinHost, type ContainerSpec } from './helpers/twin';

/**
 * Scheduled backups as the staging stack declares them, run here: its roles and grants
 * (database-twin.ts) on a real PostgreSQL 15 that the migrations have filled, its backup user and
 * policy on a real MinIO, and the backup container's command line, environment, credentials file
 * and health check run by the real programs (node, pg_dump). Only what Docker would do is
 * translated: container paths, the network's aliases and ports.
 */

jest.setTimeout(120_000);

const STACK = 'staging';
let pg: PostgresServer;
let minio: MinioServer;
let staging: ProgramRun;

/** A stack output's URL, pointed at the test server. */
const atServer = (output: string) => {
  const u = new URL(staging.outputs[output].value as string);
  u.hostname = pg.host;
  u.port = String(pg.port);
  return u;
};

/** Runs `work` as the role of a stack output's URL, or as the test server's superuser (`superuser`). */
async function asRole<T>(output: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: output === 'superuser' ? pg.url() : atServer(output).toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const DRIZZLE_TABLE = `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`;

/**
 * The backup image's working directory, as its Dockerfile fills it, in `dir`: its first stage
 * bundles the tool with every library it uses (cli/bundle.js), the last copies the bundle in and
 * checks that the backup command starts. Here the checkout's owner writes the bundle straight into
 * `dir`, a folder of the twin's own, and the container's unprivileged user reads it there, never
 * the checkout: that may sit in a folder only its owner can enter (a CI job's `mktemp -d`).
 */
async function imageWorkdir(dir: string): Promise<void> {
  const dockerfile = fs.readFileSync(path.join(ROOT, BACKUP_DOCKERFILE), 'utf8');
  // What this stands in for; should the image be made another way, this must follow it.
  expect(dockerfile).toContain('\nRUN node cli/bundle.js /out\n');
  expect(dockerfile).toContain('\nCOPY --from=bundle /out/ ./\n');
  expect(dockerfile).toContain(`\nRUN node ${BACKUPS.tool} backup --help > /dev/null\n`);
  const bundle = await runProcess(process.execPath, ['cli/bundle.js', dir], { cwd: ROOT, env: process.env });
  expect({ code: bundle.code, stderr: bundle.stderr }).toEqual({ code: 0, stderr: '' });
  const check = await runProcess(process.execPath, [BACKUPS.tool, 'backup', '--help'], { cwd: dir, env: process.env });
  expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: '' });
}

const inputsOf = (type: string, name: string) => plain(one(staging, type, name).raw);

beforeAll(async () => {
  [pg, minio, staging] = await Promise.all([startPostgres(), startMinio(), runProgram(STACK, { env: SHARED_STACK_ENV })]);
  await applyDeclaredDatabase(staging, (database) => pg.url(database));
  await asRole('migratorDatabaseUrl', (c) => migrate(c, readMigrations()));
  await asRole('directDatabaseUrl', (c) => c.query(`INSERT INTO users (email, name) VALUES ('backup-role@example.com', 'Backed up')`));
  // What the stack declares inside MinIO for backups: the buckets (its prepare step, run for real), and the user with its policy.
  const buckets = await runDeclaredCommand(prepareStep(staging, 'Storage'), 'create', {
    S3_ENDPOINT: minio.url,
    S3_ADMIN_ACCESS_KEY: minio.rootUser,
    S3_ADMIN_SECRET_KEY: minio.rootPassword,
  });
  if (buckets.code !== 0) throw new Error(buckets.stderr);
  const policy = inputsOf('minio:index/iamPolicy:IamPolicy', 'backup-policy');
  const user = inputsOf('minio:index/iamUser:IamUser', 'backup-user');
  await createUser(minio, { accessKey: user.name, secretKey: user.secret, policyName: policy.name, policy: JSON.parse(policy.policy) });
});
afterAll(async () => Promise.all([pg?.stop(), minio?.stop()]));

describe('the backup role', () => {
  test('is a member of pg_read_all_data and of nothing else, with no attribute beyond LOGIN', async () => {
    await asRole('superuser', async (c) => {
      const { rows } = await c.query(
        `SELECT r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
                array(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS member_of
           FROM pg_roles r WHERE r.rolname = $1`,
        [ROLES.backup],
      );
      expect(rows).toEqual([
        { rolcanlogin: true, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolbypassrls: false, member_of: [READ_ALL_DATA_ROLE] },
      ]);
    });
  });

  test('reads every table of every schema, drizzle\'s migration table and its sequence included', async () => {
    await asRole('backupDatabaseUrl', async (c) => {
      const { rows: tables } = await c.query<{ t: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      );
      expect(tables.map((r) => r.t)).toEqual(expect.arrayContaining(['public.users', DRIZZLE_TABLE]));
      for (const { t } of tables) await c.query(`SELECT * FROM ${t} LIMIT 1`);
      expect((await c.query(`SELECT name FROM users WHERE email = 'backup-role@example.com'`)).rows).toEqual([{ name: 'Backed up' }]);
      expect((await c.query(`SELECT count(*)::int AS n FROM ${DRIZZLE_TABLE}`)).rows[0].n).toBe(readMigrations().length);
      expect((await c.query(`SELECT last_value::int AS n FROM ${DRIZZLE_TABLE}_id_seq`)).rows[0].n).toBe(readMigrations().length);
    });
  });

  test('changes nothing: no INSERT, UPDATE, DELETE or TRUNCATE, no sequence step, no CREATE anywhere', async () => {
    await asRole('backupDatabaseUrl', async (c) => {
      for (const [sql, refusal] of [
        [`INSERT INTO users (email, name) VALUES ('intruder@example.com', 'x')`, /permission denied for table users/],
        [`UPDATE users SET name = 'x'`, /permission denied for table users/],
        [`DELETE FROM users`, /permission denied for table users/],
        [`TRUNCATE users CASCADE`, /permission denied for table users/],
        [`DELETE FROM ${DRIZZLE_TABLE}`, new RegExp(`permission denied for table ${MIGRATIONS_TABLE}`)],
        [`SELECT nextval('${DRIZZLE_TABLE}_id_seq')`, new RegExp(`permission denied for sequence ${MIGRATIONS_TABLE}_id_seq`)],
        ['CREATE TABLE public.backup_made (id int)', /permission denied for schema public/],
        [`CREATE TABLE ${MIGRATIONS_SCHEMA}.backup_made (id int)`, new RegExp(`permission denied for schema ${MIGRATIONS_SCHEMA}`)],
        ['CREATE SCHEMA backup_made', /permission denied for database/],
      ] as const) {
        await expect([sql, await c.query(sql).then(() => 'allowed', (e: Error) => e.message)]).toEqual([sql, expect.stringMatching(refusal)]);
      }
    });
    await asRole('migratorDatabaseUrl', async (c) => {
      expect((await c.query(`SELECT count(*)::int AS n FROM users WHERE email = 'backup-role@example.com'`)).rows[0].n).toBe(1);
    });
  });
});

describe('the backup container, run here', () => {
  let host: TwinHost;
  let spec: ContainerSpec;
  let backups: string;
  let child: ChildProcess;
  let log: () => string;
  const secrets = () => [atServer('backupDatabaseUrl').password, staging.outputs.s3BackupSecretKey.value as string];

  /** The stack's network as seen from here: each alias:port is a local server. */
  const network = (text: string) =>
    text
      .split(`${POSTGRES.alias}:${POSTGRES.port}`)
      .join(`${pg.host}:${pg.port}`)
      .split(`${MINIO.alias}:${MINIO.apiPort}`)
      .join(`${minio.endPoint}:${minio.port}`);

  beforeAll(async () => {
    const declared = containerSpec(one(staging, 'docker:index/container:Container', 'backups'));
    spec = { ...declared, uploads: declared.uploads.map((u) => ({ ...u, content: network(u.content) })) };
    host = await new TwinHost().init();
    backups = host.mapPath(BACKUPS.dir);
    fs.mkdirSync(backups, { recursive: true });
    host.chownTree(backups);
    host.writeUploads(spec);
    const workdir = host.mapPath(BACKUPS.appDir);
    await imageWorkdir(workdir);
    const [binary, ...args] = spec.command;
    const env = Object.fromEntries(Object.entries(spec.envs).map(([k, v]) => [k, network(v)]));
    // The tool's path is relative to the image's WORKDIR.
    const server = host.start('backups', binary, args.map((a) => (a === BACKUPS.tool ? path.join(workdir, a) : host.translate(a))), host.env(env));
    ({ child, log } = server);
    await host.healthy(spec.healthcheck, server, 60_000);
  });
  afterAll(async () => host?.stop());

  test('the first backup is taken at once: a checked dump of the database in the volume, and in the bucket', async () => {
    const names = fs.readdirSync(backups).sort();
    const dump = names.find((n) => n.endsWith(DUMP_EXTENSION))!;
    expect(dump).toMatch(new RegExp(`^${STACK}-\\d{8}T\\d{6}Z\\${DUMP_EXTENSION}$`));
    expect(names).toEqual(expect.arrayContaining([dump, `${dump}${CHECKSUM_EXTENSION}`]));
    const list = await runProcess(path.join(PG_BIN, 'pg_restore'), ['--list', path.join(backups, dump)], { cwd: ROOT, env: process.env });
    expect(list.code).toBe(0);
    for (const data of ['TABLE DATA public users', `TABLE DATA ${MIGRATIONS_SCHEMA} ${MIGRATIONS_TABLE}`]) expect(list.stdout).toContain(data);
    // Listed with the backup key itself, which may list but not read.
    const bucket = spec.envs.S3_BUCKET_BACKUPS;
    const backupKey = new MinioClient({
      endPoint: minio.endPoint, port: minio.port, useSSL: false, region: spec.envs.S3_REGION,
      accessKey: STORAGE_USERS.backup, secretKey: staging.outputs.s3BackupSecretKey.value as string,
    });
    const listed: string[] = [];
    for await (const o of backupKey.listObjectsV2(bucket, '', true)) listed.push((o as { name: string }).name);
    expect(listed.sort()).toEqual([dump, `${dump}${CHECKSUM_EXTENSION}`]);
  });

  test('stops cleanly on SIGTERM, having printed no secret', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const secret of secrets()) expect(log()).not.toContain(secret);
  });
});

test('pg_dump (PostgreSQL 15) dumps the whole database as the backup role', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-backup-role-'));
  try {
    const url = atServer('backupDatabaseUrl');
    const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
    url.password = '';
    const file = path.join(dir, `${STACK}${DUMP_EXTENSION}`);
    const dump = await runProcess(path.join(PG_BIN, 'pg_dump'), ['--format=custom', `--file=${file}`, `--dbname=${url}`], { cwd: dir, env });
    expect(dump).toMatchObject({ code: 0, stderr: '' });
    const list = await runProcess(path.join(PG_BIN, 'pg_restore'), ['--list', file], { cwd: dir, env });
    expect(list.code).toBe(0);
    for (const data of ['TABLE DATA public users', `TABLE DATA ${MIGRATIONS_SCHEMA} ${MIGRATIONS_TABLE}`, `SEQUENCE SET ${MIGRATIONS_SCHEMA} ${MIGRATIONS_TABLE}_id_seq`]) {
      expect(list.stdout).toContain(data);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
