import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as command from '@pulumi/command';
import * as docker from '@pulumi/docker';
import * as minio from '@pulumi/minio';
import type { Policies } from '@pulumi/policy';
import { EnforcementLevel } from '@pulumi/pulumi/proto/analyzer_pb';
import { policies } from '../policy/rules';
import { bucketsPrivate } from '../policy/rules/buckets';
import { TYPES } from '../policy/rules/common';
import { dockerObjectsNamed, serviceContainersComplete } from '../policy/rules/containers';
import { dataProtected, DESTROY_GUARD, destroyGuardCoversStack, PREPARE_STEP } from '../policy/rules/data';
import { buildProblems, imagesPinned } from '../policy/rules/images';
import { adminToolsOnlyWhenEnabled, portsOnBindAddress } from '../policy/rules/ports';
import { explicitProviders } from '../policy/rules/providers';
import { credentialsInArgs, noPlainCredentials } from '../policy/rules/secrets';
import { readStackSettings } from '../policy/settings';
import { ADMIN_BIND_ADDRESS, MINIO, POSTGRES } from '../stacks/services';
import { anonymousDownloadPolicy } from '../stacks/inside/storage-policies';
import type { Declared } from './helpers/pulumi-mocks';
import {
  analyzeOverRpc,
  analyzerInfo,
  analyzeRun,
  analyzeStackOverRpc,
  checkResource,
  checkStack,
  configureStack,
  packEnv,
  POLICY_DIR,
  type RunningPack,
  settingsOf,
  startPack,
  variant,
} from './helpers/policy-pack';
import { byType, committedStackConfig, CONTAINER_STACKS, one, type ProgramRun, ROOT, runCommittedStacks, runProgram, STACKS } from './helpers/program';

jest.setTimeout(180_000);

/** How the engine sends a value it cannot know during preview (sdk/go/common/resource/plugin/rpc.go, UnknownStringValue). */
const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
const DIGEST = 'a'.repeat(64);

let runs: Awaited<ReturnType<typeof runCommittedStacks>>;
beforeAll(async () => {
  runs = await runCommittedStacks();
});
const run = (stack: string): ProgramRun => runs.get(stack)!.run;
const pack = (stack: string, config?: Record<string, string>): Policies => policies(settingsOf(stack, { config }));

/** The violations a resource rule reports for a resource of a committed stack (or a variant of one). */
const check = (policy: Policies[number], stack: string, entry: Declared, r: ProgramRun = run(stack)) => checkResource(policy, entry, r, stack);
const passes = async (policy: Policies[number], stack: string, entries: Declared[], r?: ProgramRun) => {
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) expect([entry.name, await check(policy, stack, entry, r)]).toEqual([entry.name, []]);
};
const container = (stack: string, name: string) => one(run(stack), TYPES.container, name);

describe('the pack', () => {
  test('every rule is mandatory, with a name and a description', () => {
    const all = pack('dev');
    expect(all.map((p) => p.name)).toEqual([
      'images-pinned',
      'ports-on-bind-address',
      'admin-tools-only-with-admin-tools',
      'data-protected',
      'destroy-guard-covers-stack',
      'no-credentials-in-container-config',
      'service-containers-complete',
      'docker-objects-named-per-stack',
      'explicit-providers',
      'buckets-private',
    ]);
    for (const p of all) {
      expect([p.name, p.enforcementLevel]).toEqual([p.name, 'mandatory']);
      expect(p.description.length).toBeGreaterThan(60);
    }
  });

  test("the resource types the rules name are the provider SDKs' own", () => {
    const typeOf = (c: unknown) => (c as { __pulumiType: string }).__pulumiType;
    expect(TYPES).toEqual({
      container: typeOf(docker.Container),
      volume: typeOf(docker.Volume),
      network: typeOf(docker.Network),
      remoteImage: typeOf(docker.RemoteImage),
      image: typeOf(docker.Image),
      command: typeOf(command.local.Command),
      bucket: typeOf(minio.S3Bucket),
      bucketPolicy: typeOf(minio.S3BucketPolicy),
    });
  });

  test.each(STACKS)('everything stack %s declares passes every rule', async (stack) => {
    expect(await analyzeRun(pack(stack), run(stack), stack)).toEqual([]);
  });

  test('the steps the data rules name are in every committed stack', () => {
    for (const stack of STACKS) {
      const commands = byType(run(stack), TYPES.command).map((d) => d.name);
      expect([stack, commands.filter((n) => n === PREPARE_STEP).length, commands.filter((n) => n === DESTROY_GUARD).length]).toEqual([stack, 2, 1]);
    }
  });
});

