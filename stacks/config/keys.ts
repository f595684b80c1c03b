import { isIPv4 } from 'node:net';
import type * as pulumi from '@pulumi/pulumi';
import { DEFAULT_KEEP } from '../../common/names';
import { NAMESPACE_PATTERN, type PostgresNames, type StorageNames } from '../../common/stack-names';
import { MAX_CONNECTIONS, POSTGRES_MIN_MEMORY_MB, RESERVED_CONNECTIONS } from '../containers/postgres-settings';
import { POSTGRES, REDIS } from '../services';
import { adminerBaseImageProblem, backupNodeImageProblem, hostProblem, imageProblem, pemPathProblem } from './checks';

/**
 * The stack's configuration: every key, its type, default and what is allowed. This table is the
 * source of truth; Pulumi.yaml declares the same keys (a test keeps the two equal) so that the
 * Pulumi CLI type-checks stack files too.
 */

export type Kind = 'string' | 'integer' | 'boolean';
type ValueOf<K extends Kind> = K extends 'string' ? string : K extends 'integer' ? number : boolean;

export interface KeySpec<K extends Kind = Kind> {
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

/** The longest interval between scheduled backups: a week. */
const MAX_BACKUP_INTERVAL_HOURS = 168;

/** PostgreSQL's sslmode values that encrypt; a server on another host is never reached in plain text. */
const TLS_SSLMODES = ['require', 'verify-ca', 'verify-full'];

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
  // Not the official adminer image: the stack builds Adminer from Debian bookworm's package, the
  // release its tests run (stacks/services.ts ADMINER, stacks/containers/adminer.Dockerfile).
  adminerBaseImage: {
    ...image('Debian bookworm image the Adminer image (with adminTools) is built from, pinned to a point release or digest.', 'debian:12.15-slim'),
    check: adminerBaseImageProblem,
  },
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
  backupBeforeMigrate: spec({
    type: 'boolean',
    default: false,
    description: 'Before the post-deploy step applies pending migrations, take a backup of the database as the backup role (db:migrate --backup-first), into backups/ of the project folder; a failed backup stops the migration.',
  }),
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
  /** What its objects are called inside PostgreSQL and MinIO (common/stack-names.ts). */
  names: { postgres: PostgresNames; storage: StorageNames };
  /** Final bucket names, prefix applied (names.storage.buckets). */
  buckets: StorageNames['buckets'];
};
