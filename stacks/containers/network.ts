import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { Naming } from '../naming';

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
      // Every field forces a new network, and its name is fixed: the old one must go before the new
      // one can be created (the provider does not say so: pulumi-docker provider/resources.go), and
      // with it the containers on it, which the engine deletes first.
      { parent: this, deleteBeforeReplace: true },
    );
    this.registerOutputs({ name: this.network.name });
  }
}
