/**
 * `npm run db:backup` and `npm run db:restore` against a real PostgreSQL 15 holding what the dev
 * stack declares inside it (roles, database, grants), migrated and seeded with the demo data: the
 * backup runs as the stack's backup role, the restore as the server's admin.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client as MinioClient } from 'minio';
import { Client } from 'pg';
import { backupsToRemove, CHECKSUM_EXTENSION, checksumLine, listBackups, sha256File, type BackupFile } from '../lib/backups/files';
import { LAST_SUCCESS_FILE } from '../common/names';
import { prune } from '../lib/backups/dump';
import { readMigrations } from '../lib/migrations/files';
import { ROOT } from '../common/paths';
import { migrate } from '../lib/migrations/runner';
import { seed } from '../lib/migrations/seeder';
import { APP_ENV, bucketVariable } from '../common/names';
import { POSTGRES, S3_REGION } from '../stacks/services';
import { DATABASE_NAME, ROLES } from '../common/names';
import { backupPolicy } from '../stacks/inside/storage-policies';
import { applyDeclaredDatabase } from './helpers/database-twin';
import { npmRun, type CommandResult } from './helpers/db';
import { startMinio, type MinioServer } from './helpers/minio';
import { createUser } from './helpers/minio-admin';
import { freePort, PG_BIN, startPostgres, type PostgresServer } from './helpers/postgres';
import { runProgram, type ProgramRun } from './helpers/program';

const STACK = 'dev';
let server: PostgresServer;
let run: ProgramRun;
let dir: string;

/** A stack output URL, pointed at the test server's port instead of the stack's host port. */
function outputUrl(name: string, database?: string): string {
  const url = new URL(run.outputs[name].value as string);
  url.port = String(server.port);
  if (database) url.pathname = `/${database}`;
  return url.toString();
}

const backupUrl = () => outputUrl('backupDatabaseUrl');
const adminUrl = () => server.url();
const secrets = () => [server.password, new URL(backupUrl()).password];

async function query<T extends Record<string, unknown>>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: server.url(database) });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Every table of the schema and drizzle's history: its row count and a digest of its rows in a stable order. */
async function contents(database: string): Promise<Record<string, { rows: number; md5: string }>> {
  const tables = await query<{ name: string }>(
    database,
    `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
      WHERE table_schema IN ('public', 'drizzle') AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const { name } of tables) {
    const [r] = await query<{ rows: number; md5: string }>(
      database,
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${name} t`,
    );
    out[name] = r;
  }
  return out;
}

/** The database's schema as pg_dump prints it, less the random key of psql's \\restrict guard. */
function schemaOf(database: string): string {
  return execFileSync(path.join(PG_BIN, 'pg_dump'), ['--schema-only', `--dbname=${server.url(database)}`], { encoding: 'utf8' }).replace(/^\\(un)?restrict .*$/gm, '');
}

/**
 * The schema a plain pg_restore makes of `file`, in a database of its own, then dropped. (Not the
 * source's: PostgreSQL prints some constraints differently once restored, `IN` lists of varchar say.)
 */
async function plainRestoreSchema(file: string): Promise<string> {
  const database = `plain_${randomBytes(3).toString('hex')}`;
  await query('postgres', `CREATE DATABASE ${database} TEMPLATE template0`);
  try {
    execFileSync(path.join(PG_BIN, 'pg_restore'), ['--exit-on-error', `--dbname=${server.url(database)}`, file]);
    return schemaOf(database);
  } finally {
    await query('postgres', `DROP DATABASE ${database}`);
  }
}

async function databases(): Promise<string[]> {
  return (await query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname);
}

function backup(args: string[] = [], env: Record<string, string | undefined> = {}): Promise<CommandResult> {
  return npmRun('db:backup', ['--stack', STACK, '--dir', dir, ...args], { DATABASE_URL: backupUrl(), PG_BIN, ...env });
}

function restore(args: string[], env: Record<string, string | undefined> = {}): Promise<CommandResult> {
  return npmRun('db:restore', args, { DATABASE_URL: adminUrl(), PG_BIN, ...env });
}

function expectNoSecret(r: CommandResult): void {
  for (const secret of secrets()) expect(`${r.stdout}\n${r.stderr}`).not.toContain(secret);
}

