import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The repository root: the nearest folder above this file with a package.json. Found rather than
 * fixed, because this file also runs from the compiled copy in .build/ (see cli/launch.js).
 */
function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export const ROOT = findRoot(__dirname);
/** Relative to ROOT: drizzle-kit wants these relative to its config file. */
export const SCHEMA_ENTRY = './schema/index.ts';
export const MIGRATIONS_DIR = './schema/migrations';
export const migrationsPath = path.join(ROOT, MIGRATIONS_DIR);
/** squawk's configuration: the rules `db:lint` applies to the migrations (squawk also finds it by itself, from any folder of the project). */
export const squawkConfigPath = path.join(ROOT, '.squawk.toml');
