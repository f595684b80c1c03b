import type { ResourceValidationPolicy } from '@pulumi/policy';
import { list, onTypes, subject, TYPES } from './common';

/**
 * How a credential's name ends: POSTGRES_PASSWORD, S3_SECRET_KEY, API_TOKEN, PGPASSWORD,
 * --requirepass, masterauth. By the last word only, so that a setting about credentials
 * (password_encryption, --auth-host) is none; and a name ending in _FILE (or -file) names a file
 * holding one, which is how credentials reach the containers here (README, "Secrets").
 */
const CREDENTIAL_ENDING = /(password|passwd|pass|pwd|secret|token|key|credentials?|auth)$/;

/** Whether a variable, flag or label of this name would carry a credential (not a file holding one). */
export function isCredentialName(name: string): boolean {
  const words = name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  return words.length > 0 && CREDENTIAL_ENDING.test(words[words.length - 1]);
}

/** Text that is a credential whatever it is called: a URL with a password, a SCRAM secret, a private key. */
export function credentialInText(text: string): string | undefined {
  if (/[a-z][a-z0-9+.-]*:\/\/[^\s/@:]+:[^\s/@]+@/i.test(text)) return 'a URL with a password';
  if (text.includes('SCRAM-SHA-256$')) return 'a SCRAM secret';
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return 'a private key';
  return undefined;
}

/** A value that is no literal: empty, or a reference the shell or program expands ($VAR, ${VAR}). */
const notALiteral = (value: string): boolean => value === '' || value.startsWith('$');

/**
 * What in a list of arguments (a command, an entrypoint, a health check; a `sh -c` script split into
 * words) carries a credential: NAME=value and --flag=value with a credential's name, --flag value,
 * and text that is a credential by its form. Never the value itself: messages go to the console.
 */
export function credentialsInArgs(args: string[]): string[] {
  const found: string[] = [];
  const tokens = args.flatMap((arg) => arg.split(/\s+/)).filter(Boolean);
  tokens.forEach((token, i) => {
    const bare = token.replace(/^['"]|['"]$/g, '');
    const byForm = credentialInText(bare);
    if (byForm) {
      found.push(`${byForm} (argument ${i + 1})`);
      return;
    }
    const assignment = /^(-{0,2}[A-Za-z_][\w.-]*)=(.*)$/.exec(bare);
    if (assignment) {
      if (isCredentialName(assignment[1]) && !notALiteral(assignment[2])) found.push(`${assignment[1]}=...`);
      return;
    }
    const flag = /^--?([A-Za-z][\w-]*)$/.exec(bare);
    const next = tokens[i + 1];
    if (flag && isCredentialName(flag[1]) && next !== undefined && !next.startsWith('-') && !notALiteral(next)) found.push(`${bare} <value>`);
  });
  return found;
}

/** What in NAME=value pairs (a container's envs, an image's build arguments) carries a credential. */
export function credentialsInPairs(pairs: [string, string][], what: string): string[] {
  return pairs.flatMap(([name, value]) => {
    const byForm = credentialInText(value);
    if (byForm) return [`${what} ${name} holds ${byForm}`];
    if (isCredentialName(name) && !notALiteral(value)) return [`${what} ${name} is a credential`];
    return [];
  });
}

const envPairs = (envs: string[]): [string, string][] =>
  envs.map((e) => {
    const at = e.indexOf('=');
    return at < 0 ? [e, ''] : [e.slice(0, at), e.slice(at + 1)];
  });

export const noPlainCredentials: ResourceValidationPolicy = {
  name: 'no-credentials-in-container-config',
  description:
    "No password, key or token in a container's environment, command, entrypoint, health check or labels, nor in an image's build arguments: `docker inspect` and `docker history` show them to anyone on the Docker host, Pulumi secret or not. Credentials reach a container as uploaded files (NAME_FILE, --env-file).",
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.container, TYPES.image], (args, report) => {
    const props = args.props;
    const problems: string[] = [];
    if (args.type === TYPES.image) {
      const buildArgs = Object.entries((props.build?.args ?? {}) as Record<string, unknown>).map(([k, v]): [string, string] => [k, String(v)]);
      problems.push(...credentialsInPairs(buildArgs, 'build argument'));
    } else {
      problems.push(...credentialsInPairs(envPairs(list<string>(props.envs)), 'environment variable'));
      for (const [field, values] of [
        ['command', list<string>(props.command)],
        ['entrypoint', list<string>(props.entrypoints)],
        ['health check', list<string>(props.healthcheck?.tests)],
      ] as const) {
        problems.push(...credentialsInArgs(values).map((p) => `${field}: ${p}`));
      }
      const labels = list<{ label: string; value: string }>(props.labels).map((l): [string, string] => [l.label, String(l.value)]);
      problems.push(...credentialsInPairs(labels, 'label'));
    }
    for (const problem of problems) {
      report(`${subject(args)}: ${problem}, in plain text on the Docker host; upload it as a file (stacks/containers/container.ts, uploads) and pass the file's path instead.`);
    }
  }),
};
