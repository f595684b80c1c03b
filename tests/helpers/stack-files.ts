import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { DEV_PASSPHRASE, loadConfig, type StackConfig } from '../../stacks/config';
import { cliConfig, type ProgramConfig, readProjectFiles, type StackFile, withSecrets } from './cli-config';

export const ROOT = path.resolve(__dirname, '../..');
export const PROJECT = 'pronunciation-assistant';
export const STACKS = ['dev', 'staging', 'prod', 'external'] as const;
export type Stack = (typeof STACKS)[number];
/** The stacks that run their servers in containers (external runs none). */
export const CONTAINER_STACKS = ['dev', 'staging', 'prod'] as const;

/** What a shared (non-dev) stack's environment looks like when set up as README says. */
export const SHARED_STACK_ENV = {
  PULUMI_BACKEND_URL: 's3://example-state/pronunciation-assistant',
  PULUMI_CONFIG_PASSPHRASE: 'a-long-passphrase-of-its-own',
};

/**
 * The secrets a stack's README set-up adds with `pulumi config set --secret` (never in its file),
 * here as test values: the external stack's credentials.
 */
export const STACK_SECRETS: Record<string, Record<string, string>> = {
  external: {
    externalPostgresAdminPassword: 'external-admin-password-for-tests',
    externalS3AccessKey: 'pa-provisioner',
    externalS3SecretKey: 'external-s3-secret-key-for-tests',
    externalRedisUrl: 'rediss://app:external-redis-password-for-tests@cache.pronunciation.example.com:6380',
  },
};

/** Each committed stack as README sets it up: the environment `pulumi up` runs in (backend, passphrase). */
export function stackEnv(stack: string): Record<string, string> {
  return stack === 'dev' ? { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE } : SHARED_STACK_ENV;
}

/** A stack file's config as written in it: namespaced keys, string values (no CLI defaults merged). */
export function stackFileConfig(stack: string): Record<string, string> {
  const file = load(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(file.config ?? {}).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  );
}

/**
 * What `pulumi up` hands the program for a committed stack after README's set-up (`pulumi stack init`
 * with the stack's passphrase, then `pulumi config set --secret` for its secrets), with `config`
 * set as `pulumi config set` and `secrets` as `pulumi config set --secret` would add them, keys
 * without the project's namespace. Throws the CLI's own error where the CLI would refuse.
 */
export function programConfig(stack: string, options: { config?: Record<string, string>; secrets?: Record<string, string> } = {}): ProgramConfig {
  const { project, stackFile } = readProjectFiles(ROOT, stack);
  const passphrase = stackEnv(stack).PULUMI_CONFIG_PASSPHRASE;
  const plain: StackFile = { ...stackFile, config: { ...stackFile.config } };
  for (const [k, v] of Object.entries(options.config ?? {})) plain.config![`${PROJECT}:${k}`] = v;
  const set = withSecrets(plain, PROJECT, passphrase, { ...STACK_SECRETS[stack], ...options.secrets });
  return cliConfig(project, stack, set, passphrase);
}

/** The project's own keys of a program config, without namespace, and which of them are secret: what the program's projectConfig() reads. */
export function projectValues(config: ProgramConfig): { values: Record<string, string>; secretKeys: string[] } {
  const prefix = `${PROJECT}:config:`;
  const values = Object.fromEntries(
    Object.entries(JSON.parse(config.PULUMI_CONFIG) as Record<string, string>)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
  const secretKeys = (JSON.parse(config.PULUMI_CONFIG_SECRET_KEYS) as string[]).map((k) => k.slice(PROJECT.length + 1));
  return { values, secretKeys };
}

/** The validated config of a committed stack after README's set-up, as the program computes it. */
export function committedStackConfig(stack: string): StackConfig {
  const { values, secretKeys } = projectValues(programConfig(stack));
  return loadConfig(stack, values, stackEnv(stack), secretKeys);
}
