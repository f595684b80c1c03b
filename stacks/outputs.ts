import * as pulumi from '@pulumi/pulumi';
import type { AppOutput } from '../db/app-env';
import type { Admin } from './admin';
import type { StackConfig } from './config';
import type { Database } from './database';
import type { Minio } from './minio';
import type { Pgbouncer } from './pgbouncer';
import type { Postgres } from './postgres';
import type { Redis } from './redis';
import { ADMIN_BIND_ADDRESS, DATABASE_NAME, POSTGRES, REDIS, ROLES } from './services';
import type { Storage } from './storage';

export interface Services {
  postgres: Postgres;
  pgbouncer: Pgbouncer;
  redis: Redis;
  minio: Minio;
  database: Database;
  storage: Storage;
  admin?: Admin;
}

/** Where the host reaches a port published on the bind address (0.0.0.0 is reachable on loopback). */
export function hostFor(bindAddress: string): string {
  return bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress;
}

/** MinIO's region unless told otherwise; S3 clients sign requests with it. */
export const S3_REGION = 'us-east-1';

/**
 * The stack's outputs: what the application consumes (db/app-env.ts names them and their
 * variables), and for operators the superuser's URL, the admin tools and the containers. Anything
 * holding a credential is a secret, so `pulumi stack output` masks it.
 */
export function endpoints(config: StackConfig, s: Services) {
  const host = hostFor(config.bindAddress);
  const url = (user: string, password: pulumi.Input<string>, port: number) =>
    pulumi.secret(pulumi.interpolate`postgresql://${user}:${password}@${host}:${port}/${DATABASE_NAME}`);
  const { logins } = s.database;
  const app = {
    databaseUrl: url(ROLES.app, logins.app.password, config.pgbouncerPort),
    directDatabaseUrl: url(ROLES.app, logins.app.password, config.postgresPort),
    migratorDatabaseUrl: url(ROLES.migrator, logins.migrator.password, config.postgresPort),
    readonlyDatabaseUrl: url(ROLES.readonly, logins.readonly.password, config.pgbouncerPort),
    redisUrl: pulumi.secret(pulumi.interpolate`redis://${REDIS.appUser}:${s.redis.appPassword}@${host}:${config.redisPort}`),
    s3Endpoint: `http://${host}:${config.minioApiPort}`,
    s3Region: S3_REGION,
    s3AccessKey: pulumi.secret(s.storage.app.accessKey),
    s3SecretKey: s.storage.app.secretKey,
    s3BackupAccessKey: pulumi.secret(s.storage.backup.accessKey),
    s3BackupSecretKey: s.storage.backup.secretKey,
    buckets: config.buckets,
  } satisfies Record<AppOutput, unknown>;
  return {
    ...app,
    /** Break-glass access for operators only; the app never gets it (and `npm run env` skips it). */
    postgresSuperuserUrl: url(POSTGRES.superuser, s.postgres.superuserPassword, config.postgresPort),
    /** Admin tools' addresses; empty unless the stack runs them (an undefined output would draw a warning). */
    adminUrls: s.admin ? { adminer: s.admin.url, minioConsole: `http://${ADMIN_BIND_ADDRESS}:${config.minioConsolePort}` } : {},
    containers: {
      postgres: s.postgres.container.name,
      pgbouncer: s.pgbouncer.container.name,
      redis: s.redis.container.name,
      minio: s.minio.container.name,
      ...(s.admin ? { adminer: s.admin.container.name } : {}),
    },
  };
}
