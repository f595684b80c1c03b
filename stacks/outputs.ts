import * as pulumi from '@pulumi/pulumi';
import type { Admin } from './admin';
import type { StackConfig } from './config';
import type { Minio } from './minio';
import type { Pgbouncer } from './pgbouncer';
import type { Postgres } from './postgres';
import type { Redis } from './redis';
import { ADMIN_BIND_ADDRESS, DATABASE_NAME, POSTGRES, REDIS } from './services';

export interface Services {
  postgres: Postgres;
  pgbouncer: Pgbouncer;
  redis: Redis;
  minio: Minio;
  admin?: Admin;
}

/** Where the host reaches a port published on the bind address (0.0.0.0 is reachable on loopback). */
export function hostFor(bindAddress: string): string {
  return bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress;
}

/** The stack's outputs. Anything holding a credential is a secret, so `pulumi stack output` masks it. */
export function endpoints(config: StackConfig, s: Services) {
  const host = hostFor(config.bindAddress);
  const pgUrl = (port: number) =>
    pulumi.secret(pulumi.interpolate`postgresql://${POSTGRES.superuser}:${s.postgres.superuserPassword}@${host}:${port}/${DATABASE_NAME}`);
  return {
    /** Superuser, direct: for operators and migrations until the stack's own roles exist. */
    postgresAdminUrl: pgUrl(config.postgresPort),
    /** Superuser through PgBouncer (transaction pooling). */
    pooledAdminUrl: pgUrl(config.pgbouncerPort),
    redisUrl: pulumi.secret(pulumi.interpolate`redis://${REDIS.appUser}:${s.redis.appPassword}@${host}:${config.redisPort}`),
    s3Endpoint: `http://${host}:${config.minioApiPort}`,
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
