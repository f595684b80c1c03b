import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';
import { serviceContainer } from './container';
import type { Naming } from '../naming';
import { ADMIN_BIND_ADDRESS, ADMINER, POSTGRES } from '../services';

export interface AdminArgs {
  config: StackConfig;
  naming: Naming;
  network: docker.Network;
}

export const ADMINER_HEALTHCHECK = [
  'CMD', 'php', '-r', `exit(@file_get_contents('http://127.0.0.1:${ADMINER.port}/') === false ? 1 : 0);`,
];

/** Adminer, a database admin UI for development stacks; it holds no credentials, you log in. */
export class Admin extends pulumi.ComponentResource {
  readonly container: docker.Container;
  readonly url: string;

  constructor(name: string, args: AdminArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Admin', name, {}, opts);
    const { config } = args;
    this.container = serviceContainer(
      {
        service: 'adminer',
        naming: args.naming,
        image: config.adminerImage,
        network: args.network,
        alias: ADMINER.alias,
        memoryMb: ADMINER.memoryMb,
        envs: [`ADMINER_DEFAULT_SERVER=${POSTGRES.alias}`],
        ports: [{ internal: ADMINER.port, external: config.adminerPort, ip: ADMIN_BIND_ADDRESS }],
        stopGraceSeconds: 5,
        healthcheck: ADMINER_HEALTHCHECK,
      },
      this,
    );
    this.url = `http://${ADMIN_BIND_ADDRESS}:${config.adminerPort}`;
    this.registerOutputs({ url: this.url });
  }
}
