/**
 * Fixed facts about each service: what the images expect and how the containers find each other.
 * Everything a stack may change (host ports, memory, images) lives in config.ts instead.
 */

import { POSTGRES_MAJOR } from '../db/postgres-version';

/** The application database, created by the PostgreSQL container on first start. */
export const DATABASE_NAME = 'pronunciation_assistant';

export const POSTGRES = {
  /** Network alias: other containers connect to postgres:5432. */
  alias: 'postgres',
  port: 5432,
  /** The image's bootstrap superuser; only PgBouncer's pass-through and operators use it. */
  superuser: 'postgres',
  dataDir: '/var/lib/postgresql/data',
  /** Read by the image's entrypoint through POSTGRES_PASSWORD_FILE. */
  passwordFile: '/run/secrets/postgres-password',
  /** Runs before the image's entrypoint: stacks/postgres-superuser-password.sh. */
  superuserPasswordStep: '/usr/local/bin/pa-superuser-password',
  major: POSTGRES_MAJOR,
} as const;

export const PGBOUNCER = {
  alias: 'pgbouncer',
  port: 6432,
  configFile: '/etc/pgbouncer/pgbouncer.ini',
  authFile: '/etc/pgbouncer/userlist.txt',
} as const;

export const REDIS = {
  alias: 'redis',
  port: 6379,
  dataDir: '/data',
  aclFile: '/etc/redis/users.acl',
  /** The ACL user the application logs in as. */
  appUser: 'app',
  major: 7,
} as const;

export const MINIO = {
  alias: 'minio',
  apiPort: 9000,
  consolePort: 9001,
  dataDir: '/data',
  rootUser: 'pa-root',
} as const;

/** MinIO's region unless told otherwise; S3 clients sign requests with it. */
export const S3_REGION = 'us-east-1';

/**
 * PostgreSQL roles, created by the program. Names are per server: one server holds one stack's
 * database. None is a superuser; the server's own superuser only bootstraps them.
 */
export const ROLES = {
  /** Owns the database and its schema, runs migrations and seeds. */
  migrator: 'pa_migrator',
  /** The application: reads and writes data, no DDL. */
  app: 'pa_app',
  /** Analytics and admin tools: reads only. */
  readonly: 'pa_readonly',
  /** Scheduled backups (pg_dump): reads every table and sequence, changes nothing; connects directly, never through PgBouncer. */
  backup: 'pa_backup',
} as const;

/** Object-store users the program creates (their access keys); the root user is never handed out. */
export const STORAGE_USERS = {
  /** The application: object read/write in documents, recordings and temp. */
  app: 'pa-app',
  /** Backups: may write to the backups bucket and nothing else. */
  backup: 'pa-backup',
} as const;

/** The scheduled backup container (stacks/backups.ts), built from stacks/backup.Dockerfile, which gets these as build arguments. */
export const BACKUPS = {
  alias: 'backups',
  /** The image's working directory: the repository's cli/, db/ and schema/, compiled at build time. */
  appDir: '/app',
  /** The backup volume: the local copies, and db/backup-files.ts LAST_SUCCESS_FILE. */
  dir: '/backups',
  /** The credentials, as a dotenv file that node reads (--env-file): never in the container's environment. */
  envFile: '/run/secrets/backup.env',
} as const;

/** Admin tools (Adminer, the MinIO console) are published on loopback only, whatever the stack's bind address. */
export const ADMIN_BIND_ADDRESS = '127.0.0.1';

export const ADMINER = {
  alias: 'adminer',
  port: 8080,
  memoryMb: 128,
} as const;

/** The buckets the application uses; a stack may prefix them (config `bucketPrefix`). */
export { BUCKETS, type BucketKey } from '../db/app-env';

/** The PostgreSQL major version; the commands check it too. */
export { POSTGRES_MAJOR } from '../db/postgres-version';
