import * as pulumi from '@pulumi/pulumi';
import { Admin } from './stacks/admin';
import { loadConfig, projectConfig } from './stacks/config';
import { Minio } from './stacks/minio';
import { Naming } from './stacks/naming';
import { Network } from './stacks/network';
import { endpoints } from './stacks/outputs';
import { Pgbouncer } from './stacks/pgbouncer';
import { Postgres } from './stacks/postgres';
import { Redis } from './stacks/redis';
import { POSTGRES } from './stacks/services';

// Validate everything first: a bad stack file stops here, before any resource is declared.
const config = loadConfig(pulumi.getStack(), projectConfig(), process.env);
const naming = Naming.current();

const { network } = new Network('network', { naming });
const postgres = new Postgres('postgres', { config, naming, network });
const pgbouncer = new Pgbouncer('pgbouncer', {
  config,
  naming,
  network,
  postgres: postgres.container,
  logins: [{ user: POSTGRES.superuser, scramSecret: postgres.superuserScramSecret }],
});
const redis = new Redis('redis', { config, naming, network });
const minio = new Minio('minio', { config, naming, network });
const admin = config.adminTools ? new Admin('admin', { config, naming, network }) : undefined;

const out = endpoints(config, { postgres, pgbouncer, redis, minio, admin });
export const postgresAdminUrl = out.postgresAdminUrl;
export const pooledAdminUrl = out.pooledAdminUrl;
export const redisUrl = out.redisUrl;
export const s3Endpoint = out.s3Endpoint;
export const adminUrls = out.adminUrls;
export const containers = out.containers;
