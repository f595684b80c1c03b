import * as pulumi from '@pulumi/pulumi';
import { defaultNamespace, NAMESPACE_PATTERN, postgresNames, storageNames } from '../../common/stack-names';
import { show } from './checks';
import { crossChecks } from './cross-checks';
import { CONFIG_KEYS, type ConfigKey, type KeySpec, type Kind, type StackConfig } from './keys';
import { stateProblems } from './state';
import { unknownKey } from './unknown-key';

/**
 * A configuration the program refuses; its message lists every problem and how to fix it. A
 * RunError, so that Pulumi prints the message without a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  override name = 'ConfigError';
  constructor(
    readonly stackName: string,
    readonly problems: string[],
  ) {
    super(`Stack "${stackName}" has invalid configuration; nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Validates the project's configuration (keys without the "<project>:" namespace, values as the
 * Pulumi CLI passes them: strings, or JSON for structured values) and the environment the program
 * runs in. Throws one ConfigError naming every problem.
 */
export function loadConfig(
  stack: string,
  raw: Record<string, string>,
  env: NodeJS.ProcessEnv = {},
  secretKeys: readonly string[] = [],
): StackConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in CONFIG_KEYS)) problems.push(unknownKey(key, secretKeys.includes(key) ? '' : value));
  }
  for (const [key, s] of Object.entries(CONFIG_KEYS) as [ConfigKey, KeySpec][]) {
    const text = raw[key];
    const value = text === undefined ? s.default : parse(s.type, text);
    if (value === undefined) {
      problems.push(`${key}: ${show(text)} is not ${s.type === 'integer' ? 'an integer' : 'true or false'}. ${s.description}`);
      continue;
    }
    const wrong = s.check?.(value as never);
    if (s.secret) {
      // Neither the value nor any part of it goes into a message. An empty value means unset, secret or
      // not: the CLI merges each Pulumi.yaml `default:` into the config as a plain value when the stack
      // file does not set the key (pulumi/pulumi v3.248.0 sdk/go/common/workspace/config.go, mergeConfig),
      // so every stack without this key hands the program a plain ''.
      if (text !== undefined && text !== '' && !secretKeys.includes(key)) {
        problems.push(`${key}: is stored in plain text in Pulumi.${stack}.yaml; set it with \`pulumi config set --secret ${key}\` (and rotate it).`);
      } else if (wrong) problems.push(`${key}: its value (not shown) is not allowed: it must ${wrong}.`);
      values[key] = pulumi.secret(value as string);
      continue;
    }
    if (wrong) problems.push(`${key}: ${show(String(value))} is not allowed: it must ${wrong}.`);
    values[key] = value;
  }
  const config = values as Omit<StackConfig, 'stack' | 'buckets' | 'external' | 'names'>;
  const set = (key: ConfigKey) => (raw[key] ?? '') !== '';
  const external = { postgres: set('externalPostgresHost'), storage: set('externalS3Endpoint'), redis: set('externalRedisUrl') };
  // Names on a server the stack does not run carry its namespace; on its own containers they are fixed.
  const namespace = config.externalNamespace || defaultNamespace(stack);
  const names = {
    postgres: postgresNames(external.postgres ? namespace : undefined),
    storage: storageNames(external.storage ? namespace : undefined, config.bucketPrefix ?? ''),
  };
  if (problems.length === 0) {
    problems.push(...crossChecks(config, names.storage.buckets, external, set));
    if ((external.postgres || external.storage) && !NAMESPACE_PATTERN.test(namespace)) {
      problems.push(
        `externalNamespace: the stack's name "${stack}" makes no namespace for its names on external servers (up to 24 lowercase letters, ` +
          'digits and hyphens, beginning with a letter); set one with `pulumi config set externalNamespace <name>`.',
      );
    }
    problems.push(...stateProblems(stack, config.allowDevState, env));
  }
  if (problems.length > 0) throw new ConfigError(stack, problems);
  return { ...config, stack, names, buckets: names.storage.buckets, external };
}

function parse(type: Kind, text: string): string | number | boolean | undefined {
  if (type === 'string') return text;
  if (type === 'integer') return /^-?\d{1,9}$/.test(text.trim()) ? Number(text) : undefined;
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

/**
 * The project's keys as the Pulumi CLI passes them, without the "<project>:" namespace, and which
 * of them were set as secrets.
 */
export function projectConfig(): { values: Record<string, string>; secretKeys: string[] } {
  const prefix = `${pulumi.getProject()}:`;
  const values = Object.fromEntries(
    Object.entries(pulumi.runtime.allConfig())
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
  // The SDK's own test for `secure:` values; exported by its runtime, though not in its typings.
  const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret: (key: string) => boolean };
  return { values, secretKeys: Object.keys(values).filter((key) => isConfigSecret(`${prefix}${key}`)) };
}
