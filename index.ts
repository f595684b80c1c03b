import * as pulumi from '@pulumi/pulumi';
import { Admin } from './stacks/admin';
import { loadConfig, projectConfig } from './stacks/config';
import { Database } from './stacks/database';
import { Minio } from './stacks/minio';
import { Naming } from './stacks/naming';
import { Network } from './stacks/network';
import { endpoints, hostFor, S3_REGION } from './stacks/outputs';
import { Pgbouncer } from './stacks/pgbouncer';
import { PostDeploy } from './stacks/postdeploy';
import { Postgres } from './stacks/postgres';
import { Redis } from './stacks/redis';
import { MINIO, POSTGRES, ROLES } from './stacks/services';
import { Storage } from './stacks/storage';

// Validate everything first: a bad stack file stops here, before any resource is declared.
const config = loadConfig(pulumi.getStack(), projectConfig(), process.env);
const naming = Naming.current();
const host = hostFor(config.bindAddress);

const { network } = new Network('network', { naming });
const postgres = new Postgres('postgres', { config, naming, network });
const database = new Database('database', {
  admin: {
    host,
    port: config.postgresPort,
    username: POSTGRES.superuser,
    password: postgres.superuserPassword,
    sslMode: 'disable',
    superuser: true,
    dependsOn: [postgres.container],
  },
  protect: config.protectData,
});
const pgbouncer = new Pgbouncer('pgbouncer', {
  config,
  naming,
  network,
  postgres: postgres.container,
  logins: (['app', 'readonly'] as const).map((key) => ({ user: ROLES[key], scramSecret: database.logins[key].scramSecret })),
});
const redis = new Redis('redis', { config, naming, network });
const minio = new Minio('minio', { config, naming, network });
const storage = new Storage('storage', {
  admin: {
    server: `${host}:${config.minioApiPort}`,
    user: MINIO.rootUser,
    password: minio.rootPassword,
    ssl: false,
    region: S3_REGION,
    dependsOn: [minio.container],
  },
  buckets: config.buckets,
  protect: config.protectData,
});
const admin = config.adminTools ? new Admin('admin', { config, naming, network }) : undefined;

const out = endpoints(config, { postgres, pgbouncer, redis, minio, database, storage, admin });
new PostDeploy('postdeploy', { migratorUrl: out.migratorDatabaseUrl, demoData: config.demoData, dependsOn: database.ready });
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
export const postgresSuperuserUrl = out.postgresSuperuserUrl;
export const adminUrls = out.adminUrls;
export const containers = out.containers;
