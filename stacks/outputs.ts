import * as pulumi from '@pulumi/pulumi';
import type { AppOutput } from '../db/app-env';
import type { Admin } from './admin';
import type { Backups } from './backups';
import type { StackConfig } from './config';
import type { Database } from './database';
import type { Minio } from './minio';
import type { Pgbouncer } from './pgbouncer';
import type { Postgres } from './postgres';
import type { Redis } from './redis';
import { ADMIN_BIND_ADDRESS, POSTGRES, REDIS, S3_REGION } from './services';
import type { Storage } from './storage';

/** What the stack declared; a server it does not run (config `external*`) has no component. */
export interface Services {
  postgres?: Postgres;
  pgbouncer?: Pgbouncer;
  redis?: Redis;
  minio?: Minio;
  database: Database;
  storage: Storage;
  admin?: Admin;
}

/** Where the host reaches a port published on the bind address (0.0.0.0 is reachable on loopback). */
export function hostFor(bindAddress: string): string {
  return bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress;
}

/** A PostgreSQL URL of a database, a secret: it holds the password. */
export function postgresUrl(
  user: pulumi.Input<string>,
  password: pulumi.Input<string>,
  host: pulumi.Input<string>,
  port: number,
  database: string,
  query = '',
): pulumi.Output<string> {
  return pulumi.secret(pulumi.interpolate`postgresql://${user}:${password}@${host}:${port}/${database}${query}`);
}

/**
 * The stack's outputs: what the application consumes (db/app-env.ts names them and their
 * variables), and for operators the program's own admin login, the backup role's and the admin tools.
 * Anything holding a credential is a secret, so `pulumi stack output` masks it.
 */
export function endpoints(config: StackConfig, s: Services) {
  const host = hostFor(config.bindAddress);
  // An external server has no pool in front of it here (managed services bring their own), and is
  // reached over TLS; the stack's own container is reached on loopback, pooled through PgBouncer.
  const pg = config.external.postgres
    ? {
        host: config.externalPostgresHost,
        direct: config.externalPostgresPort,
        pooled: config.externalPostgresPort,
        query: `?sslmode=${config.externalPostgresSslMode}${config.externalPostgresSslRootCert ? `&sslrootcert=${config.externalPostgresSslRootCert}` : ''}`,
      }
    : { host, direct: config.postgresPort, pooled: config.pgbouncerPort, query: '' };
  const { database, roles } = config.names.postgres;
  const url = (user: pulumi.Input<string>, password: pulumi.Input<string>, port: number) => postgresUrl(user, password, pg.host, port, database, pg.query);
  const { logins } = s.database;
  const app = {
    databaseUrl: url(roles.app, logins.app.password, pg.pooled),
    directDatabaseUrl: url(roles.app, logins.app.password, pg.direct),
    migratorDatabaseUrl: url(roles.migrator, logins.migrator.password, pg.direct),
    readonlyDatabaseUrl: url(roles.readonly, logins.readonly.password, pg.pooled),
    redisUrl: s.redis
      ? pulumi.secret(pulumi.interpolate`redis://${REDIS.appUser}:${s.redis.appPassword}@${host}:${config.redisPort}`)
      : config.externalRedisUrl,
    s3Endpoint: config.external.storage
      ? `${config.externalS3Ssl ? 'https' : 'http'}://${config.externalS3Endpoint}`
      : `http://${host}:${config.minioApiPort}`,
    s3Region: config.external.storage ? config.externalS3Region : S3_REGION,
    s3AccessKey: pulumi.secret(s.storage.app.accessKey),
    s3SecretKey: s.storage.app.secretKey,
    s3BackupAccessKey: pulumi.secret(s.storage.backup.accessKey),
    s3BackupSecretKey: s.storage.backup.secretKey,
    buckets: config.buckets,
  } satisfies Record<AppOutput, unknown>;
  const admin = s.postgres
    ? url(POSTGRES.superuser, s.postgres.superuserPassword, pg.direct)
    : url(config.externalPostgresAdminUser, config.externalPostgresAdminPassword, pg.direct);
  return {
    ...app,
    /** The program's own admin login (the container's superuser, or the external server's admin): break-glass for operators; never in `.env`. */
    postgresAdminUrl: admin,
    /** The backup role (reads everything, writes nothing), direct: for `db-backup` run by hand; never in `.env`. */
    backupDatabaseUrl: url(roles.backup, logins.backup.password, pg.direct),
    /** Admin tools' addresses; empty unless the stack runs them (an undefined output would draw a warning). */
    adminUrls: s.admin ? { adminer: s.admin.url, minioConsole: `http://${ADMIN_BIND_ADDRESS}:${config.minioConsolePort}` } : {},
  };
}

/** The containers the stack runs, by service: an output of its own, since the backup container is declared after the others' outputs. */
export function containerNames(s: Omit<Services, 'database' | 'storage'> & { backups?: Backups }) {
  const containers = { postgres: s.postgres, pgbouncer: s.pgbouncer, redis: s.redis, minio: s.minio, adminer: s.admin, backups: s.backups };
  return Object.fromEntries(Object.entries(containers).flatMap(([service, c]) => (c ? [[service, c.container.name]] : [])));
}
