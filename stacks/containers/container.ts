import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { Naming } from '../naming';

/** How long `pulumi up` waits for a container to report healthy before failing. */
export const HEALTHY_WITHIN_SECONDS = 180;

/**
 * A whole number of seconds as Go's time.Duration.String() prints it ("10s", "1m0s", "1h0m0s").
 * The Docker provider parses a health check's durations and reads them back from the container in
 * that form (kreuzwerker/terraform-provider-docker v4.5.0, which @pulumi/docker 5.2.0 builds:
 * internal/provider/resource_docker_container_funcs.go, Read: `Interval.String()` and the like).
 * Declared in any other form ("60s"), every refresh would show a change that is none.
 */
export function goDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`goDuration: ${seconds} is not a whole number of seconds`);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

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
  /** Replaces the image's entrypoint (which `command` is then passed to). */
  entrypoints?: string[];
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
  /**
   * The signal that stop sends, where the service stops cleanly on another than SIGTERM. Unset, the
   * image's (Docker's default: SIGTERM). The provider sends it through Docker's ContainerStop, the
   * one its delete calls with destroyGraceSeconds, and reads it back from the container, so a
   * declared one shows no change on refresh (kreuzwerker/terraform-provider-docker v4.5.0,
   * internal/provider/resource_docker_container_funcs.go: Create `StopSignal`, Read
   * `container.Config.StopSignal`, Delete `ContainerStop`; resource_docker_container.go: ForceNew).
   */
  stopSignal?: string;
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
      entrypoints: args.entrypoints,
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
        interval: goDuration(10),
        timeout: goDuration(5),
        retries: 5,
        startPeriod: goDuration(args.startPeriodSeconds ?? 10),
      },
      wait: args.waitHealthy ?? true,
      waitTimeout: HEALTHY_WITHIN_SECONDS,
      destroyGraceSeconds: args.stopGraceSeconds,
      stopSignal: args.stopSignal,
      logDriver: 'local',
    },
    // The provider's Update applies no health check change to a running container (it only records
    // it: resource_docker_container_funcs.go, Update handles restart and resources alone), so a new
    // health check takes a new container. Replacing one deletes it first (pulumi-docker
    // provider/resources.go: DeleteBeforeReplace for docker_container), as its name is fixed.
    { parent, dependsOn, replaceOnChanges: ['healthcheck'] },
  );
}

/** A service's data volume's name: pronunciation-assistant-<stack>-<service>-data. */
export const dataVolumeName = (service: string, naming: Naming): string => naming.docker(`${service}-data`);

/** A named data volume. Never deleted with the stack; with `protect`, `pulumi destroy` refuses to run. */
export function dataVolume(service: string, naming: Naming, protect: boolean, parent: pulumi.Resource): docker.Volume {
  return new docker.Volume(
    `${service}-data`,
    { name: dataVolumeName(service, naming), labels: naming.labels(service) },
    { parent, retainOnDelete: true, protect },
  );
}
