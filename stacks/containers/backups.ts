import * as path from 'node:path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { APP_ENV, bucketVariable, type BucketKey } from '../../common/names';
import { LAST_SUCCESS_FILE } from '../../common/names';
import { quoteEnvValue } from '../../common/dotenv';
import { ROOT } from '../../common/paths';
import type { StackConfig } from '../config';
import { dataVolume, serviceContainer } from './container';
import type { Naming } from '../naming';
import { postgresUrl } from '../urls';
import { BACKUPS, MINIO, POSTGRES, S3_REGION } from '../services';
import type { StorageCredential } from '../inside/storage';

/** The backup image's Dockerfile, relative to the repository root, which is its build context (.dockerignore there). */
export const BACKUP_DOCKERFILE = 'stacks/containers/backup.Dockerfile';

/**
 * How long after the container starts the first backup may take before a missing success file
 * counts against the health check. `pulumi up` does not wait for it: a large database's first
 * dump can outlast any wait, and a failed wait would replace the container and start over.
 */
export const FIRST_BACKUP_WITHIN_SECONDS = 3600;

const BACKUPS_BUCKET: BucketKey = 'backups';

/** The Dockerfile's build arguments: the base image from config, and the names the container relies on. */
export function backupBuildArgs(baseImage: string): Record<string, string> {
  return { BASE_IMAGE: baseImage, POSTGRES_MAJOR: String(POSTGRES.major), APP_DIR: BACKUPS.appDir, BACKUP_DIR: BACKUPS.dir };
}

/** `backup` every `intervalHours`, keeping `keep` backups in the volume; node reads the credentials file first. */
export function backupCommand(stack: string, keep: number, intervalHours: number): string[] {
  return [
    'node', `--env-file=${BACKUPS.envFile}`, BACKUPS.tool, 'backup',
    '--stack', stack, '--dir', BACKUPS.dir, '--keep', String(keep), '--every', String(intervalHours),
  ];
}

/** Healthy while the last successful backup is younger than two intervals: one failed run is tolerated, a second is not. */
export function backupHealthcheck(intervalHours: number): string[] {
  return ['CMD-SHELL', `find ${BACKUPS.dir}/${LAST_SUCCESS_FILE} -mmin -${2 * intervalHours * 60} | grep -q .`];
}

/**
 * The credentials file, in the one form node's --env-file reads literally: NAME='value'. Generated
 * passwords, keys and URLs never hold a quote or a line break; should one ever, this refuses
 * rather than write a file node would misread. The message names the variable, never the value.
 */
export function backupEnvFile(variables: Record<string, string>): string {
  return Object.entries(variables)
    .map(([name, value]) => {
      if (/['\r\n]/.test(value)) throw new Error(`${name} holds a quote or a line break, which the backup container's credentials file cannot carry`);
      return `${name}=${quoteEnvValue(value)}\n`;
    })
    .join('');
}

export interface BackupsArgs {
  config: StackConfig;
  naming: Naming;
  network: docker.Network;
  /** The backup role's password (Database.logins.backup). */
  password: pulumi.Input<string>;
  /** The backups' storage credential (Storage.backup): it may write to the backups bucket, nothing else. */
  credential: StorageCredential;
  /** What the first backup relies on: the role and its grants, the bucket and the credential, the migrations. */
  dependsOn: pulumi.Resource[];
}

/**
 * Scheduled backups: a container built here from the repository's own commands, which dumps the
 * database as the backup role (it reads everything and may change nothing) every
 * backupIntervalHours, keeps backupKeep copies on its volume and uploads each to the backups
 * bucket with the write-only backup credential. The credentials reach it as a file, never as
 * environment variables; the rest of its settings are plain.
 */
export class Backups extends pulumi.ComponentResource {
  readonly image: docker.Image;
  readonly container: docker.Container;

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Backups', name, {}, opts);
    const { config, naming } = args;
    this.image = new docker.Image(
      'backups-image',
      {
        // Built on the Docker host and kept there: no registry. Docker repository names are lowercase.
        imageName: `${naming.docker('backups').toLowerCase()}:local`,
        build: { context: ROOT, dockerfile: path.join(ROOT, BACKUP_DOCKERFILE), args: backupBuildArgs(config.backupNodeImage) },
        skipPush: true,
      },
      { parent: this },
    );
    const volume = dataVolume('backups', naming, config.protectData, this);
    const { database, roles } = config.names.postgres;
    const databaseUrl = postgresUrl(roles.backup, args.password, POSTGRES.alias, POSTGRES.port, database);
    const credentials = pulumi.secret(
      pulumi.all([databaseUrl, args.credential.secretKey]).apply(([url, secretKey]) =>
        backupEnvFile({
          [APP_ENV.databaseUrl]: url,
          [APP_ENV.s3BackupAccessKey]: args.credential.accessKey,
          [APP_ENV.s3BackupSecretKey]: secretKey,
        }),
      ),
    );
    this.container = serviceContainer(
      {
        service: 'backups',
        naming,
        // The build's image ID: a rebuilt image replaces the container.
        image: { built: this.image.repoDigest },
        network: args.network,
        alias: BACKUPS.alias,
        memoryMb: config.backupMemoryMb,
        command: backupCommand(config.stack, config.backupKeep, config.backupIntervalHours),
        envs: [
          `${APP_ENV.s3Endpoint}=http://${MINIO.alias}:${MINIO.apiPort}`,
          `${APP_ENV.s3Region}=${S3_REGION}`,
          `${bucketVariable(BACKUPS_BUCKET)}=${config.buckets[BACKUPS_BUCKET]}`,
        ],
        // Readable by the image's unprivileged user, the container's only one.
        uploads: [{ file: BACKUPS.envFile, content: credentials, permissions: '0444' }],
        volumes: [{ volume, containerPath: BACKUPS.dir }],
        healthcheck: backupHealthcheck(config.backupIntervalHours),
        startPeriodSeconds: FIRST_BACKUP_WITHIN_SECONDS,
        // backup stops cleanly on SIGTERM, abandoning a dump in progress.
        stopGraceSeconds: 30,
        waitHealthy: false,
      },
      this,
      [this.image, ...args.dependsOn],
    );
    this.registerOutputs({ container: this.container.name });
  }
}
