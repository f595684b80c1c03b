import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client as S3Client } from 'minio';
import { Client as PgClient } from 'pg';
import { APP_ENV, BUCKETS, type BucketKey } from '../common/names';
import { HEALTH_VARIABLES } from '../lib/health/report';
import { migrationExtensions } from '../lib/health/postgres';
import { bucketVariable } from '../common/names';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { parseRedisUrl } from '../lib/health/redis';
import { CONFIG_KEYS } from '../stacks/config';
import { S3_REGION } from '../stacks/services';
import { STORAGE_USERS } from '../common/names';
import { anonymousDownloadPolicy, appPolicy, backupPolicy } from '../stacks/inside/storage-policies';
import { freshDatabase, npmRun, type CommandResult, type TestDatabase } from './helpers/db';
import { createStackRoles, type StackRoles } from './helpers/stack-roles';
import { startMinio, type MinioServer } from './helpers/minio';
import { createUser } from './helpers/minio-admin';
import { freePort } from './helpers/postgres';
import { startRedis, type RedisServer } from './helpers/redis';
import { alive, hangingPulumi } from './helpers/hanging-pulumi';
import { PULUMI_TIMEOUT_VARIABLE } from '../lib/stack/outputs';

/**
 * `npm run health` against real servers: the shared PostgreSQL 15 with a migrated database, a
 * redis-server with the stack's command line and ACL, and MinIO with the stack's buckets, policies
 * and users, each given to the command through the variables `npm run env` writes.
 */

jest.setTimeout(60_000);

const buckets = Object.fromEntries(BUCKETS.map((b) => [b, `h-${b}`])) as Record<BucketKey, string>;
const appSecret = randomBytes(18).toString('base64url');
const backupSecret = randomBytes(18).toString('base64url');

let db: TestDatabase;
let redis: RedisServer;
let minio: MinioServer;
let env: Record<string, string>;
/** The stack's roles, owning and granted on `db` as the program grants: what the schema drift row checks. */
let stack: StackRoles;
/** MinIO's root: what the stack's provider logs in as. */
let root: S3Client;

/** Redis as a stack runs it by default. */
const redisSettings = { maxmemoryMb: CONFIG_KEYS.redisMaxmemoryMb.default, maxmemoryPolicy: CONFIG_KEYS.redisMaxmemoryPolicy.default };

beforeAll(async () => {
  [db, redis, minio] = await Promise.all([freshDatabase({ migrated: true }), startRedis(redisSettings), startMinio()]);
  stack = await createStackRoles(db.url, `health_${process.pid}`);
  // As stacks/inside/storage.ts declares them: the buckets, temp's anonymous download, two users limited by policy.
  root = new S3Client({ endPoint: minio.endPoint, port: minio.port, useSSL: false, region: S3_REGION, accessKey: minio.rootUser, secretKey: minio.rootPassword });
  for (const name of Object.values(buckets)) await root.makeBucket(name);
  await root.setBucketPolicy(buckets.temp, JSON.stringify(anonymousDownloadPolicy(buckets.temp)));
  await createUser(minio, { accessKey: STORAGE_USERS.app, secretKey: appSecret, policyName: 'h-app', policy: appPolicy(buckets) });
  await createUser(minio, { accessKey: STORAGE_USERS.backup, secretKey: backupSecret, policyName: 'h-backup', policy: backupPolicy(buckets.backups) });
  env = {
    [APP_ENV.databaseUrl]: db.url,
    [APP_ENV.migratorDatabaseUrl]: db.url,
    [APP_ENV.redisUrl]: redis.url,
    [APP_ENV.s3Endpoint]: minio.url,
    [APP_ENV.s3Region]: S3_REGION,
    [APP_ENV.s3AccessKey]: STORAGE_USERS.app,
    [APP_ENV.s3SecretKey]: appSecret,
    [APP_ENV.s3BackupAccessKey]: STORAGE_USERS.backup,
    [APP_ENV.s3BackupSecretKey]: backupSecret,
    ...Object.fromEntries(BUCKETS.map((b) => [bucketVariable(b), buckets[b]])),
  };
});

