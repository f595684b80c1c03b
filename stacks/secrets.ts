import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { scramSha256Secret } from './scram';

/**
 * A generated password, kept encrypted in the stack's state. Letters and digits only, so it can
 * go into a URL or a config file without quoting; 32 of them are about 190 bits.
 */
export function generatedPassword(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  return pulumi.secret(new random.RandomPassword(name, { length: 32, special: false }, { parent }).result);
}

/** A role's password and the SCRAM secret PostgreSQL and PgBouncer store for it (fixed salt, stable across runs). */
export function scramLogin(name: string, parent: pulumi.Resource): { password: pulumi.Output<string>; scramSecret: pulumi.Output<string> } {
  const password = generatedPassword(`${name}-password`, parent);
  const salt = new random.RandomBytes(`${name}-scram-salt`, { length: 16 }, { parent }).base64;
  const scramSecret = pulumi.secret(pulumi.all([password, salt]).apply(([p, s]) => scramSha256Secret(p, s)));
  return { password, scramSecret };
}
