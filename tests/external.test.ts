import { APP_ENV } from '../common/names';
import { DATABASE_NAME } from '../common/names';
import { plain, walk } from './helpers/pulumi-mocks';
import { one, runProgram, SHARED_STACK_ENV, STACK_SECRETS, type ProgramRun } from './helpers/program';

/**
 * The example stack on servers the program does not run (Pulumi.external.yaml): no Docker at all,
 * the same things inside the servers, reached over TLS, with credentials only ever as secrets.
 */

const secrets = STACK_SECRETS.external;
let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram('external', { env: SHARED_STACK_ENV, secrets });
});

test('declares nothing of Docker: no container, volume, network or image, so it needs no Docker host', () => {
  expect(run.declared.filter((d) => d.type.startsWith('docker:') || d.type === 'pulumi:providers:docker')).toEqual([]);
  expect(run.declared.filter((d) => !d.custom).map((d) => d.type).sort()).toEqual(
    ['Database', 'PostDeploy', 'Storage'].map((c) => `pronunciation:stack:${c}`),
  );
  expect(run.outputs.containers.value).toEqual({});
});

test('the same roles, database, grants, buckets, policies and post-deploy step as a stack with its own servers', async () => {
  const dev = await runProgram('dev');
  const inside = (r: ProgramRun) =>
    r.declared
      .filter((d) => /^(postgresql|minio|command):/.test(d.type))
      .map((d) => `${d.type} ${d.name}`)
      .sort();
  expect(inside(run)).toEqual(inside(dev));
});

test('outputs: the external hosts, over TLS; the external Redis URL as given; every credential a secret', () => {
  const o = run.outputs;
  const host = 'db.pronunciation.example.com';
  // On a server other stacks may share, the stack's own names: its namespace is its name, "external".
  const urls = {
    databaseUrl: 'pa_external_app',
    directDatabaseUrl: 'pa_external_app',
    migratorDatabaseUrl: 'pa_external_migrator',
    readonlyDatabaseUrl: 'pa_external_readonly',
    backupDatabaseUrl: 'pa_external_backup',
    postgresAdminUrl: 'pa_admin',
  };
  for (const [name, user] of Object.entries(urls)) {
    const url = new URL(o[name].value as string);
    expect([name, o[name].secret]).toEqual([name, true]);
    expect(url.toString().replace(url.password, 'PASSWORD')).toBe(`postgresql://${user}:PASSWORD@${host}:5432/${DATABASE_NAME}_external?sslmode=verify-full`);
  }
  expect(new URL(o.postgresAdminUrl.value as string).password).toBe(secrets.externalPostgresAdminPassword);
  expect(o.redisUrl).toEqual({ value: secrets.externalRedisUrl, secret: true });
  expect(o.s3Endpoint.value).toBe('https://minio.pronunciation.example.com:9000');
  expect(o.s3Region.value).toBe('eu-west-1');
  expect(o.s3AccessKey).toEqual({ value: 'pa-external-app', secret: true });
  expect(o.buckets.value).toEqual({ documents: 'ext-documents', recordings: 'ext-recordings', temp: 'ext-temp', backups: 'ext-backups' });
  expect(Object.keys(o).sort()).toEqual([...Object.keys(APP_ENV), 'postgresAdminUrl', 'backupDatabaseUrl', 'adminUrls', 'containers'].sort());
  // The object store's admin key stays with the program.
  expect(JSON.stringify(Object.values(o).map((x) => x.value))).not.toContain(secrets.externalS3SecretKey);
});

test('the post-deploy step migrates the external database over TLS, as the migrator', () => {
  const c = plain(one(run, 'command:local:Command', 'migrate-and-seed').raw);
  expect(c.environment.DATABASE_URL).toBe(run.outputs.migratorDatabaseUrl.value);
  expect(c.environment.DATABASE_URL).toMatch(/\?sslmode=verify-full$/);
  expect(c.create).toBe('npm run --silent db:migrate && npm run --silent db:seed');
});

test('no configured secret appears outside a secret, in any input of any resource', () => {
  const leaks: string[] = [];
  let seen = 0;
  const secretParts = [secrets.externalPostgresAdminPassword, secrets.externalS3SecretKey, 'external-redis-password-for-tests'];
  for (const d of run.declared) {
    walk(d.raw, (text, inSecret) => {
      if (!secretParts.some((p) => text.includes(p))) return;
      if (inSecret) seen++;
      else leaks.push(`${d.type} ${d.name}`);
    });
  }
  expect(leaks).toEqual([]);
  expect(seen).toBeGreaterThanOrEqual(2); // the two providers' passwords: the check is not vacuous
});

test('CA certificates from config reach both providers and the database URLs', async () => {
  const withCas = await runProgram('external', {
    env: SHARED_STACK_ENV,
    secrets,
    config: { externalPostgresSslRootCert: '/etc/ssl/private-ca/db.pem', externalS3CaCert: '/etc/ssl/private-ca/minio.pem' },
  });
  expect(plain(one(withCas, 'pulumi:providers:postgresql', 'postgresql').raw).sslrootcert).toBe('/etc/ssl/private-ca/db.pem');
  expect(plain(one(withCas, 'pulumi:providers:minio', 'minio').raw).minioCacertFile).toBe('/etc/ssl/private-ca/minio.pem');
  expect(new URL(withCas.outputs.databaseUrl.value as string).search).toBe('?sslmode=verify-full&sslrootcert=/etc/ssl/private-ca/db.pem');
  // And both prepare steps, which reach the servers before the providers do.
  const prepares = withCas.declared.filter((d) => d.name === 'prepare').map((d) => plain(d.raw).environment);
  expect(new URL(prepares.find((e) => e.DATABASE_URL).DATABASE_URL).search).toBe('?sslmode=verify-full&sslrootcert=/etc/ssl/private-ca/db.pem');
  expect(prepares.find((e) => e.S3_ENDPOINT).NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/private-ca/minio.pem');
  // Without them, the system's CAs: nothing is set.
  expect(plain(one(run, 'pulumi:providers:postgresql', 'postgresql').raw).sslrootcert).toBeUndefined();
  expect(plain(one(run, 'pulumi:providers:minio', 'minio').raw).minioCacertFile).toBeUndefined();
});
