import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_KEEP, LAST_SUCCESS_FILE } from '../common/names';
import { BACKUP_DOCKERFILE, backupBuildArgs, backupCommand, backupEnvFile, FIRST_BACKUP_WITHIN_SECONDS } from '../stacks/containers/backups';
import { CONFIG_KEYS, loadConfig } from '../stacks/config';
import { BACKUPS, MINIO, POSTGRES, S3_REGION } from '../stacks/services';
import { DATABASE_NAME, ROLES, STORAGE_USERS } from '../common/names';
import { plain, walk } from './helpers/pulumi-mocks';
import { byType, one, PROJECT, ROOT, runCommittedStacks, runProgram, SHARED_STACK_ENV, STACK_SECRETS, stackFileConfig, type ProgramRun } from './helpers/program';
import { TwinHost } from './helpers/twin';
import { readDockerfile } from './helpers/dockerfile';

/**
 * Scheduled backups as `pulumi up` declares them (stacks/containers/backups.ts), under Pulumi's mocks, and
 * what of them can run here: the health check, the credentials file as node reads it, the program
 * through the SDK's loader. The image itself cannot be built here (no Docker engine): its
 * Dockerfile and .dockerignore are checked as text against what the program passes them.
 */

const run = promisify(execFile);
const CONTAINER = 'docker:index/container:Container';
const IMAGE = 'docker:index/image:Image';
const COMPONENT = 'pronunciation:stack:Backups';
jest.setTimeout(120_000);

let runs: Awaited<ReturnType<typeof runCommittedStacks>>;
beforeAll(async () => {
  runs = await runCommittedStacks();
});

const backupsOf = (r: ProgramRun) => plain(one(r, CONTAINER, 'backups').raw);

