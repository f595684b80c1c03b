/**
 * Fixed facts about each service: what the images expect and how the containers find each other.
 * Everything a stack may change (host ports, memory, images) lives in stacks/config/keys.ts instead.
 */

import { POSTGRES_MAJOR } from '../common/names';


export const POSTGRES = {
  /** Network alias: other containers connect to postgres:5432. */
  alias: 'postgres',
  port: 5432,
  /** The image's bootstrap superuser; only PgBouncer's pass-through and operators use it. */
  superuser: 'postgres',
  dataDir: '/var/lib/postgresql/data',
  /** Read by the image's entrypoint through POSTGRES_PASSWORD_FILE. */
  passwordFile: '/run/secrets/postgres-password',
  /** Runs before the image's entrypoint: stacks/containers/postgres-superuser-password.sh. */
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



/** The scheduled backup container (stacks/containers/backups.ts), built from stacks/containers/backup.Dockerfile, which gets these as build arguments. */
export const BACKUPS = {
  alias: 'backups',
  /** The image's working directory: package.json and the bundled tool (cli/bundle.js writes both). */
  appDir: '/app',
  /** The operator tool as one file, relative to appDir: what the container runs. */
  tool: 'dist/pa-data.js',
  /** The backup volume: the local copies, and lib/backups/files.ts LAST_SUCCESS_FILE. */
  dir: '/backups',
  /** The credentials, as a dotenv file that node reads (--env-file): never in the container's environment. */
  envFile: '/run/secrets/backup.env',
} as const;

/** Admin tools (Adminer, the MinIO console) are published on loopback only, whatever the stack's bind address. */
export const ADMIN_BIND_ADDRESS = '127.0.0.1';

/**
 * Adminer, on dev stacks with adminTools (stacks/containers/admin.ts): Debian bookworm's `adminer`
 * package served by bookworm's PHP, in an image built from stacks/containers/adminer.Dockerfile.
 * Debian's package rather than the official adminer image, so that the release the stack runs is
 * the one tests/admin-tools.test.ts runs: the project's test machines (Debian bookworm) can install
 * only this one.
 */
export const ADMINER = {
  alias: 'adminer',
  port: 8080,
  memoryMb: 128,
  /** The package version the image installs (an apt pin: the build fails rather than install another); the test checks its machine has the same. */
  debianVersion: '4.8.1-1',
  /**
   * Debian's entry script (the package's conffile): Adminer, compiled (/usr/share/adminer/adminer.php),
   * with the plugin that keeps the page from asking adminer.org for a newer version. Debian's own
   * web server setup serves it as the index of this folder (/etc/apache2/conf-available/adminer.conf).
   */
  entryScript: '/etc/adminer/conf.php',
  docroot: '/etc/adminer',
} as const;
