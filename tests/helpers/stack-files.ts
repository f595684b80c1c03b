import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';

export const ROOT = path.resolve(__dirname, '../..');
export const PROJECT = 'pronunciation-assistant';
export const STACKS = ['dev', 'staging', 'prod'] as const;

/** A stack file's config as the Pulumi CLI hands it to the program: namespaced keys, string values. */
export function stackFileConfig(stack: string): Record<string, string> {
  const file = load(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(file.config ?? {}).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  );
}
