import { createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { load } from 'js-yaml';
import { bucketNameProblem, CONFIG_KEYS, ConfigError, DEV_PASSPHRASE, imageProblem, loadConfig } from '../stacks/config';
import { committedStackConfig, PROJECT, ROOT, runProgram, SHARED_STACK_ENV, stackFileConfig, STACKS } from './helpers/program';

/** The problems loadConfig reports for a dev stack with these values. */
function problems(values: Record<string, string>, stack = 'dev', env: NodeJS.ProcessEnv = {}, secretKeys: string[] = []): string[] {
  try {
    loadConfig(stack, { allowDevState: 'true', ...values }, env, secretKeys);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('Pulumi.yaml', () => {
  const project = load(readFileSync(path.join(ROOT, 'Pulumi.yaml'), 'utf8')) as {
    name: string;
    runtime: { name: string; options: Record<string, unknown> };
    backend: { url: string };
    config: Record<string, { type: string; default: unknown; description: string }>;
  };

  test('is the TypeScript project pronunciation-assistant, with state in the project folder by default', () => {
    expect(project.name).toBe(PROJECT);
    expect(project.runtime).toEqual({ name: 'nodejs', options: { typescript: true, packagemanager: 'npm' } });
    expect(project.backend.url).toBe('file://./.pulumi-state');
    expect(readFileSync(path.join(ROOT, '.pulumi-state/.gitignore'), 'utf8')).toMatch(/^\*$/m);
  });

  test('declares exactly the keys stacks/config/keys.ts reads, with the same type, default and description', () => {
    const expected = Object.fromEntries(
      Object.entries(CONFIG_KEYS).map(([k, s]) => [k, { type: s.type, default: s.default, description: s.description }]),
    );
    const { 'pulumi:disable-default-providers': engine, ...own } = project.config;
    expect(own).toEqual(expected);
    // The providers of what lives inside the servers are always explicit (mock tests check each resource's).
    expect(engine).toEqual({ value: ['postgresql', 'minio'] });
  });
});

describe('committed stack files', () => {
  test.each(STACKS)('%s: only known keys, valid, no secrets', (stack) => {
    const raw = stackFileConfig(stack);
    expect(Object.keys(raw).every((k) => k.startsWith(`${PROJECT}:`))).toBe(true);
    // As the CLI hands it over after README's set-up: defaults merged, secrets set with --secret.
    expect(() => committedStackConfig(stack)).not.toThrow();
    const text = readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8');
    expect(text).not.toMatch(/secure:|password|passphrase|secretsprovider|encryptedkey/i);
  });

  test("Pulumi.dev.yaml's encryptionsalt opens with the documented dev passphrase (Pulumi's passphrase scheme)", () => {
    // v1:<salt>:v1:<nonce>:<AES-256-GCM of "pulumi">, key = PBKDF2-SHA256(passphrase, salt, 1e6), as in
    // pulumi/pulumi's passphrase secrets manager.
    const file = load(readFileSync(path.join(ROOT, 'Pulumi.dev.yaml'), 'utf8')) as { encryptionsalt: string };
    const [v1, salt, v1b, nonce, sealed] = file.encryptionsalt.split(':');
    expect([v1, v1b]).toEqual(['v1', 'v1']);
    const open = (passphrase: string) => {
      const key = pbkdf2Sync(passphrase, Buffer.from(salt, 'base64'), 1_000_000, 32, 'sha256');
      const bytes = Buffer.from(sealed, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64'));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString();
    };
    expect(open(DEV_PASSPHRASE)).toBe('pulumi');
    expect(() => open('another passphrase')).toThrow();
    for (const stack of ['staging', 'prod']) expect(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')).not.toMatch(/encryptionsalt/);
  });

  test('dev and staging can share a Docker host: no host port in common', () => {
    const ports = (stack: string) => {
      const c = committedStackConfig(stack);
      return [c.postgresPort, c.pgbouncerPort, c.redisPort, c.minioApiPort, c.minioConsolePort, c.adminerPort];
    };
    const dev = new Set(ports('dev'));
    expect(ports('staging').filter((p) => dev.has(p))).toEqual([]);
  });

  test('what differs per environment: protection, admin tools, demo data, dev-only state', () => {
    const c = committedStackConfig;
    expect([c('dev').protectData, c('staging').protectData, c('prod').protectData]).toEqual([false, false, true]);
    expect([c('dev').adminTools, c('staging').adminTools, c('prod').adminTools]).toEqual([true, false, false]);
    expect([c('dev').demoData, c('staging').demoData, c('prod').demoData]).toEqual([true, false, false]);
    expect([c('dev').allowDevState, c('staging').allowDevState, c('prod').allowDevState]).toEqual([true, false, false]);
    expect(c('prod').postgresMemoryMb).toBeGreaterThan(c('dev').postgresMemoryMb);
    // A backup before each migrating `pulumi up` where the data matters; the external example leaves it to the managed service.
    expect(STACKS.map((s) => [s, c(s).backupBeforeMigrate])).toEqual([['dev', false], ['staging', true], ['prod', true], ['external', false]]);
  });

  test('backupBeforeMigrate is a boolean, off by default', () => {
    expect(CONFIG_KEYS.backupBeforeMigrate).toMatchObject({ type: 'boolean', default: false });
    expect(loadConfig('dev', { allowDevState: 'true' }, {}, []).backupBeforeMigrate).toBe(false);
    expect(loadConfig('dev', { allowDevState: 'true', backupBeforeMigrate: 'true' }, {}, []).backupBeforeMigrate).toBe(true);
    expect(problems({ backupBeforeMigrate: 'yes' })).toEqual([expect.stringMatching(/^backupBeforeMigrate/)]);
  });
});

describe('bad configuration is refused with the key, the value and what is allowed', () => {
  test.each<[string, Record<string, string>, RegExp]>([
    ['port not a number', { postgresPort: '54x2' }, /^postgresPort: "54x2" is not an integer\./],
    ['port out of range', { redisPort: '70000' }, /^redisPort: "70000" is not allowed: it must be a TCP port, 1 to 65535\.$/],
    ['port zero', { minioApiPort: '0' }, /^minioApiPort: "0" is not allowed/],
    ['duplicate host ports', { redisPort: '5432', postgresPort: '5432' }, /^postgresPort, redisPort: all are 5432; each service needs its own host port\.$/],
    ['admin port clashing only when admin tools run', { adminTools: 'true', adminerPort: '9000' }, /^minioApiPort, adminerPort: all are 9000/],
    ['memory below what PostgreSQL needs', { postgresMemoryMb: '128' }, /^postgresMemoryMb: "128" is not allowed: it must be at least 256 \(MiB\)\.$/],
    ['memory below what MinIO needs', { minioMemoryMb: '100' }, /^minioMemoryMb: "100" is not allowed: it must be at least 256/],
    ['redis maxmemory over three quarters of its limit', { redisMemoryMb: '128', redisMaxmemoryMb: '120' }, /^redisMaxmemoryMb: 120 is more than three quarters of redisMemoryMb \(128\); lower it to 96 or raise redisMemoryMb to 160/],
    ['unknown eviction policy', { redisMaxmemoryPolicy: 'lru' }, /^redisMaxmemoryPolicy: "lru" is not allowed: it must be one of noeviction, allkeys-lru/],
    ['latest image', { redisImage: 'redis:latest' }, /^redisImage: "redis:latest" is not allowed: it must not be latest: pin a version tag/],
    ['untagged image', { minioImage: 'minio/minio' }, /^minioImage: "minio\/minio" is not allowed: it must name a version tag or a digest \(no tag means latest\)\.$/],
    ['moving major tag', { postgresImage: 'postgres:15-alpine' }, /^postgresImage: "postgres:15-alpine" is not allowed: it must pin a full version, not the moving tag "15-alpine"\.$/],
    ['wrong major version', { postgresImage: 'postgres:16.4-alpine' }, /^postgresImage: "postgres:16.4-alpine" is not allowed: it must be version 15, not 16.4-alpine\.$/],
    ['not an image reference', { pgbouncerImage: 'Edoburu/PgBouncer:v1' }, /^pgbouncerImage: .* it must be an image reference/],
    ['an Adminer base image on a moving tag', { adminerBaseImage: 'debian:bookworm-slim' }, /^adminerBaseImage: "debian:bookworm-slim" is not allowed: it must pin a full version, not the moving tag/],
    ['an Adminer base image not bookworm', { adminerBaseImage: 'debian:13.3-slim' }, /^adminerBaseImage: "debian:13\.3-slim" is not allowed: it must be a Debian bookworm image .*the image installs bookworm's adminer 4\.8\.1-1, the release the tests run\.$/],
    ['the official adminer image, which the stack no longer pulls', { adminerBaseImage: 'adminer:4.17.1-standalone' }, /^adminerBaseImage: .* it must be a Debian bookworm image/],
    ['the key Adminer\'s image had before', { adminerImage: 'adminer:4.17.1-standalone' }, /^adminerImage: unknown key\. Remove it with `pulumi config rm adminerImage`/],
    ['invalid bucket name', { bucketPrefix: 'Staging_' }, /^bucketPrefix: "Staging_" makes the documents bucket "Staging_documents", which may hold only lowercase letters/],
    ['bucket name too long', { bucketPrefix: 'x'.repeat(60) }, /^bucketPrefix: .* which must be 3 to 63 characters long\.$/],
    ['boolean spelt otherwise', { protectData: 'yes' }, /^protectData: "yes" is not true or false\./],
    ['bind address not an address', { bindAddress: 'localhost' }, /^bindAddress: "localhost" is not allowed: it must be an IPv4 address/],
    ['pool larger than PostgreSQL allows', { pgbouncerPoolSize: '190' }, /^pgbouncerPoolSize: "190" is not allowed: it must be 1 to 180 \(PostgreSQL accepts 200, 20 kept/],
    ['typo in a key', { postgresMemroyMb: '2048' }, /^postgresMemroyMb: unknown key\. Did you mean postgresMemoryMb\? Remove it with `pulumi config rm postgresMemroyMb`/],
    ['typo under a path', { postgres: JSON.stringify({ memroyMb: 2048 }) }, /^postgres: unknown key\. Did you mean postgresMemoryMb\?/],
    ['unknown key with no near match', { colour: 'blue' }, /^colour: unknown key\. Remove it/],
  ])('%s', (_, values, message) => {
    const found = problems(values);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  test('external servers: what each needs, TLS only, no admin tools beside them', () => {
    const secretKeys = ['externalPostgresAdminPassword', 'externalS3AccessKey', 'externalS3SecretKey', 'externalRedisUrl'];
    const external = (values: Record<string, string>) => problems(values, 'dev', {}, secretKeys);
    expect(external({ externalPostgresHost: 'db.example.com' })).toEqual([
      expect.stringMatching(/^externalPostgresAdminPassword: required with externalPostgresHost; set it with `pulumi config set --secret externalPostgresAdminPassword`\.$/),
    ]);
    expect(external({ externalS3Endpoint: 'minio.example.com:9000' })).toEqual([
      expect.stringMatching(/^externalS3AccessKey: required with externalS3Endpoint; set it with `pulumi config set --secret externalS3AccessKey`/),
      expect.stringMatching(/^externalS3SecretKey: required with externalS3Endpoint; set it with `pulumi config set --secret externalS3SecretKey`/),
      "bucketPrefix: required with externalS3Endpoint, whose buckets other stacks may share: give this stack's a prefix of its own (`pulumi config set bucketPrefix <name>-`).",
    ]);
    expect(external({ externalPostgresHost: 'db.example.com', externalPostgresAdminPassword: 'pw-123456', externalPostgresSslMode: 'disable' })).toEqual([
      'externalPostgresSslMode: "disable" is not allowed: it must be one of require, verify-ca, verify-full.',
    ]);
    expect(external({ externalPostgresHost: 'postgres://db.example.com:5432' })).toEqual([
      expect.stringMatching(/^externalPostgresHost: "postgres:\/\/db.example.com:5432" is not allowed: it must be a host name or IP address, without scheme or port\.$/),
    ]);
    expect(external({ externalS3Endpoint: 'https://minio.example.com', externalS3AccessKey: 'a', externalS3SecretKey: 'b', bucketPrefix: 'x-' })).toEqual([
      expect.stringMatching(/^externalS3Endpoint: .* it must be host:port, without scheme/),
    ]);
    expect(external({ externalPostgresHost: 'db.example.com', externalPostgresAdminPassword: 'pw-123456', adminTools: 'true' })).toEqual([
      expect.stringMatching(/^adminTools: the admin tools run beside the stack's own PostgreSQL and MinIO containers/),
    ]);
    expect(external({ externalPostgresSslRootCert: 'certs/ca.pem' })).toEqual([
      'externalPostgresSslRootCert: "certs/ca.pem" is not allowed: it must be an absolute path without spaces, ? & or #.',
    ]);
    // With every server external, the containers' host ports are not published, so they cannot clash.
    const all = { externalPostgresHost: 'db.example.com', externalPostgresAdminPassword: 'pw-123456', externalRedisUrl: 'rediss://a:b@c:6380' };
    expect(external({ ...all, externalS3Endpoint: 'm.example.com:9000', externalS3AccessKey: 'a', externalS3SecretKey: 'b', bucketPrefix: 'x-', postgresPort: '6379', redisPort: '6379', minioApiPort: '6379' })).toEqual([]);
  });

  test("names on external servers carry the stack's namespace; on its own containers they are the fixed ones", () => {
    const secretKeys = ['externalPostgresAdminPassword', 'externalS3AccessKey', 'externalS3SecretKey'];
    const external = { externalPostgresHost: 'db.example.com', externalPostgresAdminPassword: 'pw', externalS3Endpoint: 'm.example.com:9000', externalS3AccessKey: 'a', externalS3SecretKey: 'b', bucketPrefix: 'qa-' };
    const qa = loadConfig('QA.Stack', { allowDevState: 'true', ...external, externalNamespace: 'qa-1' }, {}, secretKeys).names;
    expect(qa.postgres).toEqual({ database: 'pronunciation_assistant_qa_1', roles: { migrator: 'pa_qa_1_migrator', app: 'pa_qa_1_app', readonly: 'pa_qa_1_readonly', backup: 'pa_qa_1_backup' } });
    expect(qa.storage.users).toEqual({ app: 'pa-qa-1-app', backup: 'pa-qa-1-backup' });
    expect(qa.storage.policies).toEqual({ app: 'pa-qa-1-app-policy', backup: 'pa-qa-1-backup-policy' });
    expect(qa.storage.buckets.documents).toBe('qa-documents');
    // The stack's name is the namespace by default, where it makes one.
    expect(loadConfig('staging', { allowDevState: 'true', ...external }, {}, secretKeys).names.postgres.database).toBe('pronunciation_assistant_staging');
    expect(problems({ ...external }, '9-lives', {}, secretKeys)).toEqual([expect.stringMatching(/^externalNamespace: the stack's name "9-lives" makes no namespace.*pulumi config set externalNamespace <name>/)]);
    expect(problems({ externalNamespace: 'Has Spaces' })).toEqual([expect.stringMatching(/^externalNamespace: "Has Spaces" is not allowed: it must be up to 24 lowercase letters/)]);
    const own = loadConfig('dev', { allowDevState: 'true' }).names;
    expect(own.postgres).toEqual({ database: 'pronunciation_assistant', roles: { migrator: 'pa_migrator', app: 'pa_app', readonly: 'pa_readonly', backup: 'pa_backup' } });
    expect(own.storage.users).toEqual({ app: 'pa-app', backup: 'pa-backup' });
  });

  test('a secret key in plain text is refused, and no message shows a secret value', () => {
    const value = 'rediss://app:do-not-print-me@cache:6380';
    const plainText = problems({ externalRedisUrl: value });
    expect(plainText).toEqual([
      'externalRedisUrl: is stored in plain text in Pulumi.dev.yaml; set it with `pulumi config set --secret externalRedisUrl` (and rotate it).',
    ]);
    const invalid = problems({ externalRedisUrl: 'http://do-not-print-me' }, 'dev', {}, ['externalRedisUrl']);
    expect(invalid).toEqual(['externalRedisUrl: its value (not shown) is not allowed: it must be a redis:// or rediss:// URL.']);
    const unknown = problems({ externalRedisUrll: value }, 'dev', {}, ['externalRedisUrll']);
    expect(unknown).toEqual([expect.stringMatching(/^externalRedisUrll: unknown key\. Did you mean externalRedisUrl\?/)]);
    expect(JSON.stringify([plainText, invalid, unknown])).not.toContain('do-not-print-me');
  });

  test('secrets reach the program as Pulumi secrets, never as plain strings', async () => {
    const config = loadConfig('dev', { allowDevState: 'true', externalRedisUrl: 'rediss://a:b@c:6380' }, {}, ['externalRedisUrl']);
    expect(await pulumi.isSecret(config.externalRedisUrl)).toBe(true);
    expect(await pulumi.isSecret(config.externalPostgresAdminPassword)).toBe(true); // unset: '' but still a secret
    expect(config.external).toEqual({ postgres: false, storage: false, redis: true });
  });

  test('every problem at once, in one error that says nothing was changed', () => {
    expect(() => loadConfig('dev', { allowDevState: 'true', postgresPort: 'x', redisImage: 'redis', colour: 'blue' })).toThrow(
      /^Stack "dev" has invalid configuration; nothing was changed:\n {2}- colour: .*\n {2}- postgresPort: .*\n {2}- redisImage: /,
    );
  });
});

describe('state and passphrase of shared stacks', () => {
  test('dev may keep state in the project folder with the documented passphrase', () => {
    expect(problems({}, 'dev', { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE })).toEqual([]);
  });

  test('a shared stack refuses the dev passphrase and project-folder state', () => {
    const found = problems({ allowDevState: 'false' }, 'staging', { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE });
    expect(found).toEqual([
      expect.stringMatching(/^PULUMI_CONFIG_PASSPHRASE: stack "staging" needs a passphrase of its own, at least 16 characters/),
      expect.stringMatching(/^PULUMI_BACKEND_URL: stack "staging" keeps its state outside the project folder\./),
    ]);
    expect(problems({ allowDevState: 'false' }, 'prod', { PULUMI_BACKEND_URL: 'file://./.pulumi-state' })).toEqual([
      expect.stringMatching(/^PULUMI_BACKEND_URL/),
    ]);
  });

  test('a shared stack refuses the dev passphrase from a passphrase file too', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'pa-pass-')), 'passphrase');
    writeFileSync(file, `  ${DEV_PASSPHRASE}\n`);
    const found = problems({ allowDevState: 'false' }, 'prod', { PULUMI_CONFIG_PASSPHRASE_FILE: file, PULUMI_BACKEND_URL: 's3://b/p' });
    expect(found).toEqual([expect.stringMatching(/^PULUMI_CONFIG_PASSPHRASE_FILE: stack "prod" needs a passphrase of its own/)]);
  });

  test('a shared stack runs with its own backend and passphrase, or a secrets provider (no passphrase at all)', () => {
    expect(problems({ allowDevState: 'false' }, 'prod', SHARED_STACK_ENV)).toEqual([]);
    expect(problems({ allowDevState: 'false' }, 'prod', { PULUMI_BACKEND_URL: 'file:///srv/pulumi-state' })).toEqual([]);
  });
});

test('an Adminer base image is pinned Debian bookworm: a point release, or a tag naming bookworm with a digest', () => {
  const adminerBase = (ref: string) => loadConfig('dev', { allowDevState: 'true', adminerBaseImage: ref }).adminerBaseImage;
  for (const ref of ['debian:12.15-slim', 'debian:12.13', 'docker.io/library/debian:12.15-slim', `debian:bookworm-slim@sha256:${'a'.repeat(64)}`]) {
    expect(adminerBase(ref)).toBe(ref);
  }
  expect(CONFIG_KEYS.adminerBaseImage.default).toBe('debian:12.15-slim');
  expect(() => adminerBase(`debian@sha256:${'a'.repeat(64)}`)).toThrow(/it must be a Debian bookworm image/);
});

describe('the program validates before it declares anything', () => {
  test('a bad value stops `pulumi up` with the ConfigError, and no resource is declared', async () => {
    await expect(runProgram('dev', { config: { postgresMemoryMb: '100' } })).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringContaining('postgresMemoryMb: "100" is not allowed: it must be at least 256 (MiB).'),
      declared: [],
    });
  });

  test('prod without a backend of its own is refused before any resource exists', async () => {
    await expect(runProgram('prod', { env: {} })).rejects.toMatchObject({ name: 'ConfigError', declared: [] });
  });
});

describe('pure checks', () => {
  test.each([
    ['postgres:15.19-alpine', undefined],
    ['docker.io/library/postgres:15.19-alpine3.22', undefined],
    ['registry.example.com:5000/team/redis:7.4.11', undefined],
    [`postgres@sha256:${'a'.repeat(64)}`, undefined],
    ['minio/minio:RELEASE.2024-01-01T16-36-33Z', undefined],
    ['postgres:alpine', 'pin a full version, not the moving tag "alpine"'],
    ['redis:7', 'pin a full version, not the moving tag "7"'],
  ])('image %s', (ref, problem) => {
    expect(imageProblem(ref)).toBe(problem);
  });

  test.each([
    ['documents', undefined],
    ['staging-temp', undefined],
    ['my.bucket.1', undefined],
    ['ab', 'must be 3 to 63 characters long'],
    ['-temp', 'may hold only lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit'],
    ['a..b', 'must not have two dots, or a dot next to a hyphen'],
    ['192.168.1.10', 'must not look like an IP address'],
    ['xn--temp', 'uses a prefix or suffix S3 reserves'],
  ])('bucket %s', (name, problem) => {
    expect(bucketNameProblem(name)).toBe(problem);
  });
});

test('README documents every configuration key', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Configuration'), readme.indexOf('## Install and test'));
  for (const key of Object.keys(CONFIG_KEYS)) expect([key, section.includes(`\`${key}\``)]).toEqual([key, true]);
});
