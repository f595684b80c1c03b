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
