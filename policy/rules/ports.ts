import type { ResourceValidationPolicy } from '@pulumi/policy';
import { ADMIN_BIND_ADDRESS, ADMINER, MINIO } from '../../stacks/services';
import { list, onTypes, type Settings, subject, TYPES, withSettings } from './common';

/**
 * Docker publishes a port on every interface when no address is given: the provider's default for
 * `ip` is 0.0.0.0 (node_modules/@pulumi/docker/types/input.d.ts, ContainerPort).
 */
const DOCKER_DEFAULT_IP = '0.0.0.0';

/** Whether a container's port is an admin UI: Adminer's, or the MinIO console (stacks/containers/admin.ts, minio.ts). */
export const isAdminPort = (container: string, internal: number): boolean =>
  container === ADMINER.alias || (container === MINIO.alias && internal === MINIO.consolePort);

export const portsOnBindAddress = (settings: Settings): ResourceValidationPolicy => ({
  name: 'ports-on-bind-address',
  description: `Every published port is bound to the stack's bindAddress, and the admin UIs (Adminer, the MinIO console) only to ${ADMIN_BIND_ADDRESS}; no container publishes all its ports or shares the host's network. A port on any other address is reachable from wherever that address is.`,
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.container], (args, report) =>
    withSettings(settings, report, ({ bindAddress }) => {
      const props = args.props;
      if (props.publishAllPorts === true) report(`${subject(args)} sets publishAllPorts, which publishes every exposed port on all interfaces; publish each port with its address (ports).`);
      if (props.networkMode === 'host') report(`${subject(args)} uses the host's network, where every port it listens on is reachable without publishing; put it on the stack's network.`);
      for (const port of list<{ internal: number; external?: number; ip?: string }>(props.ports)) {
        const ip = port.ip ?? DOCKER_DEFAULT_IP;
        const admin = isAdminPort(args.name, port.internal);
        const wanted = admin ? ADMIN_BIND_ADDRESS : bindAddress;
        if (ip !== wanted) {
          const what = admin ? `an admin UI, which is only ever published on ${ADMIN_BIND_ADDRESS}` : `not the stack's bindAddress ${wanted}`;
          report(`${subject(args)} publishes port ${port.internal} (host ${port.external ?? 'any'}) on ${ip}: ${what}; set its ip to ${wanted}.`);
        }
      }
    }),
  ),
});

export const adminToolsOnlyWhenEnabled = (settings: Settings): ResourceValidationPolicy => ({
  name: 'admin-tools-only-with-admin-tools',
  description: 'Adminer runs, and the MinIO console is published and switched on, only on a stack with adminTools (dev).',
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.container], (args, report) =>
    withSettings(settings, report, ({ adminTools }) => {
      if (adminTools) return;
      if (args.name === ADMINER.alias) report(`${subject(args)} runs on a stack without adminTools; remove it, or set adminTools on a development stack.`);
      if (args.name !== MINIO.alias) return;
      for (const port of list<{ internal: number }>(args.props.ports)) {
        if (port.internal === MINIO.consolePort) report(`${subject(args)} publishes its console (port ${port.internal}) on a stack without adminTools; publish only the S3 API.`);
      }
      if (list<string>(args.props.envs).includes('MINIO_BROWSER=on')) report(`${subject(args)} switches its console on (MINIO_BROWSER=on) on a stack without adminTools; set MINIO_BROWSER=off.`);
    }),
  ),
});
