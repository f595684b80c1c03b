import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { Admin } from './stacks/containers/admin';
import { Backups } from './stacks/containers/backups';
import { loadConfig, projectConfig } from './stacks/config';
import { Database, externalPostgresAdmin } from './stacks/inside/database';
import { Minio } from './stacks/containers/minio';
import { Naming } from './stacks/naming';
import { Network } from './stacks/containers/network';
import { containerNames, endpoints } from './stacks/outputs';
import { hostFor } from './stacks/urls';
import { Pgbouncer } from './stacks/containers/pgbouncer';
import { PostDeploy } from './stacks/postdeploy';
import { Postgres } from './stacks/containers/postgres';
import { Redis } from './stacks/containers/redis';
import { destroyGuard } from './stacks/guard';
import { externalStorageAdmin, Storage } from './stacks/inside/storage';

// Validate everything first: a bad stack file stops here, before any resource is declared.
const { values, secretKeys } = projectConfig();
const config = loadConfig(pulumi.getStack(), values, process.env, secretKeys);
const naming = Naming.current();
const host = hostFor(config.bindAddress);

// The Docker network exists only if some server runs in a container: a stack wholly on external
// servers needs no Docker host at all.
let ownNetwork: docker.Network | undefined;
const network = () => (ownNetwork ??= new Network('network', { naming }).network);

// Each server: the stack's own container, or an existing one named in the stack's config.
const postgres = config.external.postgres ? undefined : new Postgres('postgres', { config, naming, network: network() });
const database = new Database('database', {
  admin: postgres ? postgres.admin(host, config.postgresPort) : externalPostgresAdmin(config),
  names: config.names.postgres,
  mark: naming.mark(),
  protect: config.protectData,
});
const pgbouncer = postgres
  ? new Pgbouncer('pgbouncer', {
      config,
      naming,
      network: network(),
      postgres: postgres.container,
      logins: (['app', 'readonly'] as const).map((key) => ({ user: config.names.postgres.roles[key], scramSecret: database.logins[key].scramSecret })),
    })
  : undefined;
const redis = config.external.redis ? undefined : new Redis('redis', { config, naming, network: network() });
const minio = config.external.storage ? undefined : new Minio('minio', { config, naming, network: network() });
const storage = new Storage('storage', {
  admin: minio ? minio.admin(host, config.minioApiPort) : externalStorageAdmin(config),
  names: config.names.storage,
  mark: naming.mark(),
  protect: config.protectData,
  backupRetentionDays: config.backupRetentionDays,
});
const admin = config.adminTools ? new Admin('admin', { config, naming, network: network() }) : undefined;

const out = endpoints(config, { postgres, pgbouncer, redis, minio, database, storage, admin });
const postDeploy = new PostDeploy('postdeploy', {
  migratorUrl: out.migratorDatabaseUrl,
  demoData: config.demoData,
  backupFirst: config.backupBeforeMigrate ? { backupUrl: out.backupDatabaseUrl, stack: config.stack } : undefined,
  database: database.identity,
  dependsOn: database.ready,
});
// Scheduled backups start once the database is migrated and the bucket and credential exist.
const backups =
  config.backupIntervalHours > 0
    ? new Backups('backups', {
        config,
        naming,
        network: network(),
        password: database.logins.backup.password,
        credential: storage.backup,
        dependsOn: [...database.ready, ...storage.ready, postDeploy.command],
      })
    : undefined;

// Last, after everything: with protectData, `pulumi destroy` stops at it having removed nothing.
destroyGuard(config.protectData, [ownNetwork, postgres, database, pgbouncer, redis, minio, storage, admin, postDeploy, backups].filter((r) => r !== undefined));

export const databaseUrl = out.databaseUrl;
export const directDatabaseUrl = out.directDatabaseUrl;
export const migratorDatabaseUrl = out.migratorDatabaseUrl;
export const readonlyDatabaseUrl = out.readonlyDatabaseUrl;
export const redisUrl = out.redisUrl;
export const s3Endpoint = out.s3Endpoint;
export const s3Region = out.s3Region;
export const s3AccessKey = out.s3AccessKey;
export const s3SecretKey = out.s3SecretKey;
export const s3BackupAccessKey = out.s3BackupAccessKey;
export const s3BackupSecretKey = out.s3BackupSecretKey;
export const buckets = out.buckets;
export const postgresAdminUrl = out.postgresAdminUrl;
export const backupDatabaseUrl = out.backupDatabaseUrl;
export const adminUrls = out.adminUrls;
export const containers = containerNames({ postgres, pgbouncer, redis, minio, admin, backups });