describe("the stack's settings, as the Pulumi CLI hands them to the pack", () => {
  test.each(STACKS)('stack %s', (stack) => {
    const config = committedStackConfig(stack);
    expect(readStackSettings(packEnv(stack))).toEqual({
      settings: {
        project: 'pronunciation-assistant',
        stack,
        bindAddress: config.bindAddress,
        protectData: config.protectData,
        adminTools: config.adminTools,
        bucketPrefix: config.bucketPrefix,
      },
    });
  });

  test('without them, every rule that needs them refuses, saying why', async () => {
    const env = packEnv('dev');
    expect(readStackSettings({ ...env, PULUMI_CONFIG: undefined }).problem).toMatch(/^the Pulumi CLI passed no stack configuration \(PULUMI_CONFIG\).*pulumi preview --stack <stack> --policy-pack policy/);
    expect(readStackSettings({ ...env, PULUMI_NODEJS_STACK: undefined }).problem).toMatch(/did not name the project and stack/);
    const config = JSON.parse(env.PULUMI_CONFIG);
    delete config['pronunciation-assistant:bindAddress'];
    expect(readStackSettings({ ...env, PULUMI_CONFIG: JSON.stringify(config) }).problem).toMatch(/lacks pronunciation-assistant:bindAddress/);
    config['pronunciation-assistant:bindAddress'] = '127.0.0.1';
    config['pronunciation-assistant:protectData'] = 'yes';
    expect(readStackSettings({ ...env, PULUMI_CONFIG: JSON.stringify(config) }).problem).toBe('pronunciation-assistant:protectData is "yes", not true or false');
    // The program's own form of the keys (<project>:config:<key>) is read too.
    const programForm = Object.fromEntries(Object.entries(JSON.parse(env.PULUMI_CONFIG)).map(([k, v]) => [k.replace(':', ':config:'), v]));
    expect(readStackSettings({ ...env, PULUMI_CONFIG: JSON.stringify(programForm) }).settings?.bindAddress).toBe('127.0.0.1');

    const missing = () => readStackSettings({});
    const postgres = container('dev', 'postgres');
    for (const rule of [portsOnBindAddress(missing), adminToolsOnlyWhenEnabled(missing)]) {
      expect(await check(rule, 'dev', postgres)).toEqual([expect.stringMatching(/did not name the project and stack/)]);
    }
    expect(await check(dataProtected(missing), 'dev', one(run('dev'), TYPES.volume, 'postgres-data'))).toHaveLength(1);
    expect(await check(bucketsPrivate(missing), 'dev', one(run('dev'), TYPES.bucketPolicy, 'temp-anonymous-download'))).toHaveLength(1);
    expect(await checkStack(destroyGuardCoversStack(missing), run('dev'), 'dev')).toHaveLength(1);
  });
});

