import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { Naming } from './naming';

/** How long `pulumi up` waits for a container to report healthy before failing. */
export const HEALTHY_WITHIN_SECONDS = 180;

export interface PublishedPort {
  internal: number;
  external: number;
  /** Host address to bind; services on a stack's bind address, admin tools always on loopback. */
  ip: string;
}

export interface ServiceContainerArgs {
  service: string;
  naming: Naming;
  /** A pinned image to pull (and keep on the host), or the ID of an image the stack builds. */
  image: string | { built: pulumi.Input<string> };
  network: docker.Network;
  alias: string;
  memoryMb: number;
  healthcheck: string[];
  command?: pulumi.Input<string>[];
  envs?: pulumi.Input<string>[];
  ports?: PublishedPort[];
  volumes?: { volume: docker.Volume; containerPath: string }[];
  uploads?: pulumi.Input<docker.types.input.ContainerUpload>[];
  /** Seconds the first start may take (initdb, say) before failed checks count. */
  startPeriodSeconds?: number;
  /**
   * Seconds a replace or destroy waits for the service to stop cleanly after its stop signal.
   * Without it the provider kills the container at once: PostgreSQL would run crash recovery,
   * Redis lose its last second of writes.
   */
  stopGraceSeconds: number;
  /** Whether `pulumi up` waits for the health check to pass (default true). */
  waitHealthy?: boolean;
}

/**
 * One service container with what every container here has: a pinned image kept on the host
 * (another stack may share it) or one the stack builds, the stack's network and alias, a memory limit with no extra swap,
 * a health check that `pulumi up` waits on (unless told not to), a restart policy, and labels.
 */
export function serviceContainer(args: ServiceContainerArgs, parent: pulumi.Resource, dependsOn: pulumi.Resource[] = []): docker.Container {
  const image =
    typeof args.image === 'string'
      ? new docker.RemoteImage(`${args.service}-image`, { name: args.image, keepLocally: true }, { parent }).imageId
      : args.image.built;
  return new docker.Container(
    args.service,
    {
      name: args.naming.docker(args.service),
      image,
      command: args.command,
      envs: args.envs,
      uploads: args.uploads,
      labels: args.naming.labels(args.service),
      restart: 'unless-stopped',
      memory: args.memoryMb,
      memorySwap: args.memoryMb,
      networksAdvanced: [{ name: args.network.name, aliases: [args.alias] }],
      ports: args.ports?.map((p) => ({ internal: p.internal, external: p.external, ip: p.ip, protocol: 'tcp' })),
      volumes: args.volumes?.map((v) => ({ volumeName: v.volume.name, containerPath: v.containerPath })),
      healthcheck: {
        tests: args.healthcheck,
        interval: '10s',
        timeout: '5s',
        retries: 5,
        startPeriod: `${args.startPeriodSeconds ?? 10}s`,
      },
      wait: args.waitHealthy ?? true,
      waitTimeout: HEALTHY_WITHIN_SECONDS,
      destroyGraceSeconds: args.stopGraceSeconds,
      logDriver: 'local',
    },
    { parent, dependsOn },
  );
}

/** A named data volume. Never deleted with the stack; with `protect`, `pulumi destroy` refuses to run. */
export function dataVolume(service: string, naming: Naming, protect: boolean, parent: pulumi.Resource): docker.Volume {
  return new docker.Volume(
    `${service}-data`,
    { name: naming.docker(`${service}-data`), labels: naming.labels(service) },
    { parent, retainOnDelete: true, protect },
  );
}
