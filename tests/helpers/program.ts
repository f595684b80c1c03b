import * as path from 'node:path';
import type { Declared } from './pulumi-mocks';
import { loadConfig, type StackConfig } from '../../stacks/config';
import { PROJECT, ROOT, stackFileConfig, STACK_SECRETS, STACKS } from './stack-files';

export { CONTAINER_STACKS, PROJECT, ROOT, STACK_SECRETS, STACKS, stackFileConfig } from './stack-files';

/** What a shared (non-dev) stack's environment looks like when set up as README says. */
export const SHARED_STACK_ENV = {
  PULUMI_BACKEND_URL: 's3://example-state/pronunciation-assistant',
  PULUMI_CONFIG_PASSPHRASE: 'a-long-passphrase-of-its-own',
};

export interface ProgramRun {
  declared: Declared[];
  /** Every password the mocked RandomPassword generated. */
  generated: string[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
}

/**
 * Runs index.ts under Pulumi's mocks, as `pulumi up` would for the stack: a fresh module registry,
 * the stack file's config (plus `config`, and `secrets` as `pulumi config set --secret` would
 * set them; keys without namespace), the given environment.
 */
export async function runProgram(
  stack: string,
  options: { config?: Record<string, string>; secrets?: Record<string, string>; env?: Record<string, string | undefined> } = {},
): Promise<ProgramRun> {
  const config = { ...stackFileConfig(stack) };
  for (const [k, v] of Object.entries({ ...options.config, ...options.secrets })) config[`${PROJECT}:${k}`] = v;
  const secretKeys = Object.keys(options.secrets ?? {}).map((k) => `${PROJECT}:${k}`);
  const saved = { ...process.env };
  let pulumi!: typeof import('@pulumi/pulumi');
  let recorded!: { declared: Declared[]; generated: string[] };
  let program: Record<string, unknown> = {};
  try {
    for (const key of ['PULUMI_BACKEND_URL', 'PULUMI_CONFIG_PASSPHRASE', 'PULUMI_CONFIG_PASSPHRASE_FILE']) delete process.env[key];
    Object.assign(process.env, options.env ?? {});
    // Each fresh copy of the SDK adds its own 'exit' listener; a test file may run the program
    // dozens of times, so the default limit of 10 would warn of a leak that is only these copies.
    process.setMaxListeners(Math.max(process.getMaxListeners(), 100));
    // A fresh registry per run, so index.ts runs again, with the @pulumi/pulumi the mocks are on.
    jest.isolateModules(() => {
      pulumi = require('@pulumi/pulumi');
      recorded = (require('./pulumi-mocks') as typeof import('./pulumi-mocks')).installMocks(pulumi, PROJECT, stack);
      pulumi.runtime.setAllConfig(config, secretKeys);
      program = require(path.join(ROOT, 'index.ts'));
    });
  } catch (error) {
    // What the program had declared when it failed, for tests of "nothing was declared".
    throw Object.assign(error as Error, { declared: recorded?.declared ?? [] });
  } finally {
    process.env = saved;
  }
  const outputs: ProgramRun['outputs'] = {};
  const sdk: typeof import('@pulumi/pulumi') = pulumi;
  for (const [name, value] of Object.entries(program)) {
    const out: import('@pulumi/pulumi').Output<unknown> = sdk.output(value);
    outputs[name] = { value: await new Promise((resolve) => out.apply(resolve)), secret: await sdk.isSecret(out) };
  }
  // Not in the typings, but exported: resolves once every registration has been answered.
  await (sdk.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  return { ...recorded, outputs };
}

/** Every committed stack run under mocks with its stack file and the environment README prescribes, with its validated config. */
export async function runCommittedStacks(): Promise<Map<string, { run: ProgramRun; config: StackConfig }>> {
  const runs = new Map<string, { run: ProgramRun; config: StackConfig }>();
  for (const stack of STACKS) {
    const env = stack === 'dev' ? {} : SHARED_STACK_ENV;
    const secrets = STACK_SECRETS[stack] ?? {};
    const raw = Object.fromEntries(Object.entries(stackFileConfig(stack)).map(([k, v]) => [k.slice(PROJECT.length + 1), v]));
    runs.set(stack, { run: await runProgram(stack, { env, secrets }), config: loadConfig(stack, { ...raw, ...secrets }, env, Object.keys(secrets)) });
  }
  return runs;
}

export function byType(run: ProgramRun, type: string): Declared[] {
  return run.declared.filter((d) => d.type === type);
}

export function one(run: ProgramRun, type: string, name: string): Declared {
  const found = run.declared.filter((d) => d.type === type && d.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0];
}
