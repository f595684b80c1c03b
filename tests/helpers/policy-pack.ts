import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  type Policies,
  type PolicyProviderResource,
  type PolicyResource,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type StackValidationArgs,
  type StackValidationPolicy,
  unknownCheckingProxy,
} from '@pulumi/policy';
import * as analyzerRpc from '@pulumi/pulumi/proto/analyzer_grpc_pb';
import * as analyzer from '@pulumi/pulumi/proto/analyzer_pb';
import { Struct } from 'google-protobuf/google/protobuf/struct_pb';
import { readStackSettings, type SettingsResult } from '../../policy/settings';
import { plain, type Declared } from './pulumi-mocks';
import { PROJECT, programConfig, ROOT, type ProgramRun } from './program';

/**
 * The policy pack run as the Pulumi CLI runs it, over what a program run under Pulumi's mocks
 * declared. Each argument has the shape @pulumi/policy 1.21.0 gives a rule
 * (node_modules/@pulumi/policy/server.js: makeAnalyzeRpcFun, makeAnalyzeStackRpcFun,
 * getResourceOptions, getProviderResource), built from what the engine sends it (pulumi/pulumi
 * v3.248.0 pkg/resource/deploy/step_generator.go: analyzeAll, AnalyzeResources). Two differences
 * from a real `pulumi preview` remain: the properties are the program's inputs before the provider's
 * Check (which may add its defaults; a real preview hands those), and the stack rules see the
 * mocks' state where the engine gives outputs.
 */

export const POLICY_DIR = path.join(ROOT, 'policy');

/**
 * The environment the nodejs language host gives a policy pack for a stack
 * (sdk/nodejs/cmd/pulumi-language-nodejs/main.go, RunPlugin): the stack's configuration as the CLI
 * hands it to the program (Pulumi.yaml's defaults merged in, secrets decrypted; cli-config.ts), keyed
 * `<project>:<key>` as the engine's ConfigureStack request has it, and the project and stack.
 */
export function packEnv(stack: string, options: { config?: Record<string, string> } = {}): Record<string, string> {
  const { PULUMI_CONFIG } = programConfig(stack, options);
  const config = Object.fromEntries(Object.entries(JSON.parse(PULUMI_CONFIG) as Record<string, string>).map(([k, v]) => [k.replace(/^([^:]+):config:/, '$1:'), v]));
  return {
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_NODEJS_ORGANIZATION: 'organization',
    PULUMI_NODEJS_PROJECT: PROJECT,
    PULUMI_NODEJS_STACK: stack,
    PULUMI_NODEJS_DRY_RUN: 'true',
  };
}

/** A stack's settings as the pack reads them from that environment (policy/settings.ts). */
export const settingsOf = (stack: string, options: { config?: Record<string, string> } = {}): (() => SettingsResult) => {
  const result = readStackSettings(packEnv(stack, options));
  return () => result;
};

/** A copy of a declared resource, changed: its inputs (plain, secrets unwrapped) and options. */
export function variant(entry: Declared, change: { props?: (props: any) => void; protect?: boolean; provider?: string; name?: string }): Declared {
  const raw = structuredClone(plain(entry.raw));
  change.props?.(raw);
  return {
    ...entry,
    raw,
    name: change.name ?? entry.name,
    urn: change.name ? entry.urn.replace(/::[^:]*$/, `::${change.name}`) : entry.urn,
    protect: change.protect ?? entry.protect,
    provider: change.provider ?? entry.provider,
  };
}

/** The provider the engine hands a rule: the explicit one the resource names, or the package's default provider. */
function providerOf(entry: Declared, run: ProgramRun, stack: string): { type: string; urn: string; name: string; raw: Record<string, unknown> } | undefined {
  if (!entry.custom || entry.type.startsWith('pulumi:providers:')) return undefined;
  if (entry.provider) {
    // "<provider URN>::<provider ID>" (pulumi-mocks.js).
    const urn = entry.provider.slice(0, entry.provider.lastIndexOf('::'));
    const declared = run.declared.find((d) => d.urn === urn);
    if (!declared) throw new Error(`${entry.name}: its provider ${urn} was not declared`);
    return { type: declared.type, urn, name: declared.name, raw: declared.raw };
  }
  // The engine's default provider for the package: default_<major>_<minor>_<patch> (pulumi/pulumi
  // v3.248.0 pkg/resource/deploy/providers/provider.go, DefaultName), at the package's version.
  const pkg = entry.type.split(':')[0];
  const version = (require(`@pulumi/${pkg}/package.json`) as { version: string }).version;
  const name = `default_${version.replace(/^v/, '').replace(/[.-]/g, '_')}`;
  return { type: `pulumi:providers:${pkg}`, urn: `urn:pulumi:${stack}::${PROJECT}::pulumi:providers:${pkg}::${name}`, name, raw: {} };
}

class NotApplicable extends Error {}
const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason);
};

const typeOf = (type: string) => (resourceClass: { __pulumiType?: string }) => resourceClass.__pulumiType === type;