describe.each([
  ['staging', 24],
  ['prod', 6],
])('stack %s', (stack, hours) => {
  const get = () => runs.get(stack)!;

  test('turns backups on in its stack file; the image, volume and container are children of one Backups component', () => {
    const { run: r, config } = get();
    expect(stackFileConfig(stack)[`${PROJECT}:backupIntervalHours`]).toBe(String(hours));
    expect(config.backupIntervalHours).toBe(hours);
    const component = r.declared.filter((d) => d.type === COMPONENT);
    expect(component).toHaveLength(1);
    for (const [type, name] of [[IMAGE, 'backups-image'], ['docker:index/volume:Volume', 'backups-data'], [CONTAINER, 'backups']]) {
      expect([name, one(r, type, name).parent]).toEqual([name, component[0].urn]);
    }
  });

  test('the container: the exact db-backup command, the private network, no port, its memory limit, restart policy and labels', () => {
    const { run: r, config } = get();
    const c = backupsOf(r);
    expect(c.command).toEqual([
      'node', `--env-file=${BACKUPS.envFile}`, 'dist/pa-data.js', 'backup',
      '--stack', stack, '--dir', BACKUPS.dir, '--keep', String(DEFAULT_KEEP), '--every', String(hours),
    ]);
    expect(c.command).toEqual(backupCommand(stack, config.backupKeep, config.backupIntervalHours));
    expect([BACKUPS.envFile, BACKUPS.dir]).toEqual(['/run/secrets/backup.env', '/backups']);
    expect(c.networksAdvanced).toEqual([{ name: `${PROJECT}-${stack}-net`, aliases: [BACKUPS.alias] }]);
    expect(c.ports).toBeUndefined();
    expect([c.memory, c.memorySwap]).toEqual([CONFIG_KEYS.backupMemoryMb.default, CONFIG_KEYS.backupMemoryMb.default]);
    expect(c.restart).toBe('unless-stopped');
    expect(c.name).toBe(`${PROJECT}-${stack}-backups`);
    expect(c.labels).toContainEqual({ label: 'org.pronunciation-assistant.service', value: 'backups' });
  });

  test('health: the last success younger than two intervals, after a start period for the first dump; `up` does not wait for it', () => {
    const c = backupsOf(get().run);
    expect(FIRST_BACKUP_WITHIN_SECONDS).toBe(3600);
    expect(c.healthcheck).toMatchObject({
      tests: ['CMD-SHELL', `find ${BACKUPS.dir}/${LAST_SUCCESS_FILE} -mmin -${hours * 2 * 60} | grep -q .`],
      startPeriod: '1h0m0s', // as Go prints FIRST_BACKUP_WITHIN_SECONDS, the form the provider reads back
    });
    expect(c.wait).toBe(false);
  });

  test('the backup volume: named per stack, mounted at the backup folder, retained on delete, protected where the data is', () => {
    const { run: r, config } = get();
    const v = one(r, 'docker:index/volume:Volume', 'backups-data');
    expect(plain(v.raw).name).toBe(`${PROJECT}-${stack}-backups-data`);
    expect({ retainOnDelete: v.retainOnDelete, protect: v.protect }).toEqual({ retainOnDelete: true, protect: config.protectData });
    expect(backupsOf(r).volumes).toEqual([{ volumeName: `${PROJECT}-${stack}-backups-data`, containerPath: BACKUPS.dir }]);
  });

  test('environment: MinIO on the private network, its region and the backups bucket, and nothing secret', () => {
    const { run: r, config } = get();
    expect(backupsOf(r).envs).toEqual([
      `S3_ENDPOINT=http://${MINIO.alias}:${MINIO.apiPort}`,
      `S3_REGION=${S3_REGION}`,
      `S3_BUCKET_BACKUPS=${config.buckets.backups}`,
    ]);
    if (stack === 'staging') expect(config.buckets.backups).toBe('staging-backups');
  });

  test('credentials: one secret file that node reads as the backup role to postgres:5432 and the backup key; no secret in plain text', async () => {
    const { run: r } = get();
    const d = one(r, CONTAINER, 'backups');
    const { uploads } = backupsOf(r);
    expect(uploads).toEqual([{ file: BACKUPS.envFile, content: expect.any(String), permissions: '0444' }]);
    const leaks: string[] = [];
    let secretFile = false;
    for (const x of [d, one(r, IMAGE, 'backups-image')]) {
      walk(x.raw, (text, inSecret) => {
        if (!inSecret && r.generated.some((p) => text.includes(p))) leaks.push(`${x.type} ${x.name}`);
        secretFile ||= inSecret && text === uploads[0].content;
      });
    }
    expect(leaks).toEqual([]);
    expect(secretFile).toBe(true);

    // The file as node itself reads it (--env-file), in an otherwise empty environment.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-backup-env-'));
    try {
      const file = path.join(dir, 'backup.env');
      fs.writeFileSync(file, uploads[0].content, { mode: 0o600 });
      const { stdout } = await run(process.execPath, [`--env-file=${file}`, '-e', 'process.stdout.write(JSON.stringify(process.env))'], { env: {} });
      const env = JSON.parse(stdout) as Record<string, string>;
      const password = new URL(r.outputs.backupDatabaseUrl.value as string).password;
      expect(r.generated).toContain(password);
      expect(env).toEqual({
        DATABASE_URL: `postgresql://${ROLES.backup}:${password}@${POSTGRES.alias}:${POSTGRES.port}/${DATABASE_NAME}`,
        S3_BACKUP_ACCESS_KEY: STORAGE_USERS.backup,
        S3_BACKUP_SECRET_KEY: r.outputs.s3BackupSecretKey.value,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the image: built from the repository\'s Dockerfile with the repository root as context, the configured base image, never pushed', () => {
    const { run: r, config } = get();
    const image = one(r, IMAGE, 'backups-image');
    expect(plain(image.raw)).toEqual({
      imageName: `${PROJECT}-${stack}-backups:local`,
      build: { context: ROOT, dockerfile: path.join(ROOT, BACKUP_DOCKERFILE), args: backupBuildArgs(config.backupNodeImage) },
      skipPush: true,
      buildOnPreview: false, // the SDK's default, kept: `pulumi preview` builds nothing
    });
    expect(backupBuildArgs(config.backupNodeImage)).toEqual({
      BASE_IMAGE: CONFIG_KEYS.backupNodeImage.default,
      POSTGRES_MAJOR: String(POSTGRES.major),
      APP_DIR: BACKUPS.appDir,
      BACKUP_DIR: BACKUPS.dir,
    });
    // Created after the build, and from it: it runs the build's image ID (repoDigest, sha256:... in the mocks too), nothing pulled.
    expect(one(r, CONTAINER, 'backups').dependencies).toContain(image.urn);
    expect(byType(r, 'docker:index/remoteImage:RemoteImage').map((i) => i.name)).not.toContain('backups-image');
  });

  test('starts after what the first backup needs: the role and its grants, the bucket and its rule, the credential, the migrations', () => {
    const { run: r } = get();
    const needed = [
      ['postgresql:index/role:Role', 'role-backup'],
      ['postgresql:index/grant:Grant', 'backup-connect'],
      ['minio:index/ilmPolicy:IlmPolicy', 'backups-lifecycle'],
      ['minio:index/iamUser:IamUser', 'backup-user'],
      ['minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment', 'backup-policy-attachment'],
      ['command:local:Command', 'migrate-and-seed'],
    ];
    const { dependencies } = one(r, CONTAINER, 'backups');
    // Both prepare steps: the database's (through the Database component) and the buckets'.
    const prepares = byType(r, 'command:local:Command').filter((d) => d.name === 'prepare');
    expect(prepares).toHaveLength(2);
    for (const p of prepares) expect(dependencies).toContain(p.urn);
    for (const [type, name] of needed) expect([name, dependencies.includes(one(r, type, name).urn)]).toEqual([name, true]);
  });
});

test.each(['dev', 'external'])('%s declares no scheduled backups, but has the backup role and its output', (stack) => {
  const { run: r, config } = runs.get(stack)!;
  expect(config.backupIntervalHours).toBe(0);
  expect(r.declared.filter((d) => d.type === COMPONENT || (d.type.startsWith('docker:') && d.name.startsWith('backups')))).toEqual([]);
  // dev builds one image, Adminer's (tests/stacks.test.ts); neither builds the backup image.
  expect(byType(r, IMAGE).map((d) => d.name)).toEqual(config.adminTools ? ['adminer-image'] : []);
  expect(r.outputs.containers.value).not.toHaveProperty('backups');
  expect(r.outputs.backupDatabaseUrl.secret).toBe(true);
  expect(new URL(r.outputs.backupDatabaseUrl.value as string).username).toBe(config.names.postgres.roles.backup);
});

test('the other backup keys reach the container: keep, memory, base image', async () => {
  const r = await runProgram('dev', {
    config: { backupIntervalHours: '12', backupKeep: '3', backupMemoryMb: '512', backupNodeImage: 'node:20.19.5-bookworm-slim' },
  });
  const c = backupsOf(r);
  expect(c.command.slice(-4)).toEqual(['--keep', '3', '--every', '12']);
  expect([c.memory, c.memorySwap]).toEqual([512, 512]);
  expect(c.healthcheck.tests[1]).toContain(' -mmin -1440 ');
  expect(plain(one(r, IMAGE, 'backups-image').raw).build.args.BASE_IMAGE).toBe('node:20.19.5-bookworm-slim');
});

describe('bad backup configuration is refused before anything is declared', () => {
  /** The problems the program stops with, for the dev stack with these values. */
  async function refused(config: Record<string, string>, stack = 'dev', options: Parameters<typeof runProgram>[1] = {}): Promise<string[]> {
    const error = await runProgram(stack, { ...options, config }).then(
      () => undefined,
      (e: { name: string; problems: string[]; declared: unknown[] }) => e,
    );
    expect(error).toMatchObject({ name: 'ConfigError', declared: [] });
    return error!.problems;
  }

  test.each<[string, Record<string, string>, RegExp]>([
    ['a negative interval', { backupIntervalHours: '-1' }, /^backupIntervalHours: "-1" is not allowed: it must be 0 \(no scheduled backups\) to 168 \(a week\)\.$/],
    ['more than a week', { backupIntervalHours: '169' }, /^backupIntervalHours: "169" is not allowed: it must be 0 \(no scheduled backups\) to 168/],
    ['keeping no backup', { backupKeep: '0' }, /^backupKeep: "0" is not allowed: it must be at least 1\.$/],
    ['no retention', { backupRetentionDays: '0' }, /^backupRetentionDays: "0" is not allowed: it must be at least 1 \(day\)\.$/],
    ['too little memory', { backupMemoryMb: '64' }, /^backupMemoryMb: "64" is not allowed: it must be at least 128 \(MiB\)\.$/],
    ['a moving image tag', { backupNodeImage: 'node:22-bookworm-slim' }, /^backupNodeImage: "node:22-bookworm-slim" is not allowed: it must pin a full version, not the moving tag/],
    ['an image not on bookworm', { backupNodeImage: 'node:22.21.1-slim' }, /^backupNodeImage: "node:22\.21\.1-slim" is not allowed: it must be a Debian bookworm image.*postgresql-client-15\.$/],
    ['an alpine image', { backupNodeImage: 'node:22.21.1-alpine3.22' }, /^backupNodeImage: .* it must be a Debian bookworm image/],
    ['a Node.js without --env-file', { backupNodeImage: 'node:18.20.8-bookworm-slim' }, /^backupNodeImage: .* it must be Node\.js 20\.6 or newer, which reads the credentials file/],
    ['a retention shorter than the interval', { backupIntervalHours: '72', backupRetentionDays: '3' }, /^backupRetentionDays: 3 would empty the backups bucket between two backups 72 hours apart \(backupIntervalHours\); raise it to at least 4\.$/],
  ])('%s', async (_, values, message) => {
    const problems = await refused(values);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  test('a fraction of an hour: the Pulumi CLI refuses it itself, Pulumi.yaml declaring the key an integer', async () => {
    await expect(runProgram('dev', { config: { backupIntervalHours: '1.5' } })).rejects.toThrow(
      "Stack 'dev' with configuration key 'backupIntervalHours' must be of type 'integer'",
    );
  });

  test('scheduled backups with external servers: refused, naming the key and what to do instead', async () => {
    const problems = await refused({ backupIntervalHours: '24' }, 'external', { env: SHARED_STACK_ENV, secrets: STACK_SECRETS.external });
    expect(problems).toEqual([
      'backupIntervalHours: scheduled backups run in a container beside the stack\'s own PostgreSQL and MinIO; for a stack on external ' +
        'servers set it to 0 (`pulumi config rm backupIntervalHours`) and rely on the managed service\'s own backups, or run ' +
        '`npm run db:backup -- --stack <name>` yourself.',
    ]);
  });

  test('the limits themselves are allowed', () => {
    const ok = (values: Record<string, string>) => () => loadConfig('dev', { allowDevState: 'true', ...values });
    expect(ok({ backupIntervalHours: '168', backupRetentionDays: '8', backupKeep: '1', backupMemoryMb: '128' })).not.toThrow();
    expect(ok({ backupIntervalHours: '23', backupRetentionDays: '1', backupNodeImage: `node:20.6.0-bookworm-slim@sha256:${'a'.repeat(64)}` })).not.toThrow();
  });
});

describe('the declared health check, run here', () => {
  let host: TwinHost;
  let check: string[];
  const hours = 6;
  beforeAll(async () => {
    host = await new TwinHost().init();
    host.mapPath(BACKUPS.dir);
    check = backupsOf(runs.get('prod')!.run).healthcheck.tests;
    expect(runs.get('prod')!.config.backupIntervalHours).toBe(hours);
  });
  afterAll(async () => host?.stop());

  /** The check as Docker runs a CMD-SHELL test: /bin/sh -c, with the backup volume at a folder here. */
  const passes = () =>
    run('/bin/sh', ['-c', host.translate(check.slice(1).join(' '))]).then(
      () => true,
      () => false,
    );
  const successFile = () => host.local(`${BACKUPS.dir}/${LAST_SUCCESS_FILE}`);
  const touchedMinutesAgo = (minutes: number) => {
    fs.writeFileSync(successFile(), '');
    const t = new Date(Date.now() - minutes * 60_000);
    fs.utimesSync(successFile(), t, t);
  };

  test('fails before the first success, passes after it, and until two intervals have passed without one', async () => {
    expect(check[0]).toBe('CMD-SHELL');
    expect(await passes()).toBe(false);
    touchedMinutesAgo(0);
    expect(await passes()).toBe(true);
    touchedMinutesAgo(2 * hours * 60 - 2);
    expect(await passes()).toBe(true);
    touchedMinutesAgo(2 * hours * 60 + 2);
    expect(await passes()).toBe(false);
    fs.rmSync(successFile());
    expect(await passes()).toBe(false);
  });
});

describe('the image\'s Dockerfile and build context', () => {
  const { text: dockerfile, instructions } = readDockerfile(path.join(ROOT, BACKUP_DOCKERFILE));

  test('FROM the configured base image; every ARG it uses is one the program passes', () => {
    expect(instructions.slice(0, 2)).toEqual(['ARG BASE_IMAGE', 'FROM ${BASE_IMAGE} AS bundle']);
    const declared = instructions.filter((l) => l.startsWith('ARG ')).map((l) => l.slice(4));
    expect(declared.sort()).toEqual(Object.keys(backupBuildArgs('')).sort());
    const used = new Set([...dockerfile.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    expect([...used].sort()).toEqual(declared.sort());
  });

  test('installs the PostgreSQL client of the server\'s major, without recommended packages', () => {
    expect(instructions).toContainEqual(
      'RUN apt-get update && apt-get install -y --no-install-recommends "postgresql-client-${POSTGRES_MAJOR}" && rm -rf /var/lib/apt/lists/*',
    );
    expect(backupBuildArgs('').POSTGRES_MAJOR).toBe(String(POSTGRES.major));
    expect(POSTGRES.major).toBe(15); // bookworm's apt has postgresql-client-15 (backupNodeImage must be bookworm)
  });

  test('a first stage compiles and bundles the tool (cli/bundle.js); the image holds the bundle and package.json, no node_modules; runs as node, owning the backup folder', () => {
    const launcher = fs.readFileSync(path.join(ROOT, 'cli/launch.js'), 'utf8');
    const compiled = JSON.parse((/const SOURCE_DIRS = (\[[^\]]*\]);/.exec(launcher)?.[1] ?? '[]').replace(/'/g, '"')) as string[];
    expect(compiled).toEqual(['cli', 'common', 'lib', 'schema']);
    const stages = instructions.filter((l) => l.startsWith('FROM '));
    expect(stages).toEqual(['FROM ${BASE_IMAGE} AS bundle', 'FROM ${BASE_IMAGE}']);
    const first = instructions.slice(instructions.indexOf(stages[0]), instructions.indexOf(stages[1]));
    expect(first).toEqual([
      'FROM ${BASE_IMAGE} AS bundle',
      'WORKDIR /src',
      'COPY package.json package-lock.json ./',
      'RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund',
      'COPY tsconfig.json ./',
      ...compiled.map((dir) => `COPY ${dir}/ ${dir}/`),
      'RUN node cli/bundle.js /out',
    ]);
    expect(instructions.slice(instructions.indexOf('WORKDIR ${APP_DIR}'))).toEqual([
      'WORKDIR ${APP_DIR}',
      'COPY --from=bundle /out/ ./',
      `RUN node ${BACKUPS.tool} backup --help > /dev/null`,
      'RUN mkdir -p "${BACKUP_DIR}" && chown node:node "${BACKUP_DIR}"',
      'USER node',
    ]);
    expect(instructions.filter((l) => /node_modules|npm ci/.test(l))).toEqual(['RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund']);
  });

  test('cli/bundle.js writes the one file the container runs, which starts with no node_modules beside it', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-bundle-'));
    try {
      await run(process.execPath, [path.join(ROOT, 'cli', 'bundle.js'), out]);
      expect(fs.readdirSync(out).sort()).toEqual(['dist', 'package.json']);
      expect(fs.readdirSync(path.join(out, 'dist'))).toEqual([path.basename(BACKUPS.tool)]);
      // From a folder with no node_modules above it: every library is inside the file.
      const help = await run(process.execPath, [path.join(out, BACKUPS.tool), 'backup', '--help'], { cwd: out });
      expect(help.stdout).toMatch(/^Usage: pa-data backup \[options\]/);
      expect(fs.statSync(path.join(out, BACKUPS.tool)).size).toBeLessThan(8 * 1024 * 1024);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('.dockerignore lets in nothing but what the Dockerfile copies (and the Dockerfile)', () => {
    const rules = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(rules[0]).toBe('*');
    const allowed = rules.slice(1).map((r) => {
      expect(r.startsWith('!')).toBe(true);
      return r.slice(1);
    });
    const copied = instructions.filter((l) => l.startsWith('COPY ') && !l.startsWith('COPY --from=')).flatMap((l) => l.split(' ').slice(1, -1).map((p) => p.replace(/\/$/, '')));
    expect(allowed.sort()).toEqual([...copied, BACKUP_DOCKERFILE].sort());
    for (const kept of ['node_modules', '.build', '.git', '.env', 'backups', 'tests', 'bench', '.pulumi-state']) {
      expect(allowed.filter((a) => a === kept || a.startsWith(`${kept}/`) || kept.startsWith(`${a}/`))).toEqual([]);
    }
  });
});

test('backupEnvFile refuses a value node would misread, without showing it', () => {
  expect(backupEnvFile({ A: 'postgresql://u:p@h:1/d?x=1&y=#2', B: 'k' })).toBe("A='postgresql://u:p@h:1/d?x=1&y=#2'\nB='k'\n");
  expect(() => backupEnvFile({ S3_BACKUP_SECRET_KEY: "it's-secret" })).toThrow(/^S3_BACKUP_SECRET_KEY holds a quote or a line break/);
  expect(() => backupEnvFile({ S3_BACKUP_SECRET_KEY: "it's-secret" })).not.toThrow(/it's-secret/);
});
