import { PolicyPack } from '@pulumi/policy';
import { policies } from './rules';
import { readStackSettings } from './settings';

/**
 * The data stack's invariants as a policy pack: `pulumi preview --stack <stack> --policy-pack policy`
 * (README, "Policy pack"). The Pulumi CLI starts it in this folder through @pulumi/pulumi's
 * run-policy-pack, with the stack's configuration in its environment (policy/settings.ts).
 * PolicyPack serves the rules to the engine (node_modules/@pulumi/policy/policy.js, server.js).
 */
const settings = readStackSettings(process.env);

new PolicyPack('pronunciation-assistant-invariants', {
  description: "The data stack's invariants; every rule is mandatory.",
  enforcementLevel: 'mandatory',
  policies: policies(() => settings),
});
