/**
 * The names both halves share: the Pulumi program (index.ts, stacks/) and the operator tool (cli/,
 * lib/) compile from this folder and from nothing of each other's. A name used on both sides is
 * defined here once.
 */

/**
 * The stack outputs the application consumes and the environment variable each becomes in
 * `.env.<stack>` (`npm run env -- <stack>`). The program exports exactly these outputs (besides
 * the operators' `adminUrls` and `containers`), so this table is the one place both read.
 */
export const APP_ENV = {
  /** The app role through PgBouncer (transaction pooling): what the application uses. */
  databaseUrl: 'DATABASE_URL',
  /** The app role straight to PostgreSQL, for sessions that need one (LISTEN, advisory locks). */
  directDatabaseUrl: 'DIRECT_DATABASE_URL',
  /** The migrator role, direct: `db:migrate` and `db:seed` (as DATABASE_URL there). */
  migratorDatabaseUrl: 'MIGRATOR_DATABASE_URL',
  /** The read-only role through PgBouncer: analytics, admin tools. */
  readonlyDatabaseUrl: 'READONLY_DATABASE_URL',
  redisUrl: 'REDIS_URL',
  s3Endpoint: 'S3_ENDPOINT',
  s3Region: 'S3_REGION',
  s3AccessKey: 'S3_ACCESS_KEY',
  s3SecretKey: 'S3_SECRET_KEY',
  s3BackupAccessKey: 'S3_BACKUP_ACCESS_KEY',
  s3BackupSecretKey: 'S3_BACKUP_SECRET_KEY',
  /** An object { documents, recordings, temp, backups }: one variable per bucket, S3_BUCKET_<NAME>. */
  buckets: 'S3_BUCKET_',
} as const;

export type AppOutput = keyof typeof APP_ENV;

/**
 * The buckets the application uses; a stack may prefix their names (config `bucketPrefix`). Here
 * rather than in stacks/, because the `.env` writer (compiled without stacks/) needs them too.
 */
export const BUCKETS = ['documents', 'recordings', 'temp', 'backups'] as const;
export type BucketKey = (typeof BUCKETS)[number];

/** The variable holding a bucket's name in `.env.<stack>`: S3_BUCKET_<KEY>. */
export const bucketVariable = (key: BucketKey): string => `${APP_ENV.buckets}${key.toUpperCase()}`;

/**
 * The PostgreSQL major version the schema is written for. The stack pins its image to it
 * (stacks/services.ts uses it) and `npm run health` checks the server runs it. Here rather
 * than in stacks/, because the commands are compiled without stacks/.
 */
export const POSTGRES_MAJOR = 15;

/** The application database, created by the PostgreSQL container on first start. */
export const DATABASE_NAME = 'pronunciation_assistant';

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

/** Backups kept in a folder unless `--keep` says otherwise. */
export const DEFAULT_KEEP = 7;

/**
 * Backups taken before migrating (`db:migrate --backup-first`, `<stack>-before-migrate-<time>.dump`)
 * kept in their folder: a retention of their own, which never counts or deletes `db:backup`'s.
 */
export const BEFORE_MIGRATE_KEEP = 5;

/**
 * The backup role's login for `db:migrate --backup-first` (the stack's `backupDatabaseUrl`): the
 * post-deploy step sets it beside DATABASE_URL (the migrator's) when `backupBeforeMigrate` is on.
 */
export const BACKUP_DATABASE_URL = 'BACKUP_DATABASE_URL';

/**
 * Touched in the backup folder after every backup that was written, verified and (where S3 settings
 * are given) uploaded: its age is how a scheduler's health check tells that backups still happen.
 */
export const LAST_SUCCESS_FILE = '.last-success';
