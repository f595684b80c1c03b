import * as fs from 'node:fs';
import * as path from 'node:path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';
import { dataVolume, dataVolumeName, serviceContainer } from './container';
import type { PostgresAdmin } from '../inside/database';
import type { Naming } from '../naming';
import { postgresCommand, postgresSettings } from './postgres-settings';
import { scramLogin } from '../secrets';
import { POSTGRES } from '../services';

export interface PostgresArgs {
  config: StackConfig;
  naming: Naming;
  network: docker.Network;
}

/** UTF-8 with C collation (the spec's), and SCRAM for every TCP login. */
export const POSTGRES_INITDB_ARGS = '--encoding=UTF8 --lc-collate=C --lc-ctype=C --auth-host=scram-sha-256';

/** TCP, not the socket: healthy means reachable the way PgBouncer and the host reach it. */
export const POSTGRES_HEALTHCHECK = [
  'CMD', 'pg_isready', '--host=127.0.0.1', `--port=${POSTGRES.port}`, `--username=${POSTGRES.superuser}`, '--dbname=postgres',
];

/** stacks/containers/postgres-superuser-password.sh, which the container runs before the image's entrypoint. */
export const SUPERUSER_PASSWORD_STEP = fs.readFileSync(path.join(__dirname, 'postgres-superuser-password.sh'), 'utf8');

/**
 * The image's entrypoint, after that step; `sh -c` hands the command on to it ("$@").
 * docker-library/postgres's docker-entrypoint.sh initialises an empty volume only.
 */
export const POSTGRES_ENTRYPOINT = ['/bin/sh', '-c', `${POSTGRES.superuserPasswordStep} && exec docker-entrypoint.sh "$@"`, 'postgres-entrypoint'];

/**
 * PostgreSQL 15 with settings derived from its memory limit. The image creates no application
 * database: the program does (database.ts), owned by the migrator role. The superuser's password never
 * enters the container: the image's entrypoint hands the file's content to initdb as the
 * password, and PostgreSQL stores a string already in SCRAM form as it is.
 */
export class Postgres extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly superuserPassword: pulumi.Output<string>;
  readonly superuserScramSecret: pulumi.Output<string>;
  /** The data volume's name (dataVolume names it so). */
  readonly volumeName: string;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Postgres', name, {}, opts);
    const { config, naming } = args;
    const superuser = scramLogin('postgres-superuser', this);
    this.superuserPassword = superuser.password;
    this.superuserScramSecret = superuser.scramSecret;
    const volume = dataVolume('postgres', naming, config.protectData, this);
    this.volumeName = dataVolumeName('postgres', naming);
    this.container = serviceContainer(
      {
        service: 'postgres',
        naming,
        image: config.postgresImage,
        network: args.network,
        alias: POSTGRES.alias,
        memoryMb: config.postgresMemoryMb,
        command: postgresCommand(postgresSettings(config.postgresMemoryMb)),
        envs: [
          `POSTGRES_USER=${POSTGRES.superuser}`,
          `POSTGRES_PASSWORD_FILE=${POSTGRES.passwordFile}`,
          `POSTGRES_INITDB_ARGS=${POSTGRES_INITDB_ARGS}`,
          `PGDATA=${POSTGRES.dataDir}`,
        ],
        entrypoints: POSTGRES_ENTRYPOINT,
        uploads: [
          // Root only: the entrypoint reads it as root, before it drops to the postgres user.
          { file: POSTGRES.passwordFile, content: superuser.scramSecret, permissions: '0400' },
          { file: POSTGRES.superuserPasswordStep, content: SUPERUSER_PASSWORD_STEP, permissions: '0500' },
        ],
        ports: [{ internal: POSTGRES.port, external: config.postgresPort, ip: config.bindAddress }],
        volumes: [{ volume, containerPath: POSTGRES.dataDir }],
        stopGraceSeconds: 60,
        healthcheck: POSTGRES_HEALTHCHECK,
        startPeriodSeconds: 60,
      },
      this,
    );
    this.registerOutputs({ container: this.container.name });
  }

  /** How the program administers it: as the superuser, on the published port, once the container is healthy. */
  admin(host: string, port: number): PostgresAdmin {
    return {
      host,
      port,
      username: POSTGRES.superuser,
      password: this.superuserPassword,
      sslMode: 'disable',
      superuser: true,
      dependsOn: [this.container],
      volume: this.volumeName,
    };
  }
}
