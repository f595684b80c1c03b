import { UnknownValueError, type ReportViolation, type ResourceValidationArgs } from '@pulumi/policy';
import type { SettingsResult, StackSettings } from '../settings';

/**
 * The resource types the rules look at, as the engine names them. Strings rather than the provider
 * SDKs' classes, so the pack depends on @pulumi/policy and @pulumi/pulumi alone; tests/policy.test.ts
 * checks each against the class's own `__pulumiType`.
 */
export const TYPES = {
  container: 'docker:index/container:Container',
  volume: 'docker:index/volume:Volume',
  network: 'docker:index/network:Network',
  remoteImage: 'docker:index/remoteImage:RemoteImage',
  image: 'docker:index/image:Image',
  command: 'command:local:Command',
  bucket: 'minio:index/s3Bucket:S3Bucket',
  bucketPolicy: 'minio:index/s3BucketPolicy:S3BucketPolicy',
} as const;

/** How a violation names the resource: its type's last part and its name, e.g. Container "postgres". */
export const subject = (args: { type: string; name: string }): string => `${args.type.split(':').pop()} "${args.name}"`;

/** A rule's view of the stack's settings: the settings, or a refusal naming why they are missing. */
export type Settings = () => SettingsResult;

/** Runs `check` with the stack's settings, or reports that the rule cannot run without them. */
export function withSettings(settings: Settings, report: ReportViolation, check: (s: StackSettings) => void): void {
  const result = settings();
  if (result.settings) check(result.settings);
  else report(result.problem);
}

/**
 * Whether reading the value throws because it cannot be known during preview (an output of a
 * resource not yet created). The props a rule receives are wrapped by @pulumi/policy so that
 * reading such a value throws UnknownValueError, which, left uncaught, turns the whole rule into an
 * advisory "can't run during preview" for the resource (node_modules/@pulumi/policy/proxy.js,
 * unknownCheckingProxy; server.js, makeAnalyzeRpcFun). The rules catch it only where another rule
 * checks the same thing on a value that is known (a container's image ID, whose image reference the
 * image rule checks), and let it through everywhere else.
 */
export function unknownDuringPreview(read: () => unknown): boolean {
  try {
    read();
    return false;
  } catch (error) {
    if (error instanceof UnknownValueError) return true;
    throw error;
  }
}

/** A resource validation that runs only on the given types (the others return at once). */
export function onTypes(types: readonly string[], validate: (args: ResourceValidationArgs, report: ReportViolation) => void) {
  return (args: ResourceValidationArgs, report: ReportViolation): void => {
    if (types.includes(args.type)) validate(args, report);
  };
}

/** The stack and project a URN names: urn:pulumi:<stack>::<project>::<type chain>::<name>. */
export function urnParts(urn: string): { stack: string; project: string } {
  const [head, project] = urn.split('::');
  return { stack: head.slice('urn:pulumi:'.length), project };
}

/** Arrays as @pulumi/policy hands them (absent when the program set none). */
export const list = <T>(value: T[] | undefined | null): T[] => (Array.isArray(value) ? value : []);
