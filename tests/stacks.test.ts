import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StackConfig } from '../stacks/config';
import { ADMINER_CONTEXT, ADMINER_DOCKERFILE, ADMINER_HEALTHCHECK, adminerBuildArgs } from '../stacks/containers/admin';
import { postgresCommand, postgresSettings } from '../stacks/containers/postgres-settings';
import { POSTGRES_ENTRYPOINT, SUPERUSER_PASSWORD_STEP } from '../stacks/containers/postgres';
import { APP_ENV } from '../common/names';
import { ADMINER, MINIO, PGBOUNCER, POSTGRES, REDIS } from '../stacks/services';
import { DATABASE_NAME, ROLES, STORAGE_USERS } from '../common/names';
import { plain, walk } from './helpers/pulumi-mocks';
import { byType, CONTAINER_STACKS, one, PROJECT, ROOT, runCommittedStacks, runProgram, type ProgramRun } from './helpers/program';
import { readDockerfile } from './helpers/dockerfile';

const CONTAINER = 'docker:index/container:Container';
const VOLUME = 'docker:index/volume:Volume';
const IMAGE = 'docker:index/remoteImage:RemoteImage';
const BUILT_IMAGE = 'docker:index/image:Image';
const ROLE = 'postgresql:index/role:Role';
const MINIO_PROVIDER = 'pulumi:providers:minio';

let runs: Awaited<ReturnType<typeof runCommittedStacks>>;

beforeAll(async () => {
  runs = await runCommittedStacks();
});

const get = (stack: string) => runs.get(stack)!;
const inputs = (run: ProgramRun, service: string) => plain(one(run, CONTAINER, service).raw);

