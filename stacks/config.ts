import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_KEEP } from '../common/names';
import { defaultNamespace, NAMESPACE_PATTERN, type PostgresNames, postgresNames, type StorageNames, storageNames } from '../common/stack-names';
import { POSTGRES, REDIS } from './services';
import { MAX_CONNECTIONS, POSTGRES_MIN_MEMORY_MB, RESERVED_CONNECTIONS } from './containers/postgres-settings';

/**
 * The stack's configuration: every key, its type, default and what is allowed. This table is the
 * source of truth; Pulumi.yaml declares the same keys (a test keeps the two equal) so that the
 * Pulumi CLI type-checks stack files too.
 */

type Kind = 'string' | 'integer' | 'boolean';
type ValueOf<K extends Kind> = K extends 'string' ? string : K extends 'integer' ? number : boolean;

interface KeySpec<K extends Kind = Kind> {
  type: K;
  default: ValueOf<K>;
  description: string;
  /** Must be set with `pulumi config set --secret`; reaches the program as a Pulumi secret, never as plain text. */
  secret?: true;
  /** Returns what is wrong with the value, phrased to follow "must". */
  check?: (value: ValueOf<K>) => string | undefined;
}

const spec = <K extends Kind>(s: KeySpec<K>) => s;

const port = (description: string, value: number) =>
  spec({ type: 'integer', default: value, description, check: (v) => (v >= 1 && v <= 65535 ? undefined : 'be a TCP port, 1 to 65535') });

const memory = (description: string, value: number, min: number) =>
  spec({ type: 'integer', default: value, description, check: (v) => (v >= min ? undefined : `be at least ${min} (MiB)`) });

const image = (description: string, value: string, major?: number) =>
  spec({ type: 'string', default: value, description, check: (v) => imageProblem(v, major) });

const secretString = (description: string, check?: (v: string) => string | undefined) =>
  ({ ...spec({ type: 'string', default: '', description, check: (v) => (v === '' ? undefined : check?.(v)) }), secret: true }) as const;

/** A host name or address, as a server elsewhere is named: no scheme, port, path or spaces. */
const hostProblem = (v: string) => (v === '' || /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$/.test(v) ? undefined : 'be a host name or IP address, without scheme or port');

