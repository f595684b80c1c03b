import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';
import { dataVolume, dataVolumeName, type PublishedPort, serviceContainer } from './container';
import type { Naming } from '../naming';
import { generatedPassword } from '../secrets';
import type { StorageAdmin } from '../inside/storage';
import { ADMIN_BIND_ADDRESS, MINIO, S3_REGION } from '../services';

export interface MinioArgs {
  config: StackConfig;
  naming: Naming;
  network: docker.Network;
}

const ROOT_USER_FILE = '/run/secrets/minio-root-user';
const ROOT_PASSWORD_FILE = '/run/secrets/minio-root-password';

/** MinIO's own liveness probe, through the mc client the image ships with (the image has no curl). */
export const MINIO_HEALTHCHECK = ['CMD', 'mc', 'ready', 'local'];

/** S3-compatible object storage. Root credentials reach MinIO as files, never as environment variables. */
/**
 * Abandoned multipart uploads hold disk space but are not objects, so lifecycle rules cannot reach
 * them (and the provider has no AbortIncompleteMultipartUpload); MinIO removes them itself. Set
 * explicitly so the bound is visible and survives a change of MinIO's defaults. In MinIO
 * RELEASE.2024-01-01 the first sweep runs 6h after start whatever the interval (minio/minio#20450).
 */
export const STALE_UPLOADS_ENV = {
  MINIO_API_STALE_UPLOADS_EXPIRY: '24h',
  MINIO_API_STALE_UPLOADS_CLEANUP_INTERVAL: '6h',
} as const;

export class Minio extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly rootUser: string = MINIO.rootUser;
  readonly rootPassword: pulumi.Output<string>;
  /** The data volume's name (dataVolume names it so). */
  readonly volumeName: string;

  constructor(name: string, args: MinioArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Minio', name, {}, opts);
    const { config, naming } = args;
    this.rootPassword = generatedPassword('minio-root-password', this);
    const volume = dataVolume('minio', naming, config.protectData, this);
    this.volumeName = dataVolumeName('minio', naming);
    const ports: PublishedPort[] = [{ internal: MINIO.apiPort, external: config.minioApiPort, ip: config.bindAddress }];
    if (config.adminTools) ports.push({ internal: MINIO.consolePort, external: config.minioConsolePort, ip: ADMIN_BIND_ADDRESS });
    this.container = serviceContainer(
      {
        service: 'minio',
        naming,
        image: config.minioImage,
        network: args.network,
        alias: MINIO.alias,
        memoryMb: config.minioMemoryMb,
        command: ['server', MINIO.dataDir, '--address', `:${MINIO.apiPort}`, '--console-address', `:${MINIO.consolePort}`],
        envs: [
          `MINIO_ROOT_USER_FILE=${ROOT_USER_FILE}`,
          `MINIO_ROOT_PASSWORD_FILE=${ROOT_PASSWORD_FILE}`,
          `MINIO_BROWSER=${config.adminTools ? 'on' : 'off'}`,
          ...Object.entries(STALE_UPLOADS_ENV).map(([name, value]) => `${name}=${value}`),
        ],
        uploads: [
          { file: ROOT_USER_FILE, content: MINIO.rootUser, permissions: '0400' },
          { file: ROOT_PASSWORD_FILE, content: this.rootPassword, permissions: '0400' },
        ],
        ports,
        volumes: [{ volume, containerPath: MINIO.dataDir }],
        stopGraceSeconds: 30,
        healthcheck: MINIO_HEALTHCHECK,
      },
      this,
    );
    this.registerOutputs({ container: this.container.name });
  }

  /** How the program administers it: as the root user, on the published API port, once the container is healthy. */
  admin(host: string, port: number): StorageAdmin {
    return { server: `${host}:${port}`, user: this.rootUser, password: this.rootPassword, ssl: false, region: S3_REGION, dependsOn: [this.container], volume: this.volumeName };
  }
}