describe.each(CONTAINER_STACKS)('stack %s', (stack) => {
  test('one component per service, every container and volume a child of its component', () => {
    const { run, config } = get(stack);
    const components = run.declared.filter((d) => !d.custom).map((d) => d.type).sort();
    const backups = config.backupIntervalHours > 0;
    const expected = [
      'Minio', 'Network', 'Pgbouncer', 'Postgres', 'Redis', 'Database', 'Storage', 'PostDeploy', ...(config.adminTools ? ['Admin'] : []), ...(backups ? ['Backups'] : []),
    ];
    expect(components).toEqual(expected.map((c) => `pronunciation:stack:${c}`).sort());
    // Every resource belongs to a component, but the destroy guard, which stands for the whole stack.
    for (const d of run.declared.filter((r) => r.custom && r.name !== 'destroy-guard')) expect(d.parent).toMatch(/::pronunciation:stack:\w+::/);
    const containers = byType(run, CONTAINER).map((d) => d.name).sort();
    expect(containers).toEqual(['minio', 'pgbouncer', 'postgres', 'redis', ...(config.adminTools ? ['adminer'] : []), ...(backups ? ['backups'] : [])].sort());
    expect(Object.keys(run.outputs.containers.value as object).sort()).toEqual(containers);
  });

  test('every container: pinned image, stack-named, health check waited on, restart policy, memory limit, labels, private network', () => {
    const { run, config } = get(stack);
    const images = new Map(byType(run, IMAGE).map((d) => [d.name, plain(d.raw)]));
    const built = new Map(byType(run, BUILT_IMAGE).map((d) => [d.name, d]));
    for (const d of byType(run, CONTAINER)) {
      const c = plain(d.raw);
      // The backup and Adminer images are built on the Docker host, not pulled: the container runs
      // the build's image ID (their pinned base images: tests/backups-stack.test.ts, the Adminer test below).
      const build = built.get(`${d.name}-image`);
      if (build) {
        expect([d.name, c.image]).toEqual([d.name, expect.stringMatching(/^sha256:[0-9a-f]{64}$/)]);
        expect(d.dependencies).toContain(build.urn);
      } else {
        const image = images.get(`${d.name}-image`);
        expect(image.name).toBe(config[`${d.name}Image` as keyof StackConfig]);
        expect(image.keepLocally).toBe(true);
      }
      // `up` waits for every container to be healthy but the backup container's first backup (tests/backups-stack.test.ts).
      if (d.name !== 'backups') expect(c.wait).toBe(true);
      expect(c.name).toBe(`${PROJECT}-${stack}-${d.name}`);
      expect(c.waitTimeout).toBeGreaterThan(0);
      expect(c.restart).toBe('unless-stopped');
      expect(c.healthcheck.tests.length).toBeGreaterThan(1);
      expect(['CMD', 'CMD-SHELL']).toContain(c.healthcheck.tests[0]);
      expect(c.memory).toBeGreaterThan(0);
      expect(c.memorySwap).toBe(c.memory);
      expect(c.labels).toEqual(
        expect.arrayContaining([
          { label: 'org.pronunciation-assistant.project', value: PROJECT },
          { label: 'org.pronunciation-assistant.stack', value: stack },
        ]),
      );
      expect(c.networksAdvanced).toEqual([{ name: `${PROJECT}-${stack}-net`, aliases: [expect.any(String)] }]);
    }
    expect(plain(one(run, 'docker:index/network:Network', 'network').raw)).toMatchObject({ name: `${PROJECT}-${stack}-net`, driver: 'bridge' });
  });

  test('memory limits are the configured ones', () => {
    const { run, config } = get(stack);
    expect(inputs(run, 'postgres').memory).toBe(config.postgresMemoryMb);
    expect(inputs(run, 'pgbouncer').memory).toBe(config.pgbouncerMemoryMb);
    expect(inputs(run, 'redis').memory).toBe(config.redisMemoryMb);
    expect(inputs(run, 'minio').memory).toBe(config.minioMemoryMb);
  });

  test('ports: the configured host ports, on loopback; the console and Adminer only with admin tools', () => {
    const { run, config } = get(stack);
    const published = byType(run, CONTAINER).flatMap((d) => (plain(d.raw).ports ?? []).map((p: object) => ({ service: d.name, ...p })));
    const expected = [
      { service: 'postgres', internal: POSTGRES.port, external: config.postgresPort },
      { service: 'pgbouncer', internal: PGBOUNCER.port, external: config.pgbouncerPort },
      { service: 'redis', internal: REDIS.port, external: config.redisPort },
      { service: 'minio', internal: MINIO.apiPort, external: config.minioApiPort },
      ...(config.adminTools
        ? [
            { service: 'minio', internal: MINIO.consolePort, external: config.minioConsolePort },
            { service: 'adminer', internal: 8080, external: config.adminerPort },
          ]
        : []),
    ].map((p) => ({ ...p, ip: '127.0.0.1', protocol: 'tcp' }));
    expect(published).toEqual(expect.arrayContaining(expected));
    expect(published).toHaveLength(expected.length);
  });

  test('data volumes: named per stack, never deleted with the stack, protected where the stack says so', () => {
    const { run, config } = get(stack);
    const volumes = byType(run, VOLUME);
    expect(volumes.map((v) => plain(v.raw).name).sort()).toEqual(
      ['backups', 'minio', 'postgres', 'redis'].filter((s) => s !== 'backups' || config.backupIntervalHours > 0).map((s) => `${PROJECT}-${stack}-${s}-data`),
    );
    for (const v of volumes) expect({ retainOnDelete: v.retainOnDelete, protect: v.protect }).toEqual({ retainOnDelete: true, protect: config.protectData });
    expect(config.protectData).toBe(stack === 'prod');
    const mounts = byType(run, CONTAINER).flatMap((d) => plain(d.raw).volumes ?? []);
    expect(mounts).toEqual(
      expect.arrayContaining([
        { volumeName: `${PROJECT}-${stack}-postgres-data`, containerPath: POSTGRES.dataDir },
        { volumeName: `${PROJECT}-${stack}-redis-data`, containerPath: REDIS.dataDir },
        { volumeName: `${PROJECT}-${stack}-minio-data`, containerPath: MINIO.dataDir },
      ]),
    );
  });

  test('PostgreSQL: settings derived from its memory, UTF-8 and SCRAM at initdb, TCP health check, password from a file', () => {
    const { run, config } = get(stack);
    const c = inputs(run, 'postgres');
    expect(c.command).toEqual(postgresCommand(postgresSettings(config.postgresMemoryMb)));
    expect(c.envs).toEqual(
      expect.arrayContaining([
        `POSTGRES_PASSWORD_FILE=${POSTGRES.passwordFile}`,
        expect.stringMatching(/^POSTGRES_INITDB_ARGS=.*--encoding=UTF8.*--auth-host=scram-sha-256/),
      ]),
    );
    expect(c.envs.some((e: string) => e.startsWith('POSTGRES_PASSWORD='))).toBe(false);
    // The program creates the application database, owned by the migrator; the image creates none.
    expect(c.envs.some((e: string) => e.startsWith('POSTGRES_DB='))).toBe(false);
    expect(c.healthcheck.tests).toEqual(['CMD', 'pg_isready', '--host=127.0.0.1', `--port=${POSTGRES.port}`, `--username=${POSTGRES.superuser}`, '--dbname=postgres']);
    // On a volume kept from an earlier deployment, a step before the image's entrypoint gives the
    // superuser this deployment's password (run for real in tests/twin.test.ts).
    expect(c.entrypoints).toEqual(POSTGRES_ENTRYPOINT);
    expect(c.uploads).toEqual([
      expect.objectContaining({ file: POSTGRES.passwordFile, content: expect.stringMatching(/^SCRAM-SHA-256\$4096:/), permissions: '0400' }),
      { file: POSTGRES.superuserPasswordStep, content: SUPERUSER_PASSWORD_STEP, permissions: '0500' },
    ]);
  });

  test('PgBouncer: transaction pooling, SCRAM, its config generated, started after PostgreSQL', () => {
    const { run, config } = get(stack);
    const d = one(run, CONTAINER, 'pgbouncer');
    const c = plain(d.raw);
    const ini = c.uploads.find((u: { file: string }) => u.file === PGBOUNCER.configFile).content;
    expect(ini).toContain('pool_mode = transaction\n');
    expect(ini).toContain('auth_type = scram-sha-256\n');
    expect(ini).toContain(`default_pool_size = ${config.pgbouncerPoolSize}\n`);
    expect(ini).toContain(`${DATABASE_NAME} = host=${POSTGRES.alias} port=${POSTGRES.port} dbname=${DATABASE_NAME}\n`);
    const userlist = c.uploads.find((u: { file: string }) => u.file === PGBOUNCER.authFile).content;
    // The app and read-only roles, with the very SCRAM secrets their roles are created with; not the superuser.
    const secretOf = (key: string) => plain(one(run, ROLE, `role-${key}`).raw).password;
    expect(userlist).toBe(`"${ROLES.app}" "${secretOf('app')}"\n"${ROLES.readonly}" "${secretOf('readonly')}"\n`);
    expect(d.dependencies.some((urn) => urn.endsWith('$docker:index/container:Container::postgres'))).toBe(true);
  });

  test('Redis: ACL file, append-only on the volume, maxmemory and policy from config, a health check without a password', () => {
    const { run, config } = get(stack);
    const c = inputs(run, 'redis');
    const arg = (flag: string) => c.command[c.command.indexOf(flag) + 1];
    expect([arg('--maxmemory'), arg('--maxmemory-policy'), arg('--appendonly'), arg('--dir'), arg('--aclfile')]).toEqual([
      `${config.redisMaxmemoryMb}mb`,
      config.redisMaxmemoryPolicy,
      'yes',
      REDIS.dataDir,
      REDIS.aclFile,
    ]);
    const acl = c.uploads[0].content as string;
    expect(acl).toMatch(/^user default on nopass resetchannels -@all \+ping$/m);
    expect(acl).toMatch(new RegExp(`^user ${REDIS.appUser} on #[0-9a-f]{64} `, 'm'));
    expect(c.healthcheck.tests.join(' ')).not.toMatch(/-a |--pass|--user|AUTH/i);
  });

  test('MinIO: root credentials as files, the console only with admin tools', () => {
    const { run, config } = get(stack);
    const c = inputs(run, 'minio');
    expect(c.envs).toEqual(
      expect.arrayContaining([expect.stringMatching(/^MINIO_ROOT_USER_FILE=\//), expect.stringMatching(/^MINIO_ROOT_PASSWORD_FILE=\//)]),
    );
    expect(c.envs).toContain(`MINIO_BROWSER=${config.adminTools ? 'on' : 'off'}`);
    // Abandoned multipart uploads are removed after a day (lifecycle rules cannot reach them).
    expect(c.envs).toEqual(expect.arrayContaining(['MINIO_API_STALE_UPLOADS_EXPIRY=24h', 'MINIO_API_STALE_UPLOADS_CLEANUP_INTERVAL=6h']));
    expect(c.envs.some((e: string) => /^MINIO_ROOT_(USER|PASSWORD)=/.test(e))).toBe(false);
    expect(c.healthcheck.tests).toEqual(['CMD', 'mc', 'ready', 'local']);
  });

  test('no password or SCRAM secret appears outside a secret, in any input of any resource', () => {
    const { run } = get(stack);
    // Superuser, migrator, app, read-only, backup; Redis app; MinIO root; storage app and backup keys.
    expect(run.generated.length).toBe(9);
    const leaks: string[] = [];
    for (const d of run.declared) {
      walk(d.raw, (text, inSecret) => {
        if (!inSecret && (run.generated.some((p) => text.includes(p)) || text.includes('SCRAM-SHA-256$'))) leaks.push(`${d.type} ${d.name}`);
      });
    }
    expect(leaks).toEqual([]);
    // ...and the secrets are really there, so the check above is not vacuous.
    let secretsSeen = 0;
    for (const d of byType(run, CONTAINER)) walk(d.raw, (text, inSecret) => (secretsSeen += inSecret && /SCRAM-SHA-256\$|#[0-9a-f]{64}|^[A-Za-z0-9]{32}$/.test(text) ? 1 : 0));
    expect(secretsSeen).toBeGreaterThanOrEqual(4);
  });

  test('outputs: anything with a credential is a secret; admin addresses only with admin tools', () => {
    const { run, config } = get(stack);
    const o = run.outputs;
    const credentials = [
      'databaseUrl', 'directDatabaseUrl', 'migratorDatabaseUrl', 'readonlyDatabaseUrl', 'backupDatabaseUrl', 'postgresAdminUrl', 'redisUrl',
      's3AccessKey', 's3SecretKey', 's3BackupAccessKey', 's3BackupSecretKey',
    ];
    for (const name of credentials) expect([name, o[name].secret]).toEqual([name, true]);
    for (const [name, { value, secret }] of Object.entries(o)) {
      if (!secret) expect([name, JSON.stringify(value ?? null)]).toEqual([name, expect.not.stringMatching(new RegExp(run.generated.join('|')))]);
    }
    // Every output the app's .env needs is there, and nothing else but the operators' four.
    expect(Object.keys(o).sort()).toEqual([...Object.keys(APP_ENV), 'postgresAdminUrl', 'backupDatabaseUrl', 'adminUrls', 'containers'].sort());
    const urls = {
      databaseUrl: [ROLES.app, config.pgbouncerPort],
      directDatabaseUrl: [ROLES.app, config.postgresPort],
      migratorDatabaseUrl: [ROLES.migrator, config.postgresPort],
      readonlyDatabaseUrl: [ROLES.readonly, config.pgbouncerPort],
      backupDatabaseUrl: [ROLES.backup, config.postgresPort],
      postgresAdminUrl: [POSTGRES.superuser, config.postgresPort],
    } as const;
    for (const [name, [user, port]] of Object.entries(urls)) {
      const url = new URL(o[name].value as string);
      expect(run.generated).toContain(url.password);
      expect(url.toString().replace(url.password, 'PASSWORD')).toBe(`postgresql://${user}:PASSWORD@127.0.0.1:${port}/${DATABASE_NAME}`);
    }
    expect(new Set(Object.keys(urls).map((name) => new URL(o[name].value as string).password)).size).toBe(5); // app's twice
    expect(o.s3Endpoint.value).toBe(`http://127.0.0.1:${config.minioApiPort}`);
    expect(o.s3AccessKey.value).toBe(STORAGE_USERS.app);
    expect(o.s3BackupAccessKey.value).toBe(STORAGE_USERS.backup);
    expect(run.generated).toEqual(expect.arrayContaining([o.s3SecretKey.value, o.s3BackupSecretKey.value]));
    expect(o.buckets.value).toEqual(config.buckets);
    // MinIO's root password is not handed out, under any name.
    const rootPassword = plain(one(run, MINIO_PROVIDER, 'minio').raw).minioPassword;
    expect(JSON.stringify(Object.values(o).map((x) => x.value))).not.toContain(rootPassword);
    // Adminer's login form filled in for the read-only role through PgBouncer, on the stack's network; tests/admin-tools.test.ts logs in with it.
    const adminer = `http://127.0.0.1:${config.adminerPort}/?pgsql=pgbouncer%3A6432&username=${ROLES.readonly}&db=${DATABASE_NAME}`;
    expect(o.adminUrls.value).toEqual(config.adminTools ? { adminer, minioConsole: `http://127.0.0.1:${config.minioConsolePort}` } : {});
  });
});

describe("Adminer (dev, with adminTools): Debian bookworm's adminer package, built on the Docker host", () => {
  test('the image: its Dockerfile, an empty build context, the configured bookworm base, the pinned package; never pushed', () => {
    const { run, config } = get('dev');
    const image = one(run, BUILT_IMAGE, 'adminer-image');
    expect(plain(image.raw)).toEqual({
      imageName: `${PROJECT}-dev-adminer:local`,
      build: { context: path.join(ROOT, ADMINER_CONTEXT), dockerfile: path.join(ROOT, ADMINER_DOCKERFILE), args: adminerBuildArgs(config.adminerBaseImage) },
      skipPush: true,
      buildOnPreview: false, // the SDK's default, kept: `pulumi preview` builds nothing
    });
    expect(adminerBuildArgs(config.adminerBaseImage)).toEqual({ BASE_IMAGE: 'debian:12.15-slim', ADMINER_VERSION: '4.8.1-1', ADMINER_ENTRY: '/etc/adminer/conf.php' });
    expect(image.parent).toMatch(/::pronunciation:stack:Admin::admin$/);
    expect(byType(run, IMAGE).map((d) => d.name)).not.toContain('adminer-image');
  });

  test("the container: PHP's built-in server on Debian's Adminer, stopped with SIGINT, its health check; no environment, no file, nothing secret", () => {
    const { run } = get('dev');
    const c = inputs(run, 'adminer');
    expect(c.command).toEqual(['php', '-S', `0.0.0.0:${ADMINER.port}`, '-t', '/etc/adminer', '/etc/adminer/conf.php']);
    expect(c.stopSignal).toBe('SIGINT');
    expect(c.healthcheck.tests).toEqual(ADMINER_HEALTHCHECK);
    expect(c.healthcheck.tests).toEqual(['CMD', 'php', '-r', `exit(@file_get_contents('http://127.0.0.1:${ADMINER.port}/') === false ? 1 : 0);`]);
    expect([c.envs, c.uploads, c.volumes]).toEqual([undefined, undefined, undefined]);
    expect([c.memory, c.memorySwap]).toEqual([ADMINER.memoryMb, ADMINER.memoryMb]);
    // Only Adminer's server needs another stop signal than Docker's SIGTERM.
    expect(byType(run, CONTAINER).filter((d) => plain(d.raw).stopSignal !== undefined).map((d) => d.name)).toEqual(['adminer']);
  });

  test('a stack without adminTools builds no Adminer image', () => {
    const { run, config } = get('staging');
    expect(config.adminTools).toBe(false);
    expect(byType(run, BUILT_IMAGE).map((d) => d.name)).not.toContain('adminer-image');
  });
});

describe("the Adminer image's Dockerfile and build context", () => {
  const { text: dockerfile, instructions } = readDockerfile(path.join(ROOT, ADMINER_DOCKERFILE));

  test('FROM the configured base image; every ARG it uses is one the program passes', () => {
    expect(instructions.slice(0, 2)).toEqual(['ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}']);
    const declared = instructions.filter((l) => l.startsWith('ARG ')).map((l) => l.slice(4));
    expect(declared.sort()).toEqual(Object.keys(adminerBuildArgs('')).sort());
    // Build arguments, not the shell's variables of /etc/os-release (VERSION_CODENAME, PRETTY_NAME).
    const used = new Set([...dockerfile.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]).filter((name) => !['VERSION_CODENAME', 'PRETTY_NAME'].includes(name)));
    expect([...used].sort()).toEqual(declared.sort());
  });

  test('refuses any base but bookworm, installs the pinned adminer with php-cli and php-pgsql as the test machines do (.ci/run), checks the entry script, runs unprivileged', () => {
    expect(instructions.slice(4)).toEqual([
      'RUN . /etc/os-release && if [ "${VERSION_CODENAME}" != bookworm ]; then echo "BASE_IMAGE must be Debian bookworm, not ${PRETTY_NAME}" >&2; exit 1; fi',
      'RUN apt-get update && apt-get install -y --no-install-recommends "adminer=${ADMINER_VERSION}" php-cli php-pgsql && rm -rf /var/lib/apt/lists/*',
      'RUN php -l "${ADMINER_ENTRY}"',
      'USER www-data',
    ]);
    // The container's command line is the program's (adminerCommand); the image copies nothing in.
    expect(instructions.filter((l) => /^(CMD|ENTRYPOINT|COPY|ADD) /.test(l))).toEqual([]);
    const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
    for (const pkg of ['adminer', 'php-cli', 'php-pgsql']) expect([pkg, new RegExp(`missing\\+=\\(${pkg}\\)`).test(ci)]).toEqual([pkg, true]);
  });

  test('its own .dockerignore lets nothing of the repository into the build context', () => {
    const rules = fs
      .readFileSync(path.join(ROOT, `${ADMINER_DOCKERFILE}.dockerignore`), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(rules).toEqual(['*']);
  });
});

test('a stack may bind its services to another address; admin tools stay on loopback', async () => {
  const run = await runProgram('dev', { config: { bindAddress: '0.0.0.0' } });
  const ports = byType(run, CONTAINER).flatMap((d) => (plain(d.raw).ports ?? []).map((p: { ip: string; internal: number }) => `${d.name}:${p.internal}@${p.ip}`));
  expect(ports.sort()).toEqual(
    ['adminer:8080@127.0.0.1', 'minio:9000@0.0.0.0', 'minio:9001@127.0.0.1', 'pgbouncer:6432@0.0.0.0', 'postgres:5432@0.0.0.0', 'redis:6379@0.0.0.0'].sort(),
  );
  expect(run.outputs.s3Endpoint.value).toBe('http://127.0.0.1:19000');
});
