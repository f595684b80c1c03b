import type { ResourceValidationPolicy } from '@pulumi/policy';
import { subject } from './common';

/** The packages whose resources live inside the servers and must reach them through the program's own providers. */
export const EXPLICIT_PROVIDER_PACKAGES = ['postgresql', 'minio'] as const;

/**
 * A default provider's name: `default`, or `default_<major>_<minor>_<patch>...` (pulumi/pulumi
 * v3.248.0 pkg/resource/deploy/providers/provider.go, DefaultName).
 */
const DEFAULT_PROVIDER_NAME = /^default(_|$)/;

export const explicitProviders: ResourceValidationPolicy = {
  name: 'explicit-providers',
  description:
    "Every PostgreSQL and MinIO resource goes through the program's explicit provider (stacks/inside/database.ts, storage.ts), configured from the stack's own servers, never a default provider configured by whatever the environment points at.",
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    const pkg = args.type.split(':')[0];
    if (!(EXPLICIT_PROVIDER_PACKAGES as readonly string[]).includes(pkg) || args.type.startsWith('pulumi:providers:')) return;
    const provider = args.provider;
    const fix = `pass { provider } (the ${pkg} provider of its component) in its resource options`;
    if (!provider) report(`${subject(args)} has no provider; ${fix}.`);
    else if (provider.type !== `pulumi:providers:${pkg}`) report(`${subject(args)} goes through a provider of type ${provider.type}; ${fix}.`);
    else if (DEFAULT_PROVIDER_NAME.test(provider.name)) report(`${subject(args)} goes through the default ${pkg} provider (${provider.name}); ${fix}.`);
  },
};
