import * as path from 'node:path';
import type { Declared } from './pulumi-mocks';
import type { StackConfig } from '../../stacks/config';
import { committedStackConfig, PROJECT, programConfig, ROOT, stackEnv, STACKS } from './stack-files';

export { committedStackConfig, CONTAINER_STACKS, PROJECT, programConfig, ROOT, SHARED_STACK_ENV, STACK_SECRETS, stackEnv, STACKS, stackFileConfig } from './stack-files';

export interface ProgramRun {
  declared: Declared[];
  /** Every password the mocked RandomPassword generated. */
  generated: string[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
}

/**
 * Runs index.ts under Pulumi's mocks, as `pulumi up` would for the stack: a fresh module registry,
 * the configuration the Pulumi CLI assembles for it (programConfig: Pulumi.yaml's defaults merged
 * into the stack file as README sets it up, plus `config` and `secrets` as `pulumi config set
 * [--secret]` would add them; keys without namespace), the given environment (default: README's
 * for the stack).
 */
export async function runProgram(
  stack: string,
  options: { config?: Record<string, string>; secrets?: Record<string, string>; env?: Record<string, string | undefined> } = {},
): Promise<ProgramRun> {
  const { PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS } = programConfig(stack, options);
  const saved = { ...process.env };
  let pulumi!: typeof import('@pulumi/pulumi');
  let recorded!: { declared: Declared[]; generated: string[] };
  let program: Record<string, unknown> = {};
  try {
    for (const key of ['PULUMI_BACKEND_URL', 'PULUMI_CONFIG_PASSPHRASE', 'PULUMI_CONFIG_PASSPHRASE_FILE']) delete process.env[key];
    Object.assign(process.env, options.env ?? stackEnv(stack));
    // Each fresh copy of the SDK adds its own 'exit' listener; a test file may run the program
    // dozens of times, so the default limit of 10 would warn of a leak that is only these copies.
    process.setMaxListeners(Math.max(process.getMaxListeners(), 100));
    // A fresh registry per run, so index.ts runs again, with the @pulumi/pulumi the mocks are on.
    jest.isolateModules(() => {
      pulumi = require('@pulumi/pulumi');
      recorded = (require('./pulumi-mocks') as typeof import('./pulumi-mocks')).installMocks(pulumi, PROJECT, stack);
      // What the language host puts in PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS; the SDK's
      // store has already been created in this process, so it is handed over the way its own
      // setAllConfig does.
      pulumi.runtime.setAllConfig(JSON.parse(PULUMI_CONFIG), JSON.parse(PULUMI_CONFIG_SECRET_KEYS));
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

/** Every committed stack run under mocks after README's set-up, with its validated config. */
export async function runCommittedStacks(): Promise<Map<string, { run: ProgramRun; config: StackConfig }>> {
  const runs = new Map<string, { run: ProgramRun; config: StackConfig }>();
  for (const stack of STACKS) runs.set(stack, { run: await runProgram(stack), config: committedStackConfig(stack) });
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