/** An absolute path: the providers and the post-deploy step run in other folders than the one it was typed in. */
const pemPathProblem = (v: string) => (v === '' || (v.startsWith('/') && !/[\s?&#]/.test(v)) ? undefined : 'be an absolute path without spaces, ? & or #');

/** The longest interval between scheduled backups: a week. */
const MAX_BACKUP_INTERVAL_HOURS = 168;

/**
 * The backup image is built FROM it (stacks/containers/backup.Dockerfile): Debian bookworm, whose apt has the
 * client of the server's PostgreSQL major; Node.js from 20.6, which reads the credentials file (--env-file).
 */
export function backupNodeImageProblem(ref: string): string | undefined {
  const pinned = imageProblem(ref);
  if (pinned) return pinned;
  const tag = /:([\w][\w.-]*)(?:@sha256:[a-f0-9]{64})?$/.exec(ref.slice(ref.lastIndexOf('/') + 1))?.[1] ?? '';
  if (!tag.includes('bookworm')) return `be a Debian bookworm image, its tag naming bookworm (node:<version>-bookworm-slim): the image installs bookworm's postgresql-client-${POSTGRES.major}`;
  const [major, minor] = (/^(\d+)\.(\d+)/.exec(tag) ?? []).slice(1).map(Number);
  if (!(major > 20 || (major === 20 && minor >= 6))) return 'be Node.js 20.6 or newer, which reads the credentials file (node --env-file)';
  return undefined;
}

/** PostgreSQL's sslmode values that encrypt; a server on another host is never reached in plain text. */
const TLS_SSLMODES = ['require', 'verify-ca', 'verify-full'];

export const CONFIG_KEYS = {
  bindAddress: spec({
    type: 'string',
    default: '127.0.0.1',
    description: 'Host address the published ports bind to. 127.0.0.1 keeps every service off the network.',
    check: (v) => (isIPv4(v) ? undefined : 'be an IPv4 address such as 127.0.0.1'),
  }),
  protectData: spec({
    type: 'boolean',
    default: true,
    description: 'Protect the data volumes, so that `pulumi destroy` refuses to run. They are retained on delete either way.',
  }),
  adminTools: spec({
    type: 'boolean',
    default: false,
    description: 'Run the database admin UI (Adminer) and publish the MinIO console, both on 127.0.0.1 only.',
  }),
  demoData: spec({ type: 'boolean', default: false, description: 'Load the demo learner and their data after migrating.' }),
  allowDevState: spec({
    type: 'boolean',
    default: false,
    description: 'Allow state in the project folder and the documented dev-only passphrase. Only for a local development stack.',
  }),
  postgresImage: image('PostgreSQL 15 image, pinned to a version or digest.', 'postgres:15.19-alpine', POSTGRES.major),
  postgresPort: port('Host port for direct PostgreSQL connections (migrations, admin).', 5432),
  postgresMemoryMb: memory('PostgreSQL memory limit in MiB; its settings are derived from it.', 1024, POSTGRES_MIN_MEMORY_MB),
  pgbouncerImage: image('PgBouncer image, pinned to a version or digest.', 'edoburu/pgbouncer:v1.25.2-p0'),
  pgbouncerPort: port('Host port for pooled PostgreSQL connections (the application).', 6432),
  pgbouncerMemoryMb: memory('PgBouncer memory limit in MiB.', 64, 32),
  pgbouncerPoolSize: spec({
    type: 'integer',
    default: 20,
    description: 'Server connections PgBouncer keeps per database and user.',
    check: (v) =>
      v >= 1 && v <= MAX_CONNECTIONS - RESERVED_CONNECTIONS
        ? undefined
        : `be 1 to ${MAX_CONNECTIONS - RESERVED_CONNECTIONS} (PostgreSQL accepts ${MAX_CONNECTIONS}, ${RESERVED_CONNECTIONS} kept for migrations and admins)`,
  }),
  pgbouncerMaxClientConnections: spec({
    type: 'integer',
    default: 1000,
    description: 'Client connections PgBouncer accepts.',
    check: (v) => (v >= 1 && v <= 10000 ? undefined : 'be 1 to 10000'),
  }),
  redisImage: image('Redis 7 image, pinned to a version or digest.', 'redis:7.4.11-alpine', REDIS.major),
  redisPort: port('Host port for Redis.', 6379),
  redisMemoryMb: memory('Redis container memory limit in MiB.', 256, 64),
  redisMaxmemoryMb: spec({
    type: 'integer',
    default: 192,
    description: 'Redis maxmemory in MiB; at most three quarters of redisMemoryMb, leaving room for the append-only rewrite.',
    check: (v) => (v >= 16 ? undefined : 'be at least 16 (MiB)'),
  }),
  redisMaxmemoryPolicy: spec({
    type: 'string',
    default: 'allkeys-lru',
    description: 'What Redis evicts at maxmemory.',
    check: (v) => (REDIS_POLICIES.includes(v) ? undefined : `be one of ${REDIS_POLICIES.join(', ')}`),
  }),
  minioImage: image('MinIO image, pinned to a release or digest.', 'minio/minio:RELEASE.2024-01-01T16-36-33Z'),
  minioApiPort: port('Host port for the S3 API.', 9000),
  minioConsolePort: port('Host port for the MinIO console (published only with adminTools).', 9001),
  minioMemoryMb: memory('MinIO memory limit in MiB.', 512, 256),
  bucketPrefix: spec({
    type: 'string',
    default: '',
    description: 'Prefix for every bucket name, for object stores shared by several stacks; required with externalS3Endpoint.',
  }),
  externalNamespace: spec({
    type: 'string',
    default: '',
    description: "What the stack's roles, database and storage users on external servers are named after; empty: the stack's name.",
    check: (v) => (v === '' || NAMESPACE_PATTERN.test(v) ? undefined : 'be up to 24 lowercase letters, digits and hyphens, beginning with a letter'),
  }),
  adminerImage: image('Adminer image (with adminTools), pinned to a version or digest.', 'adminer:4.17.1-standalone'),
  adminerPort: port('Host port for Adminer (with adminTools).', 8081),
  backupIntervalHours: spec({
    type: 'integer',
    default: 0,
    description: 'Hours between scheduled backups of the database, taken by a backup container and copied to the backups bucket; 0: no scheduled backups.',
    check: (v) => (v >= 0 && v <= MAX_BACKUP_INTERVAL_HOURS ? undefined : `be 0 (no scheduled backups) to ${MAX_BACKUP_INTERVAL_HOURS} (a week)`),
  }),
  backupKeep: spec({
    type: 'integer',
    default: DEFAULT_KEEP,
    description: 'Scheduled backups kept in the backup volume (the newest); older ones are deleted there.',
    check: (v) => (v >= 1 ? undefined : 'be at least 1'),
  }),
  backupRetentionDays: spec({
    type: 'integer',
    default: 30,
    description: 'Days the backups bucket keeps each object before its lifecycle rule deletes it (the backup credential cannot delete).',
    check: (v) => (v >= 1 ? undefined : 'be at least 1 (day)'),
  }),
  backupNodeImage: { ...image('Node.js image (Debian bookworm) the backup image is built from, pinned to a version or digest.', 'node:22.21.1-bookworm-slim'), check: backupNodeImageProblem },
  backupMemoryMb: memory('Backup container memory limit in MiB.', 256, 128),
  externalPostgresHost: spec({
    type: 'string',
    default: '',
    description: 'An existing PostgreSQL 15 server to use instead of the PostgreSQL and PgBouncer containers (a managed service, say).',
    check: hostProblem,
  }),
  externalPostgresPort: port('Port of externalPostgresHost.', 5432),
  externalPostgresAdminUser: spec({
    type: 'string',
    default: 'postgres',
    description: 'Role the program logs in as on externalPostgresHost to create the database and roles; it needs CREATEDB and CREATEROLE.',
    check: (v) => (/^[a-z_][a-z0-9_]*$/.test(v) ? undefined : 'be a plain role name: lowercase letters, digits and _'),
  }),
  externalPostgresAdminPassword: secretString('Password of externalPostgresAdminUser (set it with --secret).'),
  externalPostgresSslMode: spec({
    type: 'string',
    default: 'verify-full',
    description: 'TLS to externalPostgresHost, as libpq sslmode: require, verify-ca or verify-full.',
    check: (v) => (TLS_SSLMODES.includes(v) ? undefined : `be one of ${TLS_SSLMODES.join(', ')}`),
  }),
  externalPostgresSslRootCert: spec({
    type: 'string',
    default: '',
    description: 'CA certificate file (PEM) that signed externalPostgresHost\'s certificate, for verify-ca and verify-full; empty: the system\'s CAs.',
    check: pemPathProblem,
  }),
  externalPostgresSuperuser: spec({
    type: 'boolean',
    default: false,
    description: 'Whether externalPostgresAdminUser is a superuser (managed services give none).',
  }),
  externalS3Endpoint: spec({
    type: 'string',
    default: '',
    description: 'An existing MinIO (host:port of its S3 API) to use instead of the MinIO container.',
    check: (v) => (v === '' || /^[A-Za-z0-9.-]+:\d{1,5}$/.test(v) ? undefined : 'be host:port, without scheme, such as minio.example.com:9000'),
  }),
  externalS3AccessKey: secretString('Access key of an admin user of externalS3Endpoint (set it with --secret: it is half of that login).'),
  externalS3SecretKey: secretString('Secret key of externalS3AccessKey (set it with --secret).'),
  externalS3Ssl: spec({ type: 'boolean', default: true, description: 'Reach externalS3Endpoint over HTTPS.' }),
  externalS3CaCert: spec({
    type: 'string',
    default: '',
    description: 'CA certificate file (PEM) that signed externalS3Endpoint\'s certificate; empty: the system\'s CAs.',
    check: pemPathProblem,
  }),
  externalS3Region: spec({ type: 'string', default: 'us-east-1', description: 'Region of externalS3Endpoint.' }),
  externalRedisUrl: secretString(
    'An existing Redis 7 to use instead of the Redis container: rediss://USER:PASSWORD@HOST:PORT (set it with --secret).',
    (v) => (/^rediss?:\/\/[^\s]+$/.test(v) ? undefined : 'be a redis:// or rediss:// URL'),
  ),
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export interface External {
  postgres: boolean;
  storage: boolean;
  redis: boolean;
}
type SecretKey = { [K in ConfigKey]: (typeof CONFIG_KEYS)[K] extends { secret: true } ? K : never }[ConfigKey];
export type StackConfig = { [K in Exclude<ConfigKey, SecretKey>]: ValueOf<(typeof CONFIG_KEYS)[K]['type']> } & {
  /** Secret keys, as Pulumi secrets: '' where unset. */
  [K in SecretKey]: pulumi.Output<string>;
} & {
  stack: string;
  /** The servers the stack uses as they are, instead of running their containers. */
  external: External;
  /** What its objects are called inside PostgreSQL and MinIO (names.ts). */
  names: { postgres: PostgresNames; storage: StorageNames };
  /** Final bucket names, prefix applied (names.storage.buckets). */
  buckets: StorageNames['buckets'];
};

const REDIS_POLICIES: readonly string[] = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
];

/** The passphrase README documents for the dev stack; any other stack refuses it. */
export const DEV_PASSPHRASE = 'dev-only-passphrase';
const MIN_PASSPHRASE_LENGTH = 16;

/**
 * A configuration the program refuses; its message lists every problem and how to fix it. A
 * RunError, so that Pulumi prints the message without a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  override name = 'ConfigError';
  constructor(
    readonly stackName: string,
    readonly problems: string[],
  ) {
    super(`Stack "${stackName}" has invalid configuration; nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Validates the project's configuration (keys without the "<project>:" namespace, values as the
 * Pulumi CLI passes them: strings, or JSON for structured values) and the environment the program
 * runs in. Throws one ConfigError naming every problem.
 */
export function loadConfig(
  stack: string,
  raw: Record<string, string>,
  env: NodeJS.ProcessEnv = {},
  secretKeys: readonly string[] = [],
): StackConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in CONFIG_KEYS)) problems.push(unknownKey(key, secretKeys.includes(key) ? '' : value));
  }
  for (const [key, s] of Object.entries(CONFIG_KEYS) as [ConfigKey, KeySpec][]) {
    const text = raw[key];
    const value = text === undefined ? s.default : parse(s.type, text);
    if (value === undefined) {
      problems.push(`${key}: ${show(text)} is not ${s.type === 'integer' ? 'an integer' : 'true or false'}. ${s.description}`);
      continue;
    }
    const wrong = s.check?.(value as never);
    if (s.secret) {
      // Neither the value nor any part of it goes into a message. An empty value means unset, secret or
      // not: the CLI merges each Pulumi.yaml `default:` into the config as a plain value when the stack
      // file does not set the key (pulumi/pulumi v3.248.0 sdk/go/common/workspace/config.go, mergeConfig),
      // so every stack without this key hands the program a plain ''.
      if (text !== undefined && text !== '' && !secretKeys.includes(key)) {
        problems.push(`${key}: is stored in plain text in Pulumi.${stack}.yaml; set it with \`pulumi config set --secret ${key}\` (and rotate it).`);
      } else if (wrong) problems.push(`${key}: its value (not shown) is not allowed: it must ${wrong}.`);
      values[key] = pulumi.secret(value as string);
      continue;
    }
    if (wrong) problems.push(`${key}: ${show(String(value))} is not allowed: it must ${wrong}.`);
    values[key] = value;
  }
  const config = values as Omit<StackConfig, 'stack' | 'buckets' | 'external' | 'names'>;
  const set = (key: ConfigKey) => (raw[key] ?? '') !== '';
  const external = { postgres: set('externalPostgresHost'), storage: set('externalS3Endpoint'), redis: set('externalRedisUrl') };
  // Names on a server the stack does not run carry its namespace; on its own containers they are fixed.
  const namespace = config.externalNamespace || defaultNamespace(stack);
  const names = {
    postgres: postgresNames(external.postgres ? namespace : undefined),
    storage: storageNames(external.storage ? namespace : undefined, config.bucketPrefix ?? ''),
  };
  if (problems.length === 0) {
    problems.push(...crossChecks(config, names.storage.buckets, external, set));
    if ((external.postgres || external.storage) && !NAMESPACE_PATTERN.test(namespace)) {
      problems.push(
        `externalNamespace: the stack's name "${stack}" makes no namespace for its names on external servers (up to 24 lowercase letters, ` +
          'digits and hyphens, beginning with a letter); set one with `pulumi config set externalNamespace <name>`.',
      );
    }
    problems.push(...stateProblems(stack, config.allowDevState, env));
  }
  if (problems.length > 0) throw new ConfigError(stack, problems);
  return { ...config, stack, names, buckets: names.storage.buckets, external };
}


