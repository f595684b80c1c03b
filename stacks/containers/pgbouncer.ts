import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';
import { serviceContainer } from './container';
import type { Naming } from '../naming';
import { pgbouncerIni, pgbouncerSettingsOf, pgbouncerUserlist, type PoolLogin } from './pgbouncer-settings';
import { PGBOUNCER } from '../services';
import { DATABASE_NAME } from '../../common/names';

export interface PgbouncerArgs {
  config: StackConfig;
  naming: Naming;
  network: docker.Network;
  /** Roles that may log in through the pool, with the SCRAM secrets PostgreSQL stores for them. */
  logins: { user: string; scramSecret: pulumi.Input<string> }[];
  /** PgBouncer starts once PostgreSQL is healthy. */
  postgres: docker.Container;
}

/** Answers once PgBouncer accepts connections; PgBouncer itself checks nothing of the server. */
export const PGBOUNCER_HEALTHCHECK = ['CMD', 'pg_isready', '--host=127.0.0.1', `--port=${PGBOUNCER.port}`, `--dbname=${DATABASE_NAME}`];

/** The connection pool the application uses (the spec's "connection pooling"). */
export class Pgbouncer extends pulumi.ComponentResource {
  readonly container: docker.Container;

  constructor(name: string, args: PgbouncerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Pgbouncer', name, {}, opts);
    const { config } = args;
    const userlist = pulumi.secret(pulumi.output(args.logins).apply((logins: PoolLogin[]) => pgbouncerUserlist(logins)));
    this.container = serviceContainer(
      {
        service: 'pgbouncer',
        naming: args.naming,
        image: config.pgbouncerImage,
        network: args.network,
        alias: PGBOUNCER.alias,
        memoryMb: config.pgbouncerMemoryMb,
        command: ['pgbouncer', PGBOUNCER.configFile],
        uploads: [
          {
            file: PGBOUNCER.configFile,
            content: pgbouncerIni(pgbouncerSettingsOf(config)),
          },
          { file: PGBOUNCER.authFile, content: userlist, permissions: '0444' },
        ],
        ports: [{ internal: PGBOUNCER.port, external: config.pgbouncerPort, ip: config.bindAddress }],
        stopGraceSeconds: 10,
        healthcheck: PGBOUNCER_HEALTHCHECK,
      },
      this,
      [args.postgres],
    );
    this.registerOutputs({ container: this.container.name });
  }
}