function options(entry: Declared): ResourceValidationArgs['opts'] {
  return {
    protect: entry.protect,
    ignoreChanges: entry.ignoreChanges,
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: entry.additionalSecretOutputs,
    ...(entry.deleteBeforeReplace !== undefined ? { deleteBeforeReplace: entry.deleteBeforeReplace } : {}),
    ...(entry.parent ? { parent: entry.parent } : {}),
  };
}

/** What a resource rule is called with for a declared resource (server.js, makeAnalyzeRpcFun). */
export function resourceArgs(entry: Declared, run: ProgramRun, stack: string): ResourceValidationArgs {
  const props = unknownCheckingProxy(plain(entry.raw));
  const provider = providerOf(entry, run, stack);
  return {
    type: entry.type,
    props,
    urn: entry.urn,
    name: entry.name,
    opts: options(entry),
    ...(provider ? { provider: { type: provider.type, urn: provider.urn, name: provider.name, props: unknownCheckingProxy(plain(provider.raw)) } as PolicyProviderResource } : {}),
    stackTags: new Map(),
    isType: typeOf(entry.type) as ResourceValidationArgs['isType'],
    asType: ((c: { __pulumiType?: string }) => (typeOf(entry.type)(c) ? props : undefined)) as ResourceValidationArgs['asType'],
    getConfig: <T extends object>() => ({}) as T,
    notApplicable,
  };
}

/** What a stack rule is called with for a program run (server.js, makeAnalyzeStackRpcFun). */
export function stackArgs(run: ProgramRun, stack: string, declared: Declared[] = run.declared): StackValidationArgs {
  const resources = new Map<string, PolicyResource>();
  for (const entry of declared) {
    const args = resourceArgs(entry, run, stack);
    resources.set(entry.urn, {
      type: args.type,
      props: args.props,
      urn: args.urn,
      name: args.name,
      opts: args.opts,
      ...(args.provider ? { provider: args.provider } : {}),
      dependencies: [],
      propertyDependencies: {},
      isType: args.isType,
      asType: args.asType as PolicyResource['asType'],
    });
  }
  for (const entry of declared) {
    const resource = resources.get(entry.urn)!;
    const parent = resources.get(entry.parent);
    if (parent) resource.parent = parent;
    resource.dependencies = entry.dependencies.map((urn) => resources.get(urn)).filter((r): r is PolicyResource => r !== undefined);
  }
  return { resources: [...resources.values()], stackTags: new Map(), getConfig: <T extends object>() => ({}) as T, notApplicable };
}

export interface Violation {
  policy: string;
  urn?: string;
  message: string;
}

const isStackPolicy = (p: Policies[number]): p is StackValidationPolicy => typeof (p as StackValidationPolicy).validateStack === 'function';

/** The violations one resource rule reports for one resource. */
export async function checkResource(policy: Policies[number], entry: Declared, run: ProgramRun, stack: string): Promise<string[]> {
  const messages: string[] = [];
  const validate = (policy as ResourceValidationPolicy).validateResource;
  for (const v of Array.isArray(validate) ? validate : validate ? [validate] : []) {
    try {
      await v(resourceArgs(entry, run, stack), (message) => messages.push(message));
    } catch (error) {
      if (!(error instanceof NotApplicable)) throw error;
    }
  }
  return messages;
}

/** The violations one stack rule reports for a program run (its resources as given). */
export async function checkStack(policy: StackValidationPolicy, run: ProgramRun, stack: string, declared?: Declared[]): Promise<Violation[]> {
  const violations: Violation[] = [];
  try {
    await policy.validateStack(stackArgs(run, stack, declared), (message, urn) => violations.push({ policy: policy.name, urn, message }));
  } catch (error) {
    if (!(error instanceof NotApplicable)) throw error;
  }
  return violations;
}

/** Every rule of the pack over everything a program run declared: each resource, then the stack. */
export async function analyzeRun(policies: Policies, run: ProgramRun, stack: string): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const entry of run.declared) {
    for (const policy of policies.filter((p) => !isStackPolicy(p))) {
      for (const message of await checkResource(policy, entry, run, stack)) violations.push({ policy: policy.name, urn: entry.urn, message });
    }
  }
  for (const policy of policies.filter(isStackPolicy)) violations.push(...(await checkStack(policy, run, stack)));
  return violations;
}

// ---------------------------------------------------------------------------------------------
// The pack as its own process, spoken to over the analyzer protocol, as the Pulumi CLI does.

export interface RunningPack {
  client: analyzerRpc.AnalyzerClient;
  stderr: () => string;
  stop: () => void;
}

/**
 * Starts the pack as the nodejs language host does for `pulumi preview --policy-pack policy`
 * (main.go, RunPlugin): node runs @pulumi/pulumi's cmd/run-policy-pack (ts-node, type checking on)
 * in the pack's folder, with the engine's address and the pack's folder as arguments and the
 * stack's configuration in its environment; the pack prints the port it serves the analyzer on.
 */
