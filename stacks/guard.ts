import * as command from '@pulumi/command';
import type * as pulumi from '@pulumi/pulumi';

/**
 * What keeps `pulumi destroy` of a stack whose data is protected (`protectData`) from removing
 * anything at all. A protected resource's delete fails before it does anything, the destroy goes
 * on past it, and once a delete has failed the engine deletes nothing that resource depends on
 * (pulumi/pulumi v3.248.0 pkg/resource/deploy/step.go, deleteProtectedError;
 * step_executor.go, cancelDueToError; deployment_executor.go, erroredDeps and
 * TransitiveDependenciesOf). Protection on the data alone would let a stray destroy take down every
 * container, role and credential around it. This step depends on everything the stack declares, so
 * it is the one deleted first, and it is protected with the data: a destroy stops at it, having
 * removed nothing. It runs nothing.
 */
export function destroyGuard(protect: boolean, everything: pulumi.Resource[]): command.local.Command {
  return new command.local.Command('destroy-guard', {}, { protect, dependsOn: everything });
}
