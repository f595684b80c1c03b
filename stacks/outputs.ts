import * as pulumi from '@pulumi/pulumi';
import type { AppOutput } from '../common/names';
import type { Admin } from './containers/admin';
import type { Backups } from './containers/backups';
import type { StackConfig } from './config';
import type { Database } from './inside/database';
import type { Minio } from './containers/minio';
import type { Pgbouncer } from './containers/pgbouncer';
import type { Postgres } from './containers/postgres';
import type { Redis } from './containers/redis';
import { ADMIN_BIND_ADDRESS, POSTGRES, REDIS, S3_REGION } from './services';
import { hostFor, postgresUrl } from './urls';
import type { Storage } from './inside/storage';

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

/**
 * The stack's outputs: what the application consumes (common/names.ts names them and their
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
