import * as path from 'node:path';

/** Repository root, so that commands work from any working directory. */
export const ROOT = path.resolve(__dirname, '..');
/** Relative to ROOT: drizzle-kit wants these relative to its config file. */
export const SCHEMA_ENTRY = './schema/index.ts';
export const MIGRATIONS_DIR = './schema/migrations';
export const migrationsPath = path.join(ROOT, MIGRATIONS_DIR);
