import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';
import { dataVolume, serviceContainer } from './container';
import type { Naming } from '../naming';
import { redisAcl, redisCommand } from './redis-settings';
import { generatedPassword } from '../secrets';
import { REDIS } from '../services';

export interface RedisArgs {
  config: StackConfig;
  naming: Naming;
  network: docker.Network;
}

/** Redis 7 for caching: password login as the app user, append-only persistence, bounded memory. */
/** Healthy when the server answers PING as the default user (loopback, inside the container). */
export const REDIS_HEALTHCHECK = ['CMD-SHELL', `redis-cli -p ${REDIS.port} ping | grep -qx PONG`];

export class Redis extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly appPassword: pulumi.Output<string>;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Redis', name, {}, opts);
    const { config, naming } = args;
    this.appPassword = generatedPassword('redis-app-password', this);
    const volume = dataVolume('redis', naming, config.protectData, this);
    this.container = serviceContainer(
      {
        service: 'redis',
        naming,
        image: config.redisImage,
        network: args.network,
        alias: REDIS.alias,
        memoryMb: config.redisMemoryMb,
        command: redisCommand({ maxmemoryMb: config.redisMaxmemoryMb, maxmemoryPolicy: config.redisMaxmemoryPolicy }),
        uploads: [{ file: REDIS.aclFile, content: pulumi.secret(this.appPassword.apply(redisAcl)), permissions: '0444' }],
        ports: [{ internal: REDIS.port, external: config.redisPort, ip: config.bindAddress }],
        volumes: [{ volume, containerPath: REDIS.dataDir }],
        stopGraceSeconds: 30,
        healthcheck: REDIS_HEALTHCHECK,
      },
      this,
    );
    this.registerOutputs({ container: this.container.name });
  }
}