describe('images-pinned', () => {
  const postgresImage = () => one(run('prod'), TYPES.remoteImage, 'postgres-image');

  test("passes every committed stack's pulled images, built image and containers", async () => {
    for (const stack of CONTAINER_STACKS) {
      await passes(imagesPinned, stack, [...byType(run(stack), TYPES.remoteImage), ...byType(run(stack), TYPES.image), ...byType(run(stack), TYPES.container)]);
    }
    await passes(imagesPinned, 'prod', [variant(postgresImage(), { props: (p) => (p.name = `postgres@sha256:${DIGEST}`) })]);
  });

  test.each([
    ['postgres:latest', /must not be latest/],
    ['postgres', /must name a version tag or a digest/],
    ['postgres:15-alpine', /must pin a full version, not the moving tag "15-alpine"/],
    ['postgres:16.4-alpine', /must be version 15, not 16.4-alpine/],
  ])('refuses a pulled image %s', async (name, why) => {
    const messages = await check(imagesPinned, 'prod', variant(postgresImage(), { props: (p) => (p.name = name) }));
    expect(messages).toEqual([expect.stringMatching(new RegExp(`^RemoteImage "postgres-image" pulls "${name}", which ${why.source}.*; set the stack's image key`))]);
  });

  test("refuses a build whose base image moves, through its build argument or the Dockerfile's FROM", async () => {
    const image = one(run('prod'), TYPES.image, 'backups-image');
    expect(await check(imagesPinned, 'prod', variant(image, { props: (p) => (p.build.args.BASE_IMAGE = 'node:22-bookworm-slim') }))).toEqual([
      expect.stringMatching(/^Image "backups-image": .*backup\.Dockerfile:11 builds FROM \$\{BASE_IMAGE\} = "node:22-bookworm-slim", which must pin a full version/),
      expect.stringMatching(/backup\.Dockerfile:23 builds FROM \$\{BASE_IMAGE\}/),
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-policy-'));
    try {
      const dockerfile = path.join(dir, 'Dockerfile');
      fs.writeFileSync(dockerfile, 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE} AS bundle\nFROM node:latest\nCOPY --from=bundle /app /app\nFROM bundle\nFROM ${OTHER}\n');
      const messages = await check(imagesPinned, 'prod', variant(image, { props: (p) => (p.build.dockerfile = dockerfile) }));
      expect(messages).toEqual([
        expect.stringMatching(/Dockerfile:3 builds FROM "node:latest", which must not be latest/),
        expect.stringMatching(/Dockerfile:6 builds FROM \$\{OTHER\}, a build argument the resource does not set/),
      ]);
      expect(await check(imagesPinned, 'prod', variant(image, { props: (p) => (p.build.dockerfile = path.join(dir, 'missing')) }))).toEqual([
        expect.stringMatching(/its Dockerfile .*missing cannot be read/),
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(buildProblems('Dockerfile', 'FROM scratch\nFROM node@sha256:' + DIGEST + ' AS x\nFROM x\n', {})).toEqual([]);
  });

  test('refuses a container that runs a moving tag; skips an image ID that is unknown during preview', async () => {
    const redis = container('prod', 'redis');
    expect(await check(imagesPinned, 'prod', variant(redis, { props: (p) => (p.image = 'redis:7-alpine') }))).toEqual([
      expect.stringMatching(/^Container "redis" runs "redis:7-alpine", which must pin a full version/),
    ]);
    await passes(imagesPinned, 'prod', [variant(redis, { props: (p) => (p.image = UNKNOWN) }), variant(redis, { props: (p) => (p.image = 'redis:7.4.11-alpine') })]);
  });
});

describe('ports-on-bind-address', () => {
  test('passes every container of every committed stack, and services on another bindAddress with admin UIs on loopback', async () => {
    for (const stack of STACKS) for (const c of byType(run(stack), TYPES.container)) expect(await check(portsOnBindAddress(settingsOf(stack)), stack, c)).toEqual([]);
    const open = await runProgram('dev', { config: { bindAddress: '0.0.0.0' } });
    await passes(portsOnBindAddress(settingsOf('dev', { config: { bindAddress: '0.0.0.0' } })), 'dev', byType(open, TYPES.container), open);
  });

  test('refuses a service port on another address, or on every address by default', async () => {
    const rule = portsOnBindAddress(settingsOf('dev'));
    const postgres = container('dev', 'postgres');
    expect(await check(rule, 'dev', variant(postgres, { props: (p) => (p.ports[0].ip = '0.0.0.0') }))).toEqual([
      `Container "postgres" publishes port ${POSTGRES.port} (host 15432) on 0.0.0.0: not the stack's bindAddress 127.0.0.1; set its ip to 127.0.0.1.`,
    ]);
    expect(await check(rule, 'dev', variant(postgres, { props: (p) => delete p.ports[0].ip }))).toEqual([expect.stringMatching(/on 0\.0\.0\.0: not the stack's bindAddress/)]);
    expect(await check(rule, 'dev', variant(postgres, { props: (p) => (p.publishAllPorts = true) }))).toEqual([expect.stringMatching(/sets publishAllPorts/)]);
    expect(await check(rule, 'dev', variant(postgres, { props: (p) => (p.networkMode = 'host') }))).toEqual([expect.stringMatching(/uses the host's network/)]);
  });

  test("refuses an admin UI anywhere but loopback, even on the stack's bindAddress", async () => {
    const open = await runProgram('dev', { config: { bindAddress: '0.0.0.0' } });
    const rule = portsOnBindAddress(settingsOf('dev', { config: { bindAddress: '0.0.0.0' } }));
    const adminer = one(open, TYPES.container, 'adminer');
    expect(await check(rule, 'dev', variant(adminer, { props: (p) => (p.ports[0].ip = '0.0.0.0') }), open)).toEqual([
      `Container "adminer" publishes port 8080 (host 18081) on 0.0.0.0: an admin UI, which is only ever published on ${ADMIN_BIND_ADDRESS}; set its ip to ${ADMIN_BIND_ADDRESS}.`,
    ]);
    const minioContainer = one(open, TYPES.container, 'minio');
    const console_ = (p: { ports: { internal: number; ip: string }[] }) => p.ports.find((x) => x.internal === MINIO.consolePort)!;
    expect(await check(rule, 'dev', variant(minioContainer, { props: (p) => (console_(p).ip = '0.0.0.0') }), open)).toEqual([expect.stringMatching(/^Container "minio" publishes port 9001 .* an admin UI/)]);
  });
});

describe('admin-tools-only-with-admin-tools', () => {
  test('passes the admin tools of dev, and a stack without them', async () => {
    await passes(adminToolsOnlyWhenEnabled(settingsOf('dev')), 'dev', byType(run('dev'), TYPES.container));
    await passes(adminToolsOnlyWhenEnabled(settingsOf('staging')), 'staging', byType(run('staging'), TYPES.container));
  });

  test("refuses Adminer and the MinIO console on a stack without adminTools", async () => {
    const rule = adminToolsOnlyWhenEnabled(settingsOf('staging'));
    expect(await check(rule, 'staging', container('dev', 'adminer'), run('dev'))).toEqual([expect.stringMatching(/^Container "adminer" runs on a stack without adminTools/)]);
    expect(await check(rule, 'staging', container('dev', 'minio'), run('dev'))).toEqual([
      expect.stringMatching(/^Container "minio" publishes its console \(port 9001\)/),
      expect.stringMatching(/switches its console on \(MINIO_BROWSER=on\)/),
    ]);
  });
});

describe('data-protected', () => {
  const dataOf = (stack: string) => [...byType(run(stack), TYPES.volume), ...byType(run(stack), TYPES.command).filter((d) => [PREPARE_STEP, DESTROY_GUARD].includes(d.name))];

  test('passes the protected data of prod and external, and the unprotected data of dev and staging', async () => {
    for (const stack of STACKS) await passes(dataProtected(settingsOf(stack)), stack, dataOf(stack));
    expect(dataOf('prod').every((d) => d.protect)).toBe(true);
    expect(dataOf('dev').some((d) => d.protect)).toBe(false);
    // Other steps hold no data: the post-deploy step is never protected.
    await passes(dataProtected(settingsOf('prod')), 'prod', [one(run('prod'), TYPES.command, 'migrate-and-seed')]);
  });

  test('refuses an unprotected volume, prepare step or destroy guard where the stack protects data', async () => {
    const rule = dataProtected(settingsOf('prod'));
    const unprotected = async (type: string, name: string) => check(rule, 'prod', variant(byType(run('prod'), type).find((d) => d.name === name)!, { protect: false }));
    expect(await unprotected(TYPES.volume, 'postgres-data')).toEqual([
      'Volume "postgres-data" holds data but is not protected on a stack with protectData; declare it with `protect: config.protectData`.',
    ]);
    expect(await unprotected(TYPES.command, PREPARE_STEP)).toEqual([expect.stringMatching(/^Command "prepare" makes the stack's database or buckets but is not protected/)]);
    expect(await unprotected(TYPES.command, DESTROY_GUARD)).toEqual([expect.stringMatching(/^Command "destroy-guard" is what stops `pulumi destroy` but is not protected/)]);
  });
});

describe('destroy-guard-covers-stack', () => {
  const guard = (stack: string) => one(run(stack), TYPES.command, DESTROY_GUARD);

  test('passes every committed stack', async () => {
    for (const stack of STACKS) expect(await checkStack(destroyGuardCoversStack(settingsOf(stack)), run(stack), stack)).toEqual([]);
  });

  test('refuses, where the stack protects data, a resource the guard does not depend on, an unprotected guard, or none', async () => {
    const rule = destroyGuardCoversStack(settingsOf('prod'));
    const volume = one(run('prod'), TYPES.volume, 'postgres-data');
    const g = guard('prod');
    const loose = { ...g, dependencies: g.dependencies.filter((urn) => urn !== volume.urn) };
    const others = run('prod').declared.filter((d) => d !== g);
    expect(await checkStack(rule, run('prod'), 'prod', [...others, loose])).toEqual([
      { policy: 'destroy-guard-covers-stack', urn: volume.urn, message: expect.stringMatching(/^Volume "postgres-data" is not among destroy-guard's dependencies/) },
    ]);
    expect(await checkStack(rule, run('prod'), 'prod', [...others, { ...g, protect: false }])).toEqual([
      { policy: 'destroy-guard-covers-stack', urn: g.urn, message: 'Command "destroy-guard" is not protected on a stack with protectData.' },
    ]);
    expect(await checkStack(rule, run('prod'), 'prod', others)).toEqual([expect.objectContaining({ message: expect.stringMatching(/^The stack has 0 destroy-guard steps/) })]);
    // Without protectData nothing is asked of the guard.
    expect(await checkStack(destroyGuardCoversStack(settingsOf('dev')), run('dev'), 'dev', run('dev').declared.filter((d) => d.name !== DESTROY_GUARD))).toEqual([]);
  });
});

describe('no-credentials-in-container-config', () => {
  test("passes every committed stack's containers and images, whose credentials are all in uploaded files", async () => {
    for (const stack of CONTAINER_STACKS) await passes(noPlainCredentials, stack, [...byType(run(stack), TYPES.container), ...byType(run(stack), TYPES.image)]);
    // ...which are there: the uploads hold passwords and SCRAM secrets the rule does not read.
    expect(JSON.stringify(container('prod', 'postgres').raw)).toContain('SCRAM-SHA-256$');
  });

  const secret = 'a-password-of-32-letters-and-digits';
  const postgres = () => container('prod', 'postgres');
  test.each([
    ['an environment variable', (p: any) => p.envs.push(`POSTGRES_PASSWORD=${secret}`), /environment variable POSTGRES_PASSWORD is a credential/],
    ['an S3 key in the environment', (p: any) => p.envs.push(`S3_SECRET_KEY=${secret}`), /environment variable S3_SECRET_KEY is a credential/],
    ['a URL with a password', (p: any) => p.envs.push(`DATABASE_URL=postgresql://pa_app:${secret}@postgres:5432/db`), /environment variable DATABASE_URL holds a URL with a password/],
    ['a flag and its value in the command', (p: any) => p.command.push('--requirepass', secret), /command: --requirepass <value>/],
    ['a flag=value in the entrypoint', (p: any) => p.entrypoints.push(`--password=${secret}`), /entrypoint: --password=\.\.\./],
    ['a variable in a shell health check', (p: any) => (p.healthcheck.tests = ['CMD-SHELL', `PGPASSWORD=${secret} pg_isready`]), /health check: PGPASSWORD=\.\.\./],
    ['a SCRAM secret in a label', (p: any) => p.labels.push({ label: 'org.example.login', value: `SCRAM-SHA-256$4096:${secret}` }), /label org\.example\.login holds a SCRAM secret/],
    ['a token label', (p: any) => p.labels.push({ label: 'org.example.token', value: secret }), /label org\.example\.token is a credential/],
  ])('refuses %s, without repeating it', async (_what, change, why) => {
    const messages = await check(noPlainCredentials, 'prod', variant(postgres(), { props: change }));
    expect(messages).toEqual([expect.stringMatching(new RegExp(`^Container "postgres": ${why.source}, in plain text on the Docker host; upload it as a file`))]);
    expect(messages.join('')).not.toContain(secret);
  });

  test('refuses a credential in an image build argument; passes settings about credentials and references to files', async () => {
    const image = one(run('prod'), TYPES.image, 'backups-image');
    expect(await check(noPlainCredentials, 'prod', variant(image, { props: (p) => (p.build.args.NPM_TOKEN = secret) }))).toEqual([
      expect.stringMatching(/^Image "backups-image": build argument NPM_TOKEN is a credential/),
    ]);
    const fine = variant(postgres(), {
      props: (p) => {
        p.envs.push('POSTGRES_PASSWORD_FILE=/run/secrets/x', 'PGPASSWORD=$SECRET_FROM_FILE', 'AUTH_METHOD_NOTE=');
        p.command.push('-c', 'password_encryption=scram-sha-256', '--auth-host=scram-sha-256', '--env-file=/run/secrets/backup.env');
      },
    });
    await passes(noPlainCredentials, 'prod', [fine]);
    expect(credentialsInArgs(['sh', '-c', `redis-cli --pass ${secret} ping`])).toEqual(['--pass <value>']);
  });
});

describe('service-containers-complete', () => {
  test('passes every container of every committed stack (the backup container not waited for)', async () => {
    for (const stack of CONTAINER_STACKS) await passes(serviceContainersComplete, stack, byType(run(stack), TYPES.container));
    expect(container('prod', 'backups').raw.wait).toBe(false);
  });

  test.each([
    ['no health check', (p: any) => delete p.healthcheck, /^Container "redis" has no health check \(healthcheck\.tests must be CMD or CMD-SHELL and a command, not \[\]\)/],
    ['a disabled health check', (p: any) => (p.healthcheck.tests = ['NONE']), /has no health check .*not \["NONE"\]/],
    ['a health check not waited for', (p: any) => (p.wait = false), /`pulumi up` does not wait for its health check/],
    ['no memory limit', (p: any) => delete p.memory, /has no memory limit/],
    ['extra swap', (p: any) => (p.memorySwap = -1), /may swap: memorySwap \(-1\) must equal memory \(512\)/],
    ['no restart policy', (p: any) => delete p.restart, /has restart policy "no", not unless-stopped/],
    ['logs that never rotate', (p: any) => (p.logDriver = 'json-file'), /logs with "json-file", not the rotating local driver/],
  ])('refuses %s', async (_what, change, why) => {
    expect(await check(serviceContainersComplete, 'prod', variant(container('prod', 'redis'), { props: change }))).toEqual([expect.stringMatching(why)]);
  });
});

describe('docker-objects-named-per-stack', () => {
  test('passes every container, volume and network of every committed stack', async () => {
    for (const stack of CONTAINER_STACKS) {
      await passes(dockerObjectsNamed, stack, [...byType(run(stack), TYPES.container), ...byType(run(stack), TYPES.volume), ...byType(run(stack), TYPES.network)]);
    }
  });

  test('refuses an object named or labelled for no stack, or for another', async () => {
    const redis = container('dev', 'redis');
    expect(await check(dockerObjectsNamed, 'dev', variant(redis, { props: (p) => (p.name = 'redis') }))).toEqual([
      'Container "redis" is named "redis", not after its project and stack (pronunciation-assistant-dev-<service>); name it with Naming.docker (stacks/naming.ts).',
    ]);
    expect(await check(dockerObjectsNamed, 'dev', variant(redis, { props: (p) => (p.labels[1].value = 'prod') }))).toEqual([
      expect.stringMatching(/^Container "redis" lacks the label org\.pronunciation-assistant\.stack=dev \(it has "prod"\)/),
    ]);
    expect(await check(dockerObjectsNamed, 'dev', variant(one(run('dev'), TYPES.volume, 'redis-data'), { props: (p) => delete p.labels }))).toHaveLength(3);
  });
});

describe('explicit-providers', () => {
  test("passes every PostgreSQL and MinIO resource of every committed stack, on the stack's own providers", async () => {
    for (const stack of STACKS) {
      const inside = run(stack).declared.filter((d) => /^(postgresql|minio):/.test(d.type));
      expect(inside.length).toBeGreaterThan(20);
      await passes(explicitProviders, stack, inside);
    }
  });

  test('refuses one on the default provider, on a provider of another package, or on none', async () => {
    const role = one(run('external'), 'postgresql:index/role:Role', 'role-app');
    const defaultName = `default_${(require('@pulumi/postgresql/package.json') as { version: string }).version.replace(/[.-]/g, '_')}`;
    expect(await check(explicitProviders, 'external', variant(role, { provider: '' }))).toEqual([
      expect.stringMatching(new RegExp(`^Role "role-app" goes through the default postgresql provider \\(${defaultName}\\); pass \\{ provider \\}`)),
    ]);
    const minioProvider = one(run('external'), 'pulumi:providers:minio', 'minio');
    expect(await check(explicitProviders, 'external', variant(role, { provider: `${minioProvider.urn}::minio-id` }))).toEqual([
      expect.stringMatching(/goes through a provider of type pulumi:providers:minio/),
    ]);
    // No provider at all: the engine always names one, so only a rule called by hand sees this.
    const messages: string[] = [];
    const validate = explicitProviders.validateResource as (args: unknown, report: (m: string) => void) => void;
    validate({ type: role.type, name: role.name, urn: role.urn, props: {}, opts: {} }, (m) => messages.push(m));
    expect(messages).toEqual([expect.stringMatching(/^Role "role-app" has no provider/)]);
  });
});

describe('buckets-private', () => {
  const tempPolicy = (stack: string) => one(run(stack), TYPES.bucketPolicy, 'temp-anonymous-download');

  test("passes each committed stack's public download policy, on its temp bucket (with the stack's prefix)", async () => {
    for (const stack of STACKS) await passes(bucketsPrivate(settingsOf(stack)), stack, byType(run(stack), TYPES.bucketPolicy));
    expect(tempPolicy('staging').raw.bucket).toBe('staging-temp');
  });

  test('refuses anonymous access to another bucket, or more than downloads', async () => {
    const rule = bucketsPrivate(settingsOf('staging'));
    const onBucket = (bucket: string, doc: object) => variant(tempPolicy('staging'), { props: (p) => ((p.bucket = bucket), (p.policy = JSON.stringify(doc))) });
    expect(await check(rule, 'staging', onBucket('staging-documents', anonymousDownloadPolicy('staging-documents')))).toEqual([
      'S3BucketPolicy "temp-anonymous-download" grants anonymous access to staging-documents (statement AnonymousDownload), a private bucket; only staging-temp may be public; change the policy document (stacks/inside/storage-policies.ts).',
    ]);
    // Without the stack's prefix, temp is another stack's bucket.
    expect(await check(rule, 'staging', onBucket('temp', anonymousDownloadPolicy('temp')))).toEqual([expect.stringMatching(/grants anonymous access to temp/)]);
    const listing = anonymousDownloadPolicy('staging-temp');
    listing.Statement[0].Action.push('s3:ListBucket', 's3:PutObject');
    listing.Statement[0].Resource.push('arn:aws:s3:::staging-temp');
    expect(await check(rule, 'staging', onBucket('staging-temp', listing))).toEqual([
      expect.stringMatching(/lets anyone s3:ListBucket, s3:PutObject in staging-temp \(statement AnonymousDownload\); anyone may only download \(s3:GetObject\)/),
      expect.stringMatching(/opens arn:aws:s3:::staging-temp to anyone/),
    ]);
    const starPrincipal = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::staging-recordings/*' }] };
    expect(await check(rule, 'staging', onBucket('staging-recordings', starPrincipal))).toEqual([expect.stringMatching(/grants anonymous access to staging-recordings, a private bucket/)]);
    const denyAll = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: ['*'] }, Action: ['s3:*'], Resource: ['arn:aws:s3:::staging-documents/*'] }] };
    expect(await check(rule, 'staging', onBucket('staging-documents', denyAll))).toEqual([]);
  });

  test('refuses a bucket with a public canned ACL', async () => {
    const rule = bucketsPrivate(settingsOf('dev'));
    const bucket = (acl?: string): Declared => ({ ...tempPolicy('dev'), type: TYPES.bucket, name: 'documents', raw: { bucket: 'documents', ...(acl ? { acl } : {}) } });
    await passes(rule, 'dev', [bucket(), bucket('private')]);
    expect(await check(rule, 'dev', bucket('public-read'))).toEqual([expect.stringMatching(/^S3Bucket "documents" has the canned ACL "public-read"; make it private/)]);
    expect(await check(rule, 'dev', bucket('public'))).toHaveLength(1);
  });
});

describe('under the Pulumi CLI: the pack as its own process, spoken to over the analyzer protocol', () => {
  const packs = new Map<string, Promise<RunningPack>>();
  beforeAll(() => {
    // One process per stack, all at once: type checking dominates their start.
    for (const stack of STACKS) packs.set(stack, startPack(packEnv(stack)));
    for (const p of packs.values()) p.catch(() => undefined);
  });
  afterAll(async () => {
    for (const p of packs.values()) await p.then((x) => x.stop(), () => undefined);
  });

  test.each(STACKS)("stack %s: the pack starts, declares every rule mandatory, and finds nothing in what the stack declares", async (stack) => {
    const running = await packs.get(stack)!;
    const info = await analyzerInfo(running);
    expect([info.getName(), info.getVersion(), info.getSupportsconfig()]).toEqual(['pronunciation-assistant-invariants', '0.1.0', true]);
    expect(info.getPoliciesList().map((p) => [p.getName(), p.getEnforcementlevel()])).toEqual(pack(stack).map((p) => [p.name, EnforcementLevel.MANDATORY]));
    await configureStack(running, stack);
    const found = [];
    for (const entry of run(stack).declared) found.push(...(await analyzeOverRpc(running, entry, run(stack), stack)));
    found.push(...(await analyzeStackOverRpc(running, run(stack), stack)));
    expect(found).toEqual([]);
    expect(running.stderr()).toBe('');
  });

  test('a violation is a mandatory diagnostic naming the rule and the resource', async () => {
    const running = await packs.get('prod')!;
    const postgres = variant(container('prod', 'postgres'), { props: (p) => (p.ports[0].ip = '0.0.0.0') });
    expect(await analyzeOverRpc(running, postgres, run('prod'), 'prod')).toEqual([
      {
        policy: 'ports-on-bind-address',
        level: EnforcementLevel.MANDATORY,
        // The engine files a resource rule's diagnostic under the resource it analyzed (pulumi/pulumi
        // v3.248.0 pkg/resource/deploy/analyze_snapshot.go, analyzeResource), and a mandatory one
        // fails the preview (deployment_executor.go, stepGen.Errored).
        urn: '',
        message: expect.stringMatching(/^Every published port is bound to the stack's bindAddress.*\nContainer "postgres" publishes port 5432 \(host 5432\) on 0\.0\.0\.0: not the stack's bindAddress 127\.0\.0\.1/s),
      },
    ]);
    const volume = variant(one(run('prod'), TYPES.volume, 'postgres-data'), { protect: false });
    expect((await analyzeOverRpc(running, volume, run('prod'), 'prod')).map((d) => [d.policy, d.level])).toEqual([['data-protected', EnforcementLevel.MANDATORY]]);
  });

  test('during a preview, values not yet known leave the other checks of a resource in force', async () => {
    const running = await packs.get('prod')!;
    // A first preview: the image ID and the generated secrets in the uploads are not known yet.
    const preview = variant(container('prod', 'postgres'), {
      props: (p) => {
        p.image = UNKNOWN;
        for (const u of p.uploads) u.content = UNKNOWN;
      },
    });
    expect(await analyzeOverRpc(running, preview, run('prod'), 'prod')).toEqual([]);
    const stillChecked = variant(preview, { props: (p) => (p.restart = 'no') });
    expect((await analyzeOverRpc(running, stillChecked, run('prod'), 'prod')).map((d) => d.policy)).toEqual(['service-containers-complete']);
  });

  test('a type error in the pack stops it from starting, as it would stop `pulumi preview`', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-policy-pack-'));
    try {
      for (const entry of ['package.json', 'policy', 'common', 'stacks']) fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
      const file = path.join(dir, 'policy/rules/ports.ts');
      fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8')}\nexport const broken: number = 'not a number';\n`);
      await expect(startPack(packEnv('dev'), path.join(dir, 'policy'))).rejects.toThrow(/ports\.ts.*TS2322|TS2322.*ports\.ts/s);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the pack folder holds what the CLI needs', () => {
    expect(fs.readFileSync(path.join(POLICY_DIR, 'PulumiPolicy.yaml'), 'utf8')).toMatch(/^runtime:\n  name: nodejs\n/m);
    const pkg = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, 'package.json'), 'utf8'));
    const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.dependencies).toEqual({
      '@pulumi/policy': root.devDependencies['@pulumi/policy'],
      '@pulumi/pulumi': root.dependencies['@pulumi/pulumi'],
    });
  });
});