afterAll(async () => {
  await Promise.all([db?.close(), redis?.stop(), minio?.stop()]);
  await stack?.drop([db.url]);
});

interface Row {
  service: string;
  check: string;
  status: string;
  detail: string;
}

/** The health table's rows, read back by its columns (the rule line gives their widths). */
function healthRows(stdout: string): Row[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('service'));
  expect(start).toBeGreaterThanOrEqual(0);
  const widths = lines[start + 1].split('  ').map((rule) => rule.length);
  const rows: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (line === '') break;
    const cells: string[] = [];
    let at = 0;
    for (const [i, w] of widths.entries()) {
      cells.push(i === widths.length - 1 ? line.slice(at) : line.slice(at, at + w).trimEnd());
      at += w + 2;
    }
    const [service, check, status, detail] = cells;
    rows.push({ service, check, status, detail });
  }
  return rows;
}

const byCheck = (rows: Row[]) => Object.fromEntries(rows.map((r) => [`${r.service} ${r.check}`, r]));

/** Every password and secret key the run could have seen, the wrong ones included: none may be printed. */
function expectNoSecrets(result: CommandResult, extra: string[] = []): void {
  const secrets = [
    new URL(db.url).password,
    redis.appPassword,
    appSecret,
    backupSecret,
    minio.rootPassword,
    ...extra,
  ];
  for (const secret of secrets) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

const health = (args: string[], overrides: Record<string, string> = {}) => npmRun('health', args, { ...env, ...overrides });

/** A URL with its password replaced. */
const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

describe('npm run health, on healthy servers', () => {
  test('passes every check and exits 0; --tables adds the statistics of the schema\'s tables', async () => {
    const result = await health(['--tables']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = healthRows(result.stdout);
    expect(rows.map((r) => `${r.service} ${r.check} ${r.status}`)).toEqual([
      'postgres connection OK',
      'postgres version OK',
      'postgres extensions OK',
      'postgres migrations OK',
      'postgres schema drift OK',
      'postgres connections OK',
      'postgres table statistics OK',
      'redis login OK',
      'redis ping OK',
      'redis memory OK',
      'storage endpoint OK',
      ...BUCKETS.map((b) => `storage bucket ${b} OK`),
      ...BUCKETS.map((b) => `storage anonymous ${b} OK`),
    ]);
    const row = byCheck(rows);
    const migrations = readMigrations();
    expect(row['postgres connection'].detail).toMatch(/ \(from MIGRATOR_DATABASE_URL\)$/);
    expect(row['postgres version'].detail).toMatch(/^PostgreSQL 15\./);
    expect(row['postgres extensions'].detail).toBe(migrationExtensions(migrations).join(', '));
    expect(row['postgres migrations'].detail).toBe(`${migrations.length} applied, none pending`);
    expect(row['postgres connections'].detail).toMatch(/^\d+ of max_connections \d+ in use \(\d+ %\)$/);
    expect(row['redis login'].detail).toBe(`user app at redis://app@127.0.0.1:${redis.port} (from REDIS_URL)`);
    expect(row['redis memory'].detail).toMatch(
      new RegExp(`^maxmemory ${redisSettings.maxmemoryMb}\\.00M, used .*, policy ${redisSettings.maxmemoryPolicy}$`),
    );
    expect(row['storage bucket backups'].detail).toBe(`"${buckets.backups}" exists; S3_BACKUP_ACCESS_KEY may list it`);
    expect(row['storage anonymous temp'].detail).toBe('anyone may download an object by its name, as intended');
    expect(row['storage anonymous documents'].detail).toBe('anonymous reads refused');
    expect(result.stdout).toContain(`all ${rows.length} checks passed.`);

    // The second table: pg_stat_user_tables, one line per table of the schema (and drizzle's own).
    const stats = result.stdout.slice(result.stdout.indexOf('\nschema')).split('\n').filter(Boolean);
    expect(stats[0].split(/\s+/)).toEqual(['schema', 'table', 'inserts', 'updates', 'deletes', 'live', 'dead']);
    const tables = stats.slice(2, -1).map((l) => l.split(/\s+/).slice(0, 2).join('.'));
    const { rows: expected } = await db.client.query<{ t: string }>(
      "SELECT schemaname || '.' || relname AS t FROM pg_stat_user_tables ORDER BY schemaname, relname",
    );
    expect(tables).toEqual(expected.map((r) => r.t));
    expect(tables).toEqual(expect.arrayContaining(['public.users', 'public.documents', 'drizzle.__drizzle_migrations']));
    expectNoSecrets(result);
  });

  test('MinIO answers an anonymous read of a missing object with NoSuchKey where reads are allowed, AccessDenied elsewhere', async () => {
    // What the anonymous rows rely on, seen directly.
    const answer = async (bucket: string) => {
      const response = await fetch(`${minio.url}/${bucket}/no-such-object-${randomBytes(4).toString('hex')}`);
      return `${response.status} ${/<Code>([^<]*)<\/Code>/.exec(await response.text())?.[1]}`;
    };
    expect(await answer(buckets.temp)).toBe('404 NoSuchKey');
    for (const b of ['documents', 'recordings', 'backups'] as const) expect(await answer(buckets[b])).toBe('403 AccessDenied');
  });

  test('the extensions checked are those the migrations create: the specification\'s four', () => {
    expect(migrationExtensions(readMigrations())).toEqual(['uuid-ossp', 'pg_trgm', 'btree_gin', 'btree_gist']);
  });
});

describe('npm run health, failing checks', () => {
  test('a pending migration, an unbounded Redis, a missing bucket and buckets with the wrong anonymous access fail their rows, and only those', async () => {
    const [behind, unbounded] = await Promise.all([freshDatabase(), startRedis({ ...redisSettings, maxmemoryMb: 0 })]);
    await root.removeBucket(buckets.recordings);
    try {
      const migrations = readMigrations();
      await migrate(behind.client, migrations.slice(0, -1));
      // Documents' variable names the public bucket and temp's a private one.
      const result = await health([], {
        [APP_ENV.migratorDatabaseUrl]: behind.url,
        [APP_ENV.redisUrl]: unbounded.url,
        [bucketVariable('documents')]: buckets.temp,
        [bucketVariable('temp')]: buckets.documents,
      });
      expect(result.code).toBe(1);
      const failed = healthRows(result.stdout).filter((r) => r.status !== 'OK');
      expect(failed.map((r) => `${r.service} ${r.check}`)).toEqual([
        'postgres migrations',
        'postgres schema drift',
        'redis memory',
        'storage bucket recordings',
        'storage anonymous documents',
        'storage anonymous temp',
      ]);
      const [pending, drift, memory, missing, publicDocuments, privateTemp] = failed.map((r) => r.detail);
      // The pending migration is the migrations row's alone: the schema is compared with what the applied ones make. What
      // remains is real: the database is the superuser's, not a stack's migrator's.
      expect(drift).toMatch(/^1 difference from the migrations 0000_extensions\.\.\S+: role postgres: owns the database but is no stack's migrator/);
      expect(drift).not.toContain('idx_documents_public_head_search');
      expect(pending).toBe(
        `1 pending (${migrations[migrations.length - 1].name}) of ${migrations.length}: run \`npm run db:migrate\` with MIGRATOR_DATABASE_URL as DATABASE_URL`,
      );
      expect(memory).toBe(
        `maxmemory is 0 (policy ${redisSettings.maxmemoryPolicy}): the cache may grow until the host runs out of memory; set maxmemory (the stack's redisMaxmemoryMb)`,
      );
      expect(missing).toBe(`"${buckets.recordings}" does not exist: create it (pulumi up) or correct S3_BUCKET_RECORDINGS`);
      expect(publicDocuments).toBe(`ANYONE may download objects of "${buckets.temp}" by name: remove the bucket's anonymous policy`);
      expect(privateTemp).toMatch(/^anonymous downloads from "h-documents" are refused, so its links will not work/);
      expect(result.stdout).toContain(`6 of ${healthRows(result.stdout).length} checks failed.`);
      expectNoSecrets(result, [new URL(behind.url).password, unbounded.appPassword]);
    } finally {
      await Promise.all([behind.close(), unbounded.stop(), root.makeBucket(buckets.recordings)]);
    }
  });

  test('wrong passwords: each service names the login that failed and the variable to fix, and no password is printed', async () => {
    const wrong = { pg: 'WrongPg9Password', redis: 'WrongRedis9Password', s3: 'WrongS3Secret9Key' };
    const result = await health([], {
      [APP_ENV.migratorDatabaseUrl]: withPassword(db.url, wrong.pg),
      [APP_ENV.redisUrl]: withPassword(redis.url, wrong.redis),
      [APP_ENV.s3SecretKey]: wrong.s3,
    });
    expect(result.code).toBe(1);
    const rows = healthRows(result.stdout);
    const row = byCheck(rows);
    expect(row['postgres connection']).toMatchObject({ status: 'FAIL' });
    expect(row['postgres connection'].detail).toContain('password authentication failed for user "postgres": check the user and password in MIGRATOR_DATABASE_URL');
    expect(row['redis login']).toMatchObject({ status: 'FAIL' });
    expect(row['redis login'].detail).toMatch(/^authentication failed for user app at redis:\/\/app@127\.0\.0\.1:\d+: check the user and password in REDIS_URL/);
    for (const b of ['documents', 'recordings', 'temp'] as const) {
      expect(row[`storage bucket ${b}`]).toMatchObject({ status: 'FAIL', detail: 'S3_SECRET_KEY is not the secret key of S3_ACCESS_KEY: check it' });
    }
    // The backups' credential is still right, and anonymous reads need none.
    expect(rows.filter((r) => r.status === 'FAIL')).toHaveLength(5);
    expectNoSecrets(result, Object.values(wrong));
  });

  test('stopped servers: connection refused, named with the server and its variable, within the time limits', async () => {
    const stopped = await startRedis(redisSettings);
    await stopped.stop();
    const closedPort = await freePort();
    const pgUrl = new URL(db.url);
    pgUrl.port = String(closedPort);
    const result = await health([], {
      [APP_ENV.migratorDatabaseUrl]: pgUrl.toString(),
      [APP_ENV.redisUrl]: stopped.url,
      [APP_ENV.s3Endpoint]: `http://127.0.0.1:${closedPort}`,
    });
    expect(result.code).toBe(1);
    expect(healthRows(result.stdout)).toEqual([
      {
        service: 'postgres',
        check: 'connection',
        status: 'FAIL',
        detail: `cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:${closedPort}/${pgUrl.pathname.slice(1)} (from MIGRATOR_DATABASE_URL): connection refused: is the server running and listening on 127.0.0.1:${closedPort}?`,
      },
      {
        service: 'redis',
        check: 'login',
        status: 'FAIL',
        detail: `cannot reach Redis at redis://app@127.0.0.1:${stopped.port} (from REDIS_URL): connection refused: is the server running and listening on 127.0.0.1:${stopped.port}?`,
      },
      {
        service: 'storage',
        check: 'endpoint',
        status: 'FAIL',
        detail: `cannot reach the S3 API at http://127.0.0.1:${closedPort} (from S3_ENDPOINT): connection refused: is the server running and listening on 127.0.0.1:${closedPort}?`,
      },
    ]);
    expect(result.ms).toBeLessThan(10_000);
    expectNoSecrets(result, [stopped.appPassword]);
  });

  test('a server that accepts connections and never answers, or a query that waits on a lock, fails within the time limit', async () => {
    // A real redis-server, stopped with SIGSTOP: the kernel still accepts connections on its port, nobody answers.
    const frozen = await startRedis(redisSettings);
    process.kill(frozen.pid, 'SIGSTOP');
    // A session holding the migrations table, as a long DDL would: the migrations check's query waits behind it.
    const locker = new PgClient({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE drizzle.__drizzle_migrations IN ACCESS EXCLUSIVE MODE');
    try {
      const pgUrl = new URL(db.url);
      pgUrl.port = String(frozen.port);
      pgUrl.searchParams.set('connect_timeout', '1');
      // --help, run alongside, measures what npm and node's start cost under the same load.
      const [dead, locked, start] = await Promise.all([
        health([], {
          [APP_ENV.migratorDatabaseUrl]: pgUrl.toString(),
          [APP_ENV.redisUrl]: frozen.url,
          [APP_ENV.s3Endpoint]: `http://127.0.0.1:${frozen.port}`,
        }),
        health([]),
        health(['--help']),
      ]);
      expect(dead.code).toBe(1);
      const rows = healthRows(dead.stdout);
      expect(rows.map((r) => `${r.service} ${r.check} ${r.status}`)).toEqual(['postgres connection FAIL', 'redis login FAIL', 'storage endpoint FAIL']);
      const [pg, cache, storage] = rows.map((r) => r.detail);
      expect(pg).toMatch(/\(from MIGRATOR_DATABASE_URL\): no answer within 1 s: check the host and port/);
      expect(cache).toMatch(/\(from REDIS_URL\) accepted the connection but did not answer AUTH within 5 s/);
      expect(storage).toMatch(/\(from S3_ENDPOINT\): no answer within 5 s: check the host and port/);
      // The three wait at once: about 5 s, where waiting in turn would take 11 s. 8.3 s was seen
      // with the machine's two cores busy with a benchmark; anything under 11 s shows the overlap.
      expect(dead.ms - start.ms).toBeLessThan(10_500);
      expectNoSecrets(dead, [frozen.appPassword]);

      expect(locked.code).toBe(1);
      const postgres = healthRows(locked.stdout).filter((r) => r.service === 'postgres');
      expect(postgres.map((r) => `${r.check} ${r.status}`)).toEqual(['connection OK', 'version OK', 'extensions OK', 'responding FAIL']);
      expect(postgres[3].detail).toBe('the server stopped answering: no answer within 5 s. Check its load and logs');
      expect(locked.ms - start.ms).toBeLessThan(8_000);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
      process.kill(frozen.pid, 'SIGCONT');
      await frozen.stop();
    }
  });

  test('unset variables: a service with none is "not configured", one with some names the missing ones; the app role cannot see migrations', async () => {
    const role = `health_app_${process.pid}`;
    const rolePassword = randomBytes(12).toString('hex');
    await db.client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${rolePassword}'`);
    try {
      const appUrl = new URL(db.url);
      appUrl.username = role;
      appUrl.password = rolePassword;
      const result = await health([], {
        [APP_ENV.migratorDatabaseUrl]: '',
        [APP_ENV.databaseUrl]: appUrl.toString(),
        [APP_ENV.redisUrl]: '',
        [APP_ENV.s3BackupSecretKey]: '',
        [bucketVariable('temp')]: '',
      });
      expect(result.code).toBe(1);
      const row = byCheck(healthRows(result.stdout));
      expect(row['postgres connection']).toMatchObject({ status: 'OK', detail: expect.stringMatching(/ \(from DATABASE_URL\)$/) });
      expect(row['postgres migrations']).toMatchObject({
        status: 'FAIL',
        detail: "DATABASE_URL's role may not read drizzle.__drizzle_migrations: set MIGRATOR_DATABASE_URL to check the migrations",
      });
      expect(row['redis configuration']).toEqual({
        service: 'redis',
        check: 'configuration',
        status: 'FAIL',
        detail: 'not configured: set REDIS_URL (or name a stack: npm run health -- --stack <name>)',
      });
      expect(row['storage configuration']).toMatchObject({ status: 'FAIL', detail: 'S3_BACKUP_SECRET_KEY, S3_BUCKET_TEMP are not set' });
      expectNoSecrets(result, [rolePassword]);
    } finally {
      await db.client.query(`DROP ROLE ${role}`);
    }
  });
});

describe('npm run health, the command line', () => {
  test('with a stack name it needs the Pulumi CLI, and says so when it is not on PATH (exit 1)', async () => {
    // A PATH with only what `npm run` needs: npm, the shell it runs scripts with, and node.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'health-path-'));
    try {
      for (const program of ['npm', 'sh', 'node']) {
        const found = execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim();
        fs.symlinkSync(fs.realpathSync(found), path.join(bin, program));
      }
      const result = await npmRun('health', ['--stack', 'dev'], { ...env, PATH: bin });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('error: the Pulumi CLI is not installed or not on PATH (cannot run `pulumi stack output --json --show-secrets --stack dev`)');
      expect(result.stdout).toBe('');
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  test('with a stack name it checks the servers of the stack\'s outputs, as `npm run env` reads them', async () => {
    // The Pulumi CLI is not here: a stand-in prints the outputs document of the test's servers (the
    // outputs the checks do not read, such as the read-only URL, name the same database).
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'health-pulumi-'));
    try {
      const outputs = Object.fromEntries(
        Object.entries(APP_ENV).map(([output, variable]) =>
          output === 'buckets' ? [output, buckets] : [output, env[variable] ?? db.url],
        ),
      );
      fs.writeFileSync(path.join(bin, 'outputs.json'), JSON.stringify(outputs));
      fs.writeFileSync(
        path.join(bin, 'pulumi'),
        `#!/bin/sh\n[ "$*" = "stack output --json --show-secrets --stack dev" ] || { echo "unexpected: $*" >&2; exit 99; }\ncat "${path.join(bin, 'outputs.json')}"\n`,
        { mode: 0o755 },
      );
      // Nothing in the environment: every value must come from the stack.
      const blank = Object.fromEntries(HEALTH_VARIABLES.map((name) => [name, '']));
      const result = await npmRun('health', ['--stack', 'dev'], { ...blank, PATH: `${bin}${path.delimiter}${process.env.PATH}` });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const rows = healthRows(result.stdout);
      expect(rows.filter((r) => r.status !== 'OK')).toEqual([]);
      expect(rows).toHaveLength(18);
      expectNoSecrets(result);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  test(`with a stack name, a pulumi that hangs is stopped once ${PULUMI_TIMEOUT_VARIABLE} seconds have passed, with every process it started (exit 1)`, async () => {
    const stub = hangingPulumi();
    try {
      const blank = Object.fromEntries(HEALTH_VARIABLES.map((name) => [name, '']));
      const result = await npmRun('health', ['--stack', 'dev'], { ...blank, PATH: `${stub.dir}${path.delimiter}${process.env.PATH}`, [PULUMI_TIMEOUT_VARIABLE]: '1' });
      const ended = Date.now();
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('error: `pulumi stack output --json --show-secrets --stack dev` did not finish within 1 s and was stopped, with the processes it started');
      expect(result.stderr).toContain('allow more seconds with --pulumi-timeout <seconds> or PA_DATA_PULUMI_TIMEOUT=<seconds> (default 60):\nlogging in to the backend\n');
      expect(result.stdout).toBe('');
      const { pids, at } = await stub.started();
      expect(ended - at).toBeLessThan(1000 + 4000);
      expect(Object.values(pids).filter(alive)).toEqual([]);
    } finally {
      fs.rmSync(stub.dir, { recursive: true, force: true });
    }
  });

  test('a bad stack name, a stack named without --stack or an unknown flag is a usage error (exit 2); --help shows the usage', async () => {
    for (const [args, message] of [
      [['--stack', '../prod'], 'may hold only letters, digits, "_", "." and "-"'],
      [['dev'], "error: too many arguments for 'health'"],
      [['--table'], "error: unknown option '--table'\n(Did you mean --tables?)"],
    ] as Array<[string[], string]>) {
      const result = await health(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain('(add --help for usage)');
    }
    const help = await health(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pa-data health \[options\]\n/);
    for (const flag of ['-s, --stack <name>', '--tables', '--json']) expect(help.stdout).toContain(flag);
  });

  test('REDIS_URL is checked before anything connects, and its password is never repeated', () => {
    const password = 'Pass%Word';
    expect(() => parseRedisUrl(`http://app:${password}@host:1`)).toThrow('REDIS_URL must start with redis:// or rediss://, not http://');
    expect(() => parseRedisUrl(`redis://app:${password}@host:1`)).toThrow(/a "%" in it is not followed by two hex digits/);
    expect(() => parseRedisUrl('redis://app@host:1')).toThrow('REDIS_URL holds no password');
    expect(() => parseRedisUrl(undefined)).toThrow('REDIS_URL is not set');
    expect(parseRedisUrl('rediss://app:p%40ss@[::1]:6380')).toMatchObject({ host: '::1', port: 6380, tls: true, user: 'app', password: 'p@ss', display: 'rediss://app@[::1]:6380' });
  });
});
