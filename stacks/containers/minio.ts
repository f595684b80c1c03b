import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';
import { dataVolume, dataVolumeName, type PublishedPort, serviceContainer } from './container';
import type { Naming } from '../naming';
import { generatedPassword } from '../secrets';
import type { StorageAdmin } from '../inside/storage';
import { ADMIN_BIND_ADDRESS, MINIO, S3_REGION } from '../services';
import { STALE_UPLOADS_ENV } from '../inside/storage-policies';

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
