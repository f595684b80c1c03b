import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { Naming } from './naming';

export interface NetworkArgs {
  naming: Naming;
}

/** The stack's own bridge network: its containers reach each other by alias, and no other stack's can. */
export class Network extends pulumi.ComponentResource {
  readonly network: docker.Network;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Network', name, {}, opts);
    this.network = new docker.Network(
      'network',
      { name: args.naming.docker('net'), driver: 'bridge', labels: args.naming.labels('network') },
      { parent: this },
    );
    this.registerOutputs({ name: this.network.name });
  }
}
