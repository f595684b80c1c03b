import type { CONFIG_KEYS } from '../stacks/config/keys';

/**
 * The settings of the stack under preview that the rules depend on, read from the stack's own
 * configuration rather than inferred from the resources or repeated as policy config. Inferred from
 * the published ports, a wrong address that every service shares (all of them moved to 0.0.0.0
 * while the stack says 127.0.0.1) would pass; as policy config, each stack's bindAddress and
 * protectData would be written twice, and CI would have to keep the copies in step.
 *
 * How the stack's configuration reaches the pack (pulumi/pulumi v3.248.0): `pulumi preview` merges
 * Pulumi.yaml's defaults into the stack's config (pkg/cmd/pulumi/operations/preview.go,
 * ValidateStackConfigAndApplyProjectConfig; sdk/go/common/workspace/config.go, mergeConfig), the
 * engine decrypts it for the policy packs (pkg/engine/update.go, PolicyAnalyzerOptions.Config) and
 * sends it in the analyzer's ConfigureStack call (sdk/go/common/resource/plugin/analyzer_plugin.go,
 * NewPolicyAnalyzer). The nodejs language host, which starts a Node.js pack, waits for that call and
 * puts the configuration into the pack's environment, PULUMI_CONFIG (a JSON object keyed
 * `<project>:<key>`, string values), with PULUMI_NODEJS_PROJECT and PULUMI_NODEJS_STACK
 * (sdk/nodejs/cmd/pulumi-language-nodejs/main.go, RunPlugin). @pulumi/policy 1.21.0 itself keeps
 * only the stack's tags from ConfigureStack (node_modules/@pulumi/policy/server.js, configureStack).
 */
export interface StackSettings {
  project: string;
  stack: string;
  bindAddress: string;
  protectData: boolean;
  adminTools: boolean;
  bucketPrefix: string;
}

/** The settings, or why they could not be read: every rule that needs them then refuses, naming the cause. */
export type SettingsResult = { settings: StackSettings; problem?: undefined } | { settings?: undefined; problem: string };

/** The keys read, the program's own (stacks/config/keys.ts, where each has its default): a renamed key fails to compile here. */
const KEYS = ['bindAddress', 'protectData', 'adminTools', 'bucketPrefix'] as const satisfies readonly (keyof typeof CONFIG_KEYS)[];
type Key = (typeof KEYS)[number];

export function readStackSettings(env: NodeJS.ProcessEnv): SettingsResult {
  const project = env.PULUMI_NODEJS_PROJECT || env.PULUMI_PROJECT;
  const stack = env.PULUMI_NODEJS_STACK || env.PULUMI_STACK;
  const cause = (what: string): SettingsResult => ({
    problem: `${what}, so the policy pack cannot tell the stack's settings; run it as \`pulumi preview --stack <stack> --policy-pack policy\` (Pulumi CLI 3.248.0 or later), which hands the pack the stack's configuration`,
  });
  if (!project || !stack) return cause('the Pulumi CLI did not name the project and stack (PULUMI_NODEJS_PROJECT, PULUMI_NODEJS_STACK)');
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(env.PULUMI_CONFIG ?? '') as Record<string, unknown>;
  } catch {
    return cause('the Pulumi CLI passed no stack configuration (PULUMI_CONFIG)');
  }
  // `<project>:<key>` as the language host passes it to a pack; `<project>:config:<key>` as it
  // passes it to a program (both are the SDK's forms: @pulumi/pulumi runtime/config.js, cleanKey).
  const raw = (key: Key): unknown => config[`${project}:${key}`] ?? config[`${project}:config:${key}`];
  const missing = KEYS.filter((key) => typeof raw(key) !== 'string');
  if (missing.length > 0) return cause(`the stack's configuration lacks ${missing.map((k) => `${project}:${k}`).join(', ')} (Pulumi.yaml gives each a default)`);
  const flag = (key: Key): boolean | undefined => (raw(key) === 'true' ? true : raw(key) === 'false' ? false : undefined);
  const flags = { protectData: flag('protectData'), adminTools: flag('adminTools') };
  for (const [key, value] of Object.entries(flags)) if (value === undefined) return { problem: `${project}:${key} is ${JSON.stringify(raw(key as Key))}, not true or false` };
  return {
    settings: {
      project,
      stack,
      bindAddress: raw('bindAddress') as string,
      protectData: flags.protectData!,
      adminTools: flags.adminTools!,
      bucketPrefix: raw('bucketPrefix') as string,
    },
  };
}