export async function startPack(env: Record<string, string>, dir: string = POLICY_DIR): Promise<RunningPack> {
  // Found from the pack's folder as the language host finds it (main.go, locateModule: node's
  // require.resolve run in that folder), so the project's node_modules above it serves.
  const runPolicyPack = require.resolve('@pulumi/pulumi/cmd/run-policy-pack', { paths: [dir] });
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PULUMI_')));
  const child: ChildProcess = spawn(process.execPath, [runPolicyPack, '127.0.0.1:1', dir], {
    cwd: dir,
    env: { ...clean, ...env, PULUMI_NODEJS_TYPESCRIPT: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = /^(\d+)\s*$/m.exec(stdout);
      if (line) resolve(Number(line[1]));
    });
    child.on('exit', (code) => reject(new Error(`the policy pack exited (${code}) before serving:\n${stdout}\n${stderr}`)));
  });
  const client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    client,
    stderr: () => stderr,
    stop: () => {
      client.close();
      child.kill();
    },
  };
}

const call = <Req, Res>(method: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => method(req, (error, response) => (error ? reject(error) : resolve(response))));

export async function analyzerInfo(pack: RunningPack): Promise<analyzer.AnalyzerInfo> {
  const { Empty } = require('google-protobuf/google/protobuf/empty_pb') as typeof import('google-protobuf/google/protobuf/empty_pb');
  return call(pack.client.getAnalyzerInfo.bind(pack.client), new Empty());
}

/** The engine's ConfigureStack (analyzer_plugin.go, NewPolicyAnalyzer): @pulumi/policy keeps the tags. */
export async function configureStack(pack: RunningPack, stack: string): Promise<void> {
  const request = new analyzer.AnalyzerStackConfigureRequest().setStack(stack).setProject(PROJECT).setOrganization('organization').setDryRun(true);
  await call(pack.client.configureStack.bind(pack.client), request);
}

function resourceOptions(entry: Declared): analyzer.AnalyzerResourceOptions {
  return new analyzer.AnalyzerResourceOptions()
    .setProtect(entry.protect)
    .setIgnorechangesList(entry.ignoreChanges)
    .setDeletebeforereplace(entry.deleteBeforeReplace ?? false)
    .setDeletebeforereplacedefined(entry.deleteBeforeReplace !== undefined)
    .setAdditionalsecretoutputsList(entry.additionalSecretOutputs)
    .setCustomtimeouts(new analyzer.AnalyzerResourceOptions.CustomTimeouts())
    .setParent(entry.parent);
}

function providerMessage(entry: Declared, run: ProgramRun, stack: string): analyzer.AnalyzerProviderResource | undefined {
  const provider = providerOf(entry, run, stack);
  if (!provider) return undefined;
  return new analyzer.AnalyzerProviderResource().setType(provider.type).setUrn(provider.urn).setName(provider.name).setProperties(Struct.fromJavaScript(provider.raw as never));
}

export interface Diagnostic {
  policy: string;
  level: analyzer.EnforcementLevel;
  urn: string;
  message: string;
}

const diagnostics = (response: analyzer.AnalyzeResponse): Diagnostic[] =>
  response.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), level: d.getEnforcementlevel(), urn: d.getUrn(), message: d.getMessage() }));

/**
 * Analyze for one resource, as the engine sends it (analyzer_plugin.go, Analyze: the properties
 * with secrets kept as secrets, MarshalOptions KeepSecrets), and the diagnostics it returns.
 */
export async function analyzeOverRpc(pack: RunningPack, entry: Declared, run: ProgramRun, stack: string): Promise<Diagnostic[]> {
  const request = new analyzer.AnalyzeRequest()
    .setType(entry.type)
    .setUrn(entry.urn)
    .setName(entry.name)
    .setProperties(Struct.fromJavaScript(entry.raw as never))
    .setOptions(resourceOptions(entry));
  const provider = providerMessage(entry, run, stack);
  if (provider) request.setProvider(provider);
  return diagnostics(await call(pack.client.analyze.bind(pack.client), request));
}

/** AnalyzeStack over everything declared (analyzer_plugin.go, AnalyzeStack). */
export async function analyzeStackOverRpc(pack: RunningPack, run: ProgramRun, stack: string): Promise<Diagnostic[]> {
  const resources = run.declared.map((entry) => {
    const r = new analyzer.AnalyzerResource()
      .setType(entry.type)
      .setUrn(entry.urn)
      .setName(entry.name)
      .setProperties(Struct.fromJavaScript(entry.raw as never))
      .setOptions(resourceOptions(entry))
      .setParent(entry.parent)
      .setDependenciesList(entry.dependencies);
    const provider = providerMessage(entry, run, stack);
    if (provider) r.setProvider(provider);
    return r;
  });
  return diagnostics(await call(pack.client.analyzeStack.bind(pack.client), new analyzer.AnalyzeStackRequest().setResourcesList(resources)));
}
