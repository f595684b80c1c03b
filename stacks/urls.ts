/** Addresses and URLs the outputs and the containers both build (here, so that neither imports the other). */

import * as pulumi from '@pulumi/pulumi';

/** Where the host reaches a port published on the bind address (0.0.0.0 is reachable on loopback). */
export function hostFor(bindAddress: string): string {
  return bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress;
}

/** A PostgreSQL URL of a database, a secret: it holds the password. */
export function postgresUrl(
  user: pulumi.Input<string>,
  password: pulumi.Input<string>,
  host: pulumi.Input<string>,
  port: number,
  database: string,
  query = '',
): pulumi.Output<string> {
  return pulumi.secret(pulumi.interpolate`postgresql://${user}:${password}@${host}:${port}/${database}${query}`);
}
