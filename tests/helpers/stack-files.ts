import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';

export const ROOT = path.resolve(__dirname, '../..');
export const PROJECT = 'pronunciation-assistant';
export const STACKS = ['dev', 'staging', 'prod', 'external'] as const;
/** The stacks that run their servers in containers (external runs none). */
export const CONTAINER_STACKS = ['dev', 'staging', 'prod'] as const;

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

/** A stack file's config as the Pulumi CLI hands it to the program: namespaced keys, string values. */
export function stackFileConfig(stack: string): Record<string, string> {
  const file = load(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(file.config ?? {}).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  );
}
