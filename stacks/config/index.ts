/**
 * The stack's configuration: the table of keys (keys.ts), the checks of single values (checks.ts) and
 * of values together (cross-checks.ts), where state and secrets may live (state.ts), and the loader
 * that applies them all to what the Pulumi CLI passes (load.ts, with unknown-key.ts). This index is
 * the folder's only way in: it exports what the program and the tests use, nothing more.
 */
export { bucketNameProblem, imageProblem } from './checks';
export { CONFIG_KEYS, type StackConfig } from './keys';
export { ConfigError, loadConfig, projectConfig } from './load';
export { DEV_PASSPHRASE } from './state';
