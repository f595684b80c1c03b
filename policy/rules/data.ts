import type { ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
import { onTypes, type Settings, subject, TYPES, withSettings } from './common';

/**
 * The steps that hold the stack's data, by name: the database's and the buckets' prepare steps
 * (stacks/inside/prepare-step.ts, prepareStep: `prepare`) and the destroy guard (stacks/guard.ts,
 * destroyGuard: `destroy-guard`). tests/policy.test.ts checks that every committed stack has them.
 */
export const PREPARE_STEP = 'prepare';
export const DESTROY_GUARD = 'destroy-guard';

/**
 * Whether a volume is protected and kept on delete cannot both be checked here: the engine hands a
 * policy pack `protect` but not `retainOnDelete` (pulumi/pulumi v3.248.0 proto/pulumi/analyzer.proto,
 * AnalyzerResourceOptions; sdk/go/common/resource/plugin/analyzer_plugin.go, marshalResourceOptions).
 * Retention is tests/stacks.test.ts's.
 */
export const dataProtected = (settings: Settings): ResourceValidationPolicy => ({
  name: 'data-protected',
  description:
    'Where the stack protects its data (protectData), every data volume, both prepare steps and the destroy guard are protected, so that `pulumi destroy` removes nothing and no update can replace a volume.',
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.volume, TYPES.command], (args, report) => {
    if (args.type === TYPES.command && args.name !== PREPARE_STEP && args.name !== DESTROY_GUARD) return;
    withSettings(settings, report, ({ protectData }) => {
      if (protectData && !args.opts.protect) {
        const what = args.type === TYPES.volume ? 'holds data' : args.name === DESTROY_GUARD ? 'is what stops `pulumi destroy`' : "makes the stack's database or buckets";
        report(`${subject(args)} ${what} but is not protected on a stack with protectData; declare it with \`protect: config.protectData\`.`);
      }
    });
  }),
});

export const destroyGuardCoversStack = (settings: Settings): StackValidationPolicy => ({
  name: 'destroy-guard-covers-stack',
  description:
    'Where the stack protects its data, one protected destroy guard depends on every other resource of the stack, so a `pulumi destroy` meets it first and deletes nothing at all.',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) =>
    withSettings(settings, report, ({ protectData }) => {
      if (!protectData) return;
      const guards = args.resources.filter((r) => r.type === TYPES.command && r.name === DESTROY_GUARD);
      if (guards.length !== 1) {
        report(`The stack has ${guards.length} ${DESTROY_GUARD} steps; it needs exactly one (stacks/guard.ts, declared last in index.ts).`);
        return;
      }
      const [guard] = guards;
      if (!guard.opts.protect) report(`${subject(guard)} is not protected on a stack with protectData.`, guard.urn);
      const covered = new Set(guard.dependencies.map((d) => d.urn));
      // Only custom resources, which the engine always gives a provider (a default one if the program
      // named none); components (and providers) have none, and a dependency on a component is
      // recorded as one on each resource under it (@pulumi/pulumi runtime/dependsOn.js,
      // getAllTransitivelyReferencedResourceURNs), so they need no cover of their own.
      for (const r of args.resources) {
        if (r === guard || r.provider === undefined || covered.has(r.urn)) continue;
        report(`${subject(r)} is not among ${DESTROY_GUARD}'s dependencies, so \`pulumi destroy\` could delete it before it meets the guard; add its component to destroyGuard's list in index.ts.`, r.urn);
      }
    }),
});
