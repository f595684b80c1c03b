import { readFileSync } from 'node:fs';

/** The passphrase README documents for the dev stack; any other stack refuses it. */
export const DEV_PASSPHRASE = 'dev-only-passphrase';
const MIN_PASSPHRASE_LENGTH = 16;

function passphraseFrom(env: NodeJS.ProcessEnv): { source: string; value: string } | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return { source: 'PULUMI_CONFIG_PASSPHRASE', value: env.PULUMI_CONFIG_PASSPHRASE };
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (!file) return undefined;
  try {
    // As the Pulumi CLI reads it: the whole file, surrounding white space trimmed.
    return { source: 'PULUMI_CONFIG_PASSPHRASE_FILE', value: readFileSync(file, 'utf8').trim() };
  } catch {
    return undefined; // the CLI has already read it, or failed on it, before the program runs
  }
}

/**
 * What is wrong with where the stack keeps its state and how its secrets are encrypted: only a local dev
 * stack (allowDevState) may keep them in the project folder under the documented passphrase.
 */
export function stateProblems(stack: string, allowDevState: boolean, env: NodeJS.ProcessEnv): string[] {
  if (allowDevState) return [];
  const problems: string[] = [];
  const passphrase = passphraseFrom(env);
  if (passphrase && (passphrase.value === DEV_PASSPHRASE || passphrase.value.length < MIN_PASSPHRASE_LENGTH)) {
    problems.push(
      `${passphrase.source}: stack "${stack}" needs a passphrase of its own, at least ${MIN_PASSPHRASE_LENGTH} characters ` +
        `and not the dev stack's; or a secrets provider such as awskms:// (pulumi stack change-secrets-provider).`,
    );
  }
  const backend = env.PULUMI_BACKEND_URL;
  if (!backend || /^file:\/\/(\.|[^/~])/.test(backend)) {
    problems.push(
      `PULUMI_BACKEND_URL: stack "${stack}" keeps its state outside the project folder. ` +
        'Set PULUMI_BACKEND_URL to a backend such as s3://bucket/prefix, https://api.pulumi.com or file:///srv/pulumi-state.',
    );
  }
  return problems;
}