/** A copy of a backup and its checksum file under another name of the stack, `seconds` older. */
function copyBackup(b: BackupFile, seconds: number): BackupFile {
  const taken = new Date(b.takenAt.getTime() - seconds * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const name = `${STACK}-${taken}.dump`;
  fs.copyFileSync(b.path, path.join(dir, name));
  fs.writeFileSync(path.join(dir, `${name}${CHECKSUM_EXTENSION}`), fs.readFileSync(b.checksumPath, 'utf8').replace(b.name, name));
  return listBackups(dir, STACK).find((x) => x.name === name)!;
}

/** Starts a command of cli/ (as npm runs it) that runs on; `until(pattern)` resolves once its output matches. */
function startCommand(command: string, args: string[], env: Record<string, string>) {
  const child = spawn('node', ['cli/launch.js', command, ...args], {
    cwd: ROOT,
    env: { ...process.env, PG_BIN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: (() => void)[] = [];
  const take = (d: Buffer) => {
    output += d.toString();
    waiters.forEach((w) => w());
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const until = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within 30 s in:\n${output}`)), 30_000);
      const check = () => {
        if (pattern.test(output)) {
          clearTimeout(timer);
          resolve(output);
        }
      };
      waiters.push(check);
      check();
    });
  return { child, until, exited, output: () => output };
}

function corrupt(file: string): void {
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  fs.writeFileSync(file, bytes);
}

beforeAll(async () => {
  server = await startPostgres();
  run = await runProgram(STACK);
  await applyDeclaredDatabase(run, (database) => server.url(database));
  const migrator = new Client({ connectionString: outputUrl('migratorDatabaseUrl') });
  await migrator.connect();
  try {
    const migrations = readMigrations();
    await migrate(migrator, migrations);
    await seed(migrator, migrations, { demo: true });
  } finally {
    await migrator.end();
  }
}, 120_000);

afterAll(async () => server?.stop());

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-backups-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('npm run db:backup', () => {
  test('writes a custom-format dump named after the stack and the UTC time, with its sha256, readable only by its owner', async () => {
    const before = Date.now();
    const r = await backup(['--progress', '0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [b, ...others] = listBackups(dir, STACK);
    expect(others).toEqual([]);
    expect(b.name).toMatch(new RegExp(`^${STACK}-\\d{8}T\\d{6}Z\\.dump$`));
    expect(b.takenAt.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(fs.readFileSync(b.path).subarray(0, 5).toString()).toBe('PGDMP');
    const sha = require('node:crypto').createHash('sha256').update(fs.readFileSync(b.path)).digest('hex');
    expect(fs.readFileSync(b.checksumPath, 'utf8')).toBe(`${sha}  ${b.name}\n`);
    expect(fs.statSync(b.path).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).sort()).toEqual([LAST_SUCCESS_FILE, b.name, `${b.name}${CHECKSUM_EXTENSION}`].sort());
    // Progress: one line per table, each named, counting up to the total.
    const lines = r.stdout.split('\n').filter((l) => l.includes('dumping'));
    const tables = Object.keys(await contents(DATABASE_NAME)).length;
    expect(lines.length).toBe(tables);
    expect(lines[lines.length - 1]).toMatch(new RegExp(`\\(table ${tables} of ${tables}\\)`));
    expect(r.stdout).toContain('S3 settings are not set');
    expectNoSecret(r);
  });

  test('keeps exactly --keep backups of the stack, the newest, and leaves other files alone', async () => {
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    fs.writeFileSync(path.join(dir, 'staging-20200101T000000Z.dump'), 'another stack');
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await backup(['--keep', '2']);
      expect(r.code).toBe(0);
      names.push(listBackups(dir, STACK)[0].name);
    }
    expect(new Set(names).size).toBe(3);
    expect(listBackups(dir, STACK).map((b) => b.name)).toEqual([names[2], names[1]]);
    expect(fs.existsSync(path.join(dir, `${names[0]}${CHECKSUM_EXTENSION}`))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'notes.txt'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'staging-20200101T000000Z.dump'))).toBe(true);
  });

  test('pruning never removes the newest valid backup, even when newer ones are corrupt', async () => {
    expect((await backup()).code).toBe(0);
    const valid = listBackups(dir, STACK)[0];
    const older = copyBackup(valid, 3600);
    const [newer, newest] = [copyBackup(valid, -30), copyBackup(valid, -60)];
    corrupt(newer.path);
    corrupt(newest.path);
    fs.rmSync(valid.path);
    fs.rmSync(valid.checksumPath);
    expect(listBackups(dir, STACK).map((b) => b.name)).toEqual([newest.name, newer.name, older.name]);

    const removed = await prune(dir, STACK, 1);
    expect(removed.map((b) => b.name)).toEqual([newer.name]);
    expect(listBackups(dir, STACK).map((b) => b.name)).toEqual([newest.name, older.name]);
  });

  /** `db:backup` with a pg_dump that runs `script` (sh) instead, beside the real pg_restore: it must fail with `message`, keeping nothing. */
  async function backupFailsWith(script: string, message: RegExp): Promise<void> {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-bin-'));
    try {
      fs.writeFileSync(path.join(bin, 'pg_dump'), `#!/bin/sh\n${script}`, { mode: 0o755 });
      fs.symlinkSync(path.join(PG_BIN, 'pg_restore'), path.join(bin, 'pg_restore'));
      const r = await backup(['--progress', '0'], { PG_BIN: bin });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(fs.readdirSync(dir)).toEqual([]);
      expectNoSecret(r);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  }

  test('a dump cut short after pg_dump reported success is discarded, not kept as a backup', async () => {
    // A pg_dump that succeeds, then loses the second half of its file: only the read-back can tell.
    await backupFailsWith(
      `"${PG_BIN}/pg_dump" "$@" || exit $?\nfor a in "$@"; do case "$a" in --file=*) f="\${a#--file=}";; esac; done\n` +
        `[ -n "$f" ] && truncate -s $(( $(stat -c %s "$f") / 2 )) "$f"\nexit 0\n`,
      /^error: the dump was written but does not read back whole, so it was discarded: /,
    );
  });

  test('a dump whose table of contents does not locate its data (pg_dump writing through a pipe) is discarded', async () => {
    // A pg_dump that writes its archive through a pipe, which it cannot seek back in to record where each table's data starts.
    await backupFailsWith(
      `f=\nfor a in "$@"; do shift; case "$a" in --file=*) f="\${a#--file=}";; *) set -- "$@" "$a";; esac; done\n` +
        `[ -z "$f" ] && exec "${PG_BIN}/pg_dump" "$@"\n"${PG_BIN}/pg_dump" "$@" | cat > "$f"\n`,
      /^error: the dump was written but its table of contents does not locate its data, so it was discarded: its table of contents records no data offset for TABLE DATA .+ \(entry \d+\)/,
    );
  });

  test('a missing pg_dump of the server\'s major version is named, with the package to install; nothing is written', async () => {
    const r = await backup([], { PG_BIN: path.join(dir, 'no-such-bin') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`pg_dump of PostgreSQL ${POSTGRES.major} (the server's major version) is not in PG_BIN=`);
    expect(r.stderr).toContain(`apt-get install postgresql-client-${POSTGRES.major}`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('bad input is refused before anything is written', async () => {
    const cases: [string[], Record<string, string | undefined>, RegExp, number][] = [
      [['--keep', '0'], {}, /option '--keep <n>' argument '0' is invalid. must be a whole number of backups from 1/, 2],
      [['--every', '0'], {}, /option '--every <hours>' argument '0' is invalid. must be a number of hours from 0.001/, 2],
      [['--stack', 'a/b'], {}, /may hold only letters/, 2],
      [[], { S3_ENDPOINT: 'http://127.0.0.1:1' }, /to upload backups, set all of .*missing: S3_REGION, S3_BACKUP_ACCESS_KEY/, 1],
      [[], { DATABASE_URL: outputUrl('backupDatabaseUrl').replace(/:[^:@/]+@/, ':wrong@') }, /password authentication failed for user "pa_backup"/, 1],
    ];
    for (const [args, env, message, code] of cases) {
      const r = await backup(args, env);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code, stderr: expect.stringMatching(message) });
      expectNoSecret(r);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('npm run db:backup -- --every HOURS (what the scheduled backup container runs)', () => {
  /** db-backup as the scheduled container runs it, as the backup role, into this test's folder. */
  const start = (args: string[], env: Record<string, string>) =>
    startCommand('backup', ['--stack', STACK, '--dir', dir, ...args], { DATABASE_URL: backupUrl(), ...env });

  test('takes a backup at once, then one per period; SIGTERM stops it cleanly', async () => {
    const run = start(['--every', '0.001'], {});
    await run.until(/backup \S+ done in[\s\S]*backup \S+ done in/);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(listBackups(dir, STACK).length).toBeGreaterThanOrEqual(2);
    const last = fs.readFileSync(path.join(dir, LAST_SUCCESS_FILE), 'utf8');
    expect(last).toContain(listBackups(dir, STACK)[0].name);
    expect(run.output()).toContain('SIGTERM: stopping');
  });

  test('counts from the last success, so a restart does not dump at once; a failed backup is reported and retried', async () => {
    expect((await backup()).code).toBe(0);
    const restarted = start(['--every', '1'], {});
    await restarted.until(/next backup in 60 min/);
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
    expect(listBackups(dir, STACK).length).toBe(1);

    const failing = start(['--every', '0.001'], { DATABASE_URL: backupUrl().replace(/:[^:@/]+@/, ':wrong@') });
    await failing.until(/error: backup failed, trying again in \d+ s: [\s\S]*error: backup failed/);
    failing.child.kill('SIGTERM');
    expect(await failing.exited).toBe(0);
    expect(failing.output()).toMatch(/password authentication failed for user "pa_backup"/);
    expect(failing.output()).not.toContain(new URL(backupUrl()).password);
  });
});

describe('npm run db:backup to the backups bucket, with the backup credential', () => {
  let minio: MinioServer;
  let root: MinioClient;
  const bucket = 'test-backups';
  const credential = { accessKey: 'test-backup', secretKey: randomBytes(18).toString('base64url') };
  const s3 = (overrides: Record<string, string | undefined> = {}) => ({
    [APP_ENV.s3Endpoint]: minio.url,
    [APP_ENV.s3Region]: S3_REGION,
    [APP_ENV.s3BackupAccessKey]: credential.accessKey,
    [APP_ENV.s3BackupSecretKey]: credential.secretKey,
    [bucketVariable('backups')]: bucket,
    ...overrides,
  });

  beforeAll(async () => {
    minio = await startMinio();
    root = new MinioClient({ endPoint: minio.endPoint, port: minio.port, useSSL: false, region: S3_REGION, accessKey: minio.rootUser, secretKey: minio.rootPassword });
    await root.makeBucket(bucket, S3_REGION);
    await createUser(minio, { ...credential, policyName: 'test-backup', policy: backupPolicy(bucket) });
  }, 60_000);
  afterAll(async () => minio?.stop());

  async function objectText(name: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await root.getObject(bucket, name)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  test('uploads the dump and its checksum, byte for byte', async () => {
    const r = await backup([], s3());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [b] = listBackups(dir, STACK);
    expect(r.stdout).toContain(`uploaded ${b.name} and its checksum to s3://${bucket} at ${minio.url}`);
    expect((await objectText(b.name)).equals(fs.readFileSync(b.path))).toBe(true);
    expect((await objectText(`${b.name}${CHECKSUM_EXTENSION}`)).toString()).toBe(fs.readFileSync(b.checksumPath, 'utf8'));
    expect(r.stdout + r.stderr).not.toContain(credential.secretKey);
  });

  test('a wrong key, a missing bucket or a stopped store fails before pg_dump runs, naming the setting', async () => {
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [s3({ [APP_ENV.s3BackupSecretKey]: 'not-the-secret-key' }), /S3_BACKUP_SECRET_KEY is not the secret key of S3_BACKUP_ACCESS_KEY: check it/],
      [s3({ [APP_ENV.s3BackupAccessKey]: 'nobody' }), /the server knows no access key S3_BACKUP_ACCESS_KEY: check it/],
      [s3({ [bucketVariable('backups')]: 'no-such-bucket' }), /bucket "no-such-bucket" does not exist|may not do this/],
      [s3({ [APP_ENV.s3Endpoint]: `http://127.0.0.1:${await freePort()}` }), /cannot reach s3:\/\/test-backups at http:\/\/127.0.0.1:\d+: connection refused/],
    ];
    for (const [env, message] of cases) {
      const r = await backup([], env);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(message) });
      expect(r.stdout + r.stderr).not.toContain(credential.secretKey);
      expect(fs.readdirSync(dir)).toEqual([]);
    }
  });
});

describe('npm run db:restore', () => {
  test('restores the newest backup into a new database with identical rows in every table, and its owner and grants', async () => {
    expect((await backup()).code).toBe(0);
    const r = await restore(['--stack', STACK, '--dir', dir, '--database', 'restored_copy']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Each step says how long it took, in order.
    expect(r.stdout).toMatch(/ {2}schema created in \d+\.\d s\n(.*\n)* {2}rows loaded in \d+\.\d s, in \d+ sessions?\n(.*\n)* {2}indexes, keys and triggers built in \d+\.\d s\n/);
    const source = await contents(DATABASE_NAME);
    expect(Object.keys(source).length).toBeGreaterThanOrEqual(16);
    expect(Object.values(source).filter((t) => t.rows > 0).length).toBeGreaterThanOrEqual(10);
    expect(await contents('restored_copy')).toEqual(source);
    // Every entry of the archive, restored in one of the restore's three steps: types, functions, tables, indexes, keys, triggers, comments, grants.
    expect(schemaOf('restored_copy')).toEqual(await plainRestoreSchema(listBackups(dir, STACK)[0].path));
    const [access] = await query<Record<string, unknown>>(
      'postgres',
      `SELECT pg_get_userbyid(datdba) AS owner, has_database_privilege($1, 'restored_copy', 'CONNECT') AS app_connects
         FROM pg_database WHERE datname = 'restored_copy'`,
      [ROLES.app],
    );
    expect(access).toEqual({ owner: ROLES.migrator, app_connects: true });
    const [tables] = await query<Record<string, unknown>>('restored_copy', `SELECT has_table_privilege($1, 'public.users', 'INSERT') AS app_writes`, [ROLES.app]);
    expect(tables).toEqual({ app_writes: true });
    expect((await databases()).filter((d) => d.includes('__'))).toEqual([]);
    expectNoSecret(r);
  });

  test("splits each table's rows between the jobs' sessions (1 and 12), every byte kept: newlines, tabs, backslashes, a \\. value, multibyte text, a row longer than a read, empty tables, generated columns", async () => {
    await query('postgres', 'CREATE DATABASE awkward_source');
    await query(
      'awkward_source',
      `CREATE TABLE odd (id int PRIMARY KEY, v text, b bytea, j jsonb);
       INSERT INTO odd VALUES
         (1, E'line\\nbreak\\ttab\\\\backslash\\r', '\\x00ff0a5c2e', '{"a": "\\\\."}'),
         (2, E'\\\\.', NULL, NULL),
         (3, E'\\\\.\\n\\\\.\\n', '\\x5c2e0a', 'null'),
         (4, 'ünïcödé ✓ 日本語', '', '[]'),
         (5, repeat('long ', 400000), NULL, NULL),
         (6, '', NULL, NULL);
       CREATE TABLE empty_one (id int);
       CREATE TABLE many AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g;
       ALTER TABLE many ADD PRIMARY KEY (id);
       CREATE TABLE derived (id int, v text, n int GENERATED ALWAYS AS (length(v)) STORED);
       INSERT INTO derived (id, v) SELECT g, repeat('x', g % 50) FROM generate_series(1, 50000) g;`,
    );
    expect((await npmRun('db:backup', ['--stack', 'awkward', '--dir', dir], { DATABASE_URL: server.url('awkward_source'), PG_BIN })).code).toBe(0);
    const source = await contents('awkward_source');
    expect(source['public.odd']).toMatchObject({ rows: 6 });
    for (const jobs of [1, 12]) {
      const database = `awkward_${jobs}`;
      const r = await restore(['--stack', 'awkward', '--dir', dir, '--database', database, '--jobs', String(jobs)]);
      // Nothing on stderr, no warning either (12 sessions waiting for room at once).
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(await contents(database)).toEqual(source);
      expect(schemaOf(database)).toEqual(await plainRestoreSchema(listBackups(dir, 'awkward')[0].path));
      // Each session's COPY of the table is a transaction of its own: with 12 jobs, twelve took its rows (8 MB of them, 64 KiB a read).
      expect(await query(database, 'SELECT count(DISTINCT xmin::text)::int AS sessions FROM many')).toEqual([{ sessions: jobs }]);
    }
  });

  test('an archive whose rows are INSERT statements (pg_dump --inserts) is refused, saying why; nothing is changed', async () => {
    await query('postgres', 'CREATE DATABASE inserts_source');
    await query('inserts_source', 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    const file = path.join(dir, 'inserts.dump');
    execFileSync(path.join(PG_BIN, 'pg_dump'), ['--format=custom', '--inserts', `--file=${file}`, `--dbname=${server.url('inserts_source')}`]);
    fs.writeFileSync(`${file}${CHECKSUM_EXTENSION}`, checksumLine((await sha256File(file)).sha256, 'inserts.dump'));
    const before = await databases();
    const r = await restore(['--file', file, '--database', 'inserts_target']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `the restore failed, so "inserts_target" was left as it was: the backup's table data holds a statement other than COPY ("INSERT INTO public.t VALUES (1);"): ` +
        'db:restore loads only COPY data, as pg_dump writes it unless told --inserts. Restore this archive with pg_restore itself.',
    );
    expect(await databases()).toEqual(before);
  });

  test('refuses a non-empty database without --replace; with it, swaps the backup in', async () => {
    expect((await backup()).code).toBe(0);
    await restore(['--stack', STACK, '--dir', dir, '--database', 'target_db']).then((r) => expect(r.code).toBe(0));
    await query('target_db', `UPDATE users SET name = 'changed after the backup'`);
    const changed = await contents('target_db');

    const refused = await restore(['--stack', STACK, '--dir', dir, '--database', 'target_db']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/database "target_db" is not empty \(.*\); nothing was changed\. Pass --replace/);
    expect(await contents('target_db')).toEqual(changed);

    const replaced = await restore(['--stack', STACK, '--dir', dir, '--database', 'target_db', '--replace']);
    expect(replaced.code).toBe(0);
    expect(await contents('target_db')).toEqual(await contents(DATABASE_NAME));
    expect((await databases()).filter((d) => d.includes('__'))).toEqual([]);
  });

  test('a corrupt, truncated or unchecked backup is refused before anything is touched', async () => {
    expect((await backup()).code).toBe(0);
    const original = listBackups(dir, STACK)[0];
    await restore(['--file', original.path, '--database', 'kept_db']).then((r) => expect(r.code).toBe(0));
    await query('kept_db', `DELETE FROM feature_flags`);
    const kept = await contents('kept_db');
    const before = await databases();

    const flipped = copyBackup(original, 10);
    corrupt(flipped.path);
    const truncated = copyBackup(original, 20);
    fs.truncateSync(truncated.path, Math.floor(fs.statSync(truncated.path).size / 2));
    const unchecked = copyBackup(original, 30);
    fs.rmSync(unchecked.checksumPath);
    for (const [b, message] of [
      [flipped, /it is corrupt or truncated/],
      [truncated, /it is corrupt or truncated/],
      [unchecked, /its checksum file .* is missing/],
    ] as const) {
      const r = await restore(['--file', b.path, '--database', 'kept_db', '--replace']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('Nothing was changed');
    }
    expect(await contents('kept_db')).toEqual(kept);
    expect(await databases()).toEqual(before);
  });

  /** A backup (stack `stack`) of a database that `setup` made naming `role`, which is then dropped with it. */
  async function backupNamingAGoneRole(stack: string, role: string, setup: string): Promise<void> {
    const source = `${stack}_source`;
    await query('postgres', `CREATE ROLE ${role}`);
    await query('postgres', `CREATE DATABASE ${source}`);
    await query(source, setup);
    const r0 = await npmRun('db:backup', ['--stack', stack, '--dir', dir], { DATABASE_URL: server.url(source), PG_BIN });
    expect(r0.code).toBe(0);
    await query('postgres', `DROP DATABASE ${source}`);
    await query('postgres', `DROP ROLE ${role}`);
  }

  /** A database restored from the stack's newest backup, its contents and the server's databases, to compare after a failed restore over it. */
  async function restoredTarget(database: string) {
    expect((await backup()).code).toBe(0);
    await restore(['--stack', STACK, '--dir', dir, '--database', database]).then((r) => expect(r.code).toBe(0));
    return { kept: await contents(database), before: await databases() };
  }

  test('a restore that fails part-way leaves the target as it was and no temporary database behind', async () => {
    // A backup whose table (not database) belongs to a role this server no longer has: pg_restore fails after it began.
    await backupNamingAGoneRole('doomed', 'vanished', `GRANT CREATE ON SCHEMA public TO vanished; SET ROLE vanished; CREATE TABLE t (id int); INSERT INTO t VALUES (1)`);
    const { kept, before } = await restoredTarget('kept_db2');
    const r = await restore(['--stack', 'doomed', '--dir', dir, '--database', 'kept_db2', '--replace']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/role "vanished" does not exist/);
    expect(r.stderr).toMatch(/the restore failed, so "kept_db2" was left as it was: pg_restore failed/);
    expect(await contents('kept_db2')).toEqual(kept);
    expect(await databases()).toEqual(before);
  });

  test('with several jobs, a failure in one of pg_restore\'s workers, after the data went in, fails the restore and changes nothing', async () => {
    // A policy is created after the data and the indexes, by a worker (pg_restore runs only the schema before it forks them).
    await backupNamingAGoneRole('worker', 'gone_since', `CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g; CREATE INDEX t_id ON t (id); CREATE POLICY p ON t TO gone_since USING (true)`);
    const { kept, before } = await restoredTarget('kept_db3');
    const r = await restore(['--stack', 'worker', '--dir', dir, '--database', 'kept_db3', '--replace', '--jobs', '2']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('with 2 jobs');
    expect(r.stderr).toMatch(/role "gone_since" does not exist/);
    // The leader found its worker gone: the parallel path (pg_dump/parallel.c, ListenToWorkers).
    expect(r.stderr).toMatch(/a worker process died unexpectedly/);
    // pg_restore --verbose names the entry that failed.
    expect(r.stderr).toMatch(/from TOC entry \d+; \d+ \d+ POLICY t p /);
    expect(r.stderr).toMatch(/the restore failed, so "kept_db3" was left as it was: pg_restore failed/);
    expect(await contents('kept_db3')).toEqual(kept);
    expect(await databases()).toEqual(before);
  });

  test('a row the server refuses while the rows go in fails the restore, naming the table and the line; nothing is changed', async () => {
    // A generated column whose function, replaced after the rows were written, now refuses one of them.
    await query('postgres', 'CREATE DATABASE refused_source');
    await query(
      'refused_source',
      `CREATE FUNCTION twice(n int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT n * 2';
       CREATE TABLE g (n int, d int GENERATED ALWAYS AS (twice(n)) STORED);
       INSERT INTO g (n) SELECT generate_series(1, 100);
       CREATE OR REPLACE FUNCTION twice(n int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN IF n = 77 THEN RAISE 'seventy-seven'; END IF; RETURN n * 2; END $$;`,
    );
    expect((await npmRun('db:backup', ['--stack', 'refused', '--dir', dir], { DATABASE_URL: server.url('refused_source'), PG_BIN })).code).toBe(0);
    const { kept, before } = await restoredTarget('kept_db4');
    const r = await restore(['--stack', 'refused', '--dir', dir, '--database', 'kept_db4', '--replace']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the restore failed, so "kept_db4" was left as it was: COPY failed for table public\.g: seventy-seven \(.*COPY g, line 77/s);
    expect(await contents('kept_db4')).toEqual(kept);
    expect(await databases()).toEqual(before);
  });

  test('a database holding only a function and a type counts as not empty', async () => {
    expect((await backup()).code).toBe(0);
    await query('postgres', 'CREATE DATABASE only_code');
    await query('only_code', `CREATE TYPE mood AS ENUM ('ok'); CREATE FUNCTION important() RETURNS int LANGUAGE sql AS 'SELECT 42'`);
    const r = await restore(['--stack', STACK, '--dir', dir, '--database', 'only_code']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/database "only_code" is not empty \(1 functions, 1 types\); nothing was changed/);
    expect(await query('only_code', 'SELECT important() AS n')).toEqual([{ n: 42 }]);
  });

  describe('while a long restore runs', () => {
    let big: BackupFile;
    beforeAll(async () => {
      await query('postgres', 'CREATE DATABASE big_source');
      await query('big_source', `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g`);
      const bigDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-big-'));
      expect((await npmRun('db:backup', ['--stack', 'big', '--dir', bigDir], { DATABASE_URL: server.url('big_source'), PG_BIN })).code).toBe(0);
      big = listBackups(bigDir, 'big')[0];
    }, 120_000);

    /** Starts a restore of the big backup; resolves once pg_restore is loading it. */
    async function startRestore(database: string) {
      const run = startCommand('restore', ['--file', big.path, '--database', database], { DATABASE_URL: adminUrl() });
      await run.until(/into a new database/);
      return run;
    }

    test('an empty target filled meanwhile is not replaced without --replace', async () => {
      await query('postgres', 'CREATE DATABASE filled_meanwhile');
      const run = await startRestore('filled_meanwhile');
      await query('filled_meanwhile', `CREATE TABLE precious AS SELECT 1 AS id`);
      expect(await run.exited).toBe(1);
      expect(run.output()).toMatch(/database "filled_meanwhile" is not empty \(.*\); nothing was changed/);
      expect(await query('filled_meanwhile', 'SELECT id FROM precious')).toEqual([{ id: 1 }]);
      expect((await databases()).filter((d) => d.includes('__'))).toEqual([]);
      const [open] = await query<{ allow: boolean }>('postgres', `SELECT datallowconn AS allow FROM pg_database WHERE datname = 'filled_meanwhile'`);
      expect(open.allow).toBe(true);
    });

    test('Ctrl-C stops it, drops what it made and changes nothing', async () => {
      const before = await databases();
      const run = await startRestore('interrupted_db');
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(1);
      expect(run.output()).toContain('the restore was stopped before it replaced anything');
      expect(await databases()).toEqual(before);
    });
  });

  test('usage errors: no database, no backup chosen, a protected database', async () => {
    for (const [args, message] of [
      [['--stack', STACK], /error: required option '--database <name>' not specified/],
      [['--database', 'x'], /choose the backup with --file FILE, or --stack NAME/],
      [['--database', 'x', '--file', 'a.dump', '--dir', 'elsewhere'], /error: option '--file <file>' cannot be used with option '--dir <dir>'/],
      [['--database', 'postgres', '--stack', STACK], /one of PostgreSQL's own databases/],
    ] as const) {
      const r = await restore([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const none = await restore(['--database', 'x', '--stack', STACK, '--dir', dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`there is no backup of stack "${STACK}" in ${dir}`);
  });
});

describe('backupsToRemove', () => {
  const at = (n: number) => ({ name: `b${n}` }) as BackupFile;
  const list = [at(5), at(4), at(3), at(2), at(1)];
  const validIf = (...names: string[]) => async (b: BackupFile) => names.includes(b.name);
  test('removes all but the newest N when one of those is valid', async () => {
    expect((await backupsToRemove(list, 2, validIf('b4'))).map((b) => b.name)).toEqual(['b3', 'b2', 'b1']);
  });
  test('also keeps the newest valid one when none of the newest N is valid', async () => {
    expect((await backupsToRemove(list, 2, validIf('b2', 'b1'))).map((b) => b.name)).toEqual(['b3', 'b1']);
  });
  test('removes nothing valid when nothing is valid but keeps N', async () => {
    expect((await backupsToRemove(list, 3, validIf())).map((b) => b.name)).toEqual(['b2', 'b1']);
  });
  test('refuses a keep below 1', async () => {
    await expect(backupsToRemove(list, 0, validIf())).rejects.toThrow(RangeError);
  });
});