function parse(type: Kind, text: string): string | number | boolean | undefined {
  if (type === 'string') return text;
  if (type === 'integer') return /^-?\d{1,9}$/.test(text.trim()) ? Number(text) : undefined;
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

const show = (text: string | undefined) => JSON.stringify(text);

function crossChecks(
  c: Omit<StackConfig, 'stack' | 'buckets' | 'external' | 'names'>,
  buckets: StackConfig['buckets'],
  external: External,
  set: (key: ConfigKey) => boolean,
): string[] {
  const problems: string[] = [];
  if (external.postgres && !set('externalPostgresAdminPassword')) {
    problems.push('externalPostgresAdminPassword: required with externalPostgresHost; set it with `pulumi config set --secret externalPostgresAdminPassword`.');
  }
  if (external.storage && !set('externalS3AccessKey')) {
    problems.push('externalS3AccessKey: required with externalS3Endpoint; set it with `pulumi config set --secret externalS3AccessKey`.');
  }
  if (external.storage && !set('externalS3SecretKey')) {
    problems.push('externalS3SecretKey: required with externalS3Endpoint; set it with `pulumi config set --secret externalS3SecretKey`.');
  }
  if (external.storage && !c.bucketPrefix) {
    problems.push(
      'bucketPrefix: required with externalS3Endpoint, whose buckets other stacks may share: give this stack\'s a prefix of its own ' +
        '(`pulumi config set bucketPrefix <name>-`).',
    );
  }
  if (c.adminTools && (external.postgres || external.storage)) {
    problems.push('adminTools: the admin tools run beside the stack\'s own PostgreSQL and MinIO containers; turn it off for a stack on external servers.');
  }
  if (c.backupIntervalHours > 0 && (external.postgres || external.storage)) {
    problems.push(
      'backupIntervalHours: scheduled backups run in a container beside the stack\'s own PostgreSQL and MinIO; for a stack on ' +
        'external servers set it to 0 (`pulumi config rm backupIntervalHours`) and rely on the managed service\'s own backups, or run `node cli/launch.js db-backup` yourself.',
    );
  }
  // The bucket must still hold the last backup when the next one is due.
  const minRetentionDays = Math.floor(c.backupIntervalHours / 24) + 1;
  if (c.backupIntervalHours > 0 && c.backupRetentionDays < minRetentionDays) {
    problems.push(
      `backupRetentionDays: ${c.backupRetentionDays} would empty the backups bucket between two backups ${c.backupIntervalHours} hours apart ` +
        `(backupIntervalHours); raise it to at least ${minRetentionDays}.`,
    );
  }
  const published: [ConfigKey, number][] = [];
  if (!external.postgres) published.push(['postgresPort', c.postgresPort], ['pgbouncerPort', c.pgbouncerPort]);
  if (!external.redis) published.push(['redisPort', c.redisPort]);
  if (!external.storage) published.push(['minioApiPort', c.minioApiPort]);
  if (c.adminTools) published.push(['minioConsolePort', c.minioConsolePort], ['adminerPort', c.adminerPort]);
  const byPort = new Map<number, ConfigKey[]>();
  for (const [key, p] of published) byPort.set(p, [...(byPort.get(p) ?? []), key]);
  for (const [p, keys] of byPort) {
    if (keys.length > 1) problems.push(`${keys.join(', ')}: all are ${p}; each service needs its own host port.`);
  }
  const maxmemoryLimit = Math.floor((c.redisMemoryMb * 3) / 4);
  if (c.redisMaxmemoryMb > maxmemoryLimit) {
    problems.push(
      `redisMaxmemoryMb: ${c.redisMaxmemoryMb} is more than three quarters of redisMemoryMb (${c.redisMemoryMb}); ` +
        `lower it to ${maxmemoryLimit} or raise redisMemoryMb to ${Math.ceil((c.redisMaxmemoryMb * 4) / 3)}, ` +
        'or the append-only rewrite can push Redis over its memory limit.',
    );
  }
  // One message for the prefix, naming the first bucket it breaks.
  const broken = Object.entries(buckets).find(([, name]) => bucketNameProblem(name));
  if (broken) {
    const [key, name] = broken;
    problems.push(`bucketPrefix: ${show(c.bucketPrefix)} makes the ${key} bucket ${show(name)}, which ${bucketNameProblem(name)}.`);
  }
  return problems;
}

/** S3's bucket naming rules, which MinIO enforces too. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'may hold only lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit';
  }
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) return 'must not have two dots, or a dot next to a hyphen';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not look like an IP address';
  if (name.startsWith('xn--') || name.startsWith('sthree-') || name.endsWith('-s3alias') || name.endsWith('--ol-s3')) {
    return 'uses a prefix or suffix S3 reserves';
  }
  return undefined;
}

/**
 * An image is pinned when it names a digest, or a tag holding a full version (15.10-alpine,
 * RELEASE.2024-01-01T16-36-33Z): a moving tag such as latest, 15 or alpine would let two
 * deployments of one commit run different software.
 */
export function imageProblem(ref: string, major?: number): string | undefined {
  const match = /^((?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::([\w][\w.-]{0,127}))?(?:@sha256:([a-f0-9]{64}))?$/.exec(ref);
  if (!match) return 'be an image reference such as postgres:15.10-alpine';
  const [, , tag, digest] = match;
  if (!digest) {
    if (tag === undefined) return 'name a version tag or a digest (no tag means latest)';
    if (tag === 'latest') return 'not be latest: pin a version tag such as 15.10-alpine, or a digest';
    if (!/\d+\.\d+|^RELEASE\.\d{4}-\d\d-\d\dT/.test(tag)) return `pin a full version, not the moving tag "${tag}"`;
  }
  if (major !== undefined && tag !== undefined && tag !== 'latest') {
    const version = /(\d+)(?:\.\d+)?/.exec(tag);
    if (version && Number(version[1]) !== major) return `be version ${major}, not ${tag}`;
  }
  return undefined;
}

/**
 * The project's keys as the Pulumi CLI passes them, without the "<project>:" namespace, and which
 * of them were set as secrets.
 */
export function projectConfig(): { values: Record<string, string>; secretKeys: string[] } {
  const prefix = `${pulumi.getProject()}:`;
  const values = Object.fromEntries(
    Object.entries(pulumi.runtime.allConfig())
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
  // The SDK's own test for `secure:` values; exported by its runtime, though not in its typings.
  const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret: (key: string) => boolean };
  return { values, secretKeys: Object.keys(values).filter((key) => isConfigSecret(`${prefix}${key}`)) };
}

function passphraseFrom(env: NodeJS.ProcessEnv): { source: string; value: string } | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return { source: 'PULUMI_CONFIG_PASSPHRASE', value: env.PULUMI_CONFIG_PASSPHRASE };
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (!file) return undefined;
  try {
    // As the Pulumi CLI reads it: the whole file, surrounding white space trimmed.
    return { source: 'PULUMI_CONFIG_PASSPHRASE_FILE', value: readFileSync(file, 'utf8').trim() };
  } catch {
    return undefined; // the CLI has already read it, or failed on it, before the program runs
  }
}

function stateProblems(stack: string, allowDevState: boolean, env: NodeJS.ProcessEnv): string[] {
  if (allowDevState) return [];
  const problems: string[] = [];
  const passphrase = passphraseFrom(env);
  if (passphrase && (passphrase.value === DEV_PASSPHRASE || passphrase.value.length < MIN_PASSPHRASE_LENGTH)) {
    problems.push(
      `${passphrase.source}: stack "${stack}" needs a passphrase of its own, at least ${MIN_PASSPHRASE_LENGTH} characters ` +
        `and not the dev stack's; or a secrets provider such as awskms:// (pulumi stack change-secrets-provider).`,
    );
  }
  const backend = env.PULUMI_BACKEND_URL;
  if (!backend || /^file:\/\/(\.|[^/~])/.test(backend)) {
    problems.push(
      `PULUMI_BACKEND_URL: stack "${stack}" keeps its state outside the project folder. ` +
        'Set PULUMI_BACKEND_URL to a backend such as s3://bucket/prefix, https://api.pulumi.com or file:///srv/pulumi-state.',
    );
  }
  return problems;
}

function unknownKey(key: string, value: string): string {
  // `pulumi config set --path postgres.memroyMb` arrives as an object under "postgres".
  let paths = [key];
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) paths = Object.keys(parsed).map((k) => `${key}.${k}`);
  } catch {
    // a plain string value
  }
  const guesses = paths.map(closestKey).filter((g): g is ConfigKey => g !== undefined);
  const hint = guesses.length > 0 ? ` Did you mean ${[...new Set(guesses)].join(' or ')}?` : '';
  return `${key}: unknown key.${hint} Remove it with \`pulumi config rm ${key}\`; README lists every key.`;
}

function closestKey(name: string): ConfigKey | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  let best: ConfigKey | undefined;
  let bestDistance = Infinity;
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const d = editDistance(norm(name), norm(key));
    if (d < bestDistance) [best, bestDistance] = [key, d];
  }
  return bestDistance <= Math.max(2, Math.floor(norm(name).length / 4)) ? best : undefined;
}

/** Optimal string alignment distance: a swapped pair of letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
