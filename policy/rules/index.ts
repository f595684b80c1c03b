import type { Policies } from '@pulumi/policy';
import { bucketsPrivate } from './buckets';
import type { Settings } from './common';
import { dockerObjectsNamed, serviceContainersComplete } from './containers';
import { dataProtected, destroyGuardCoversStack } from './data';
import { imagesPinned } from './images';
import { adminToolsOnlyWhenEnabled, portsOnBindAddress } from './ports';
import { explicitProviders } from './providers';
import { noPlainCredentials } from './secrets';

/**
 * Every rule of the pack, each mandatory: a violation fails `pulumi preview` and `pulumi up`. The
 * rules that depend on the stack's settings read them through `settings` (policy/settings.ts in the
 * pack; the tests pass each committed stack's).
 */
export function policies(settings: Settings): Policies {
  return [
    imagesPinned,
    portsOnBindAddress(settings),
    adminToolsOnlyWhenEnabled(settings),
    dataProtected(settings),
    destroyGuardCoversStack(settings),
    noPlainCredentials,
    serviceContainersComplete,
    dockerObjectsNamed,
    explicitProviders,
    bucketsPrivate(settings),
  ];
}
