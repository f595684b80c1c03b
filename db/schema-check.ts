import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserFacingError } from './connection';
import { runDrizzleKit } from './drizzle-kit';
import { readMigrations } from './migration-files';
import { ROOT } from './paths';

export interface SchemaCheckPaths {
  /** The schema entry file (schema/index.ts). */
  schema: string;
  /** The committed migrations folder. */
  migrations: string;
}

// drizzle-kit prefixes './' to the paths it is given, so they must be relative to its cwd.
const rel = (p: string) => path.relative(ROOT, p) || '.';
const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').trim();

/**
 * Fails unless the committed migrations build exactly the TypeScript schema. drizzle-kit has no
 * such check, so we let it generate against a scratch copy of the folder: any new migration it
 * writes is the drift, and is shown.
 */
export async function checkSchemaMatchesMigrations(paths: SchemaCheckPaths): Promise<void> {
  readMigrations(paths.migrations);
  const consistency = await runDrizzleKit(['check', '--dialect', 'postgresql', '--out', rel(paths.migrations)]);
  if (consistency.code !== 0 || /error|collision/i.test(consistency.output)) {
    throw new UserFacingError(`drizzle-kit check found the migration snapshots inconsistent:\n${strip(consistency.output)}`);
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-db-check-'));
  try {
    fs.cpSync(paths.migrations, scratch, { recursive: true });
    const before = new Set(fs.readdirSync(scratch));
    const generated = await runDrizzleKit([
      'generate', '--dialect', 'postgresql', '--schema', rel(paths.schema), '--out', rel(scratch), '--name', 'uncommitted_changes',
    ]);
    if (generated.code !== 0) {
      throw new UserFacingError(`drizzle-kit could not read the schema ${paths.schema}:\n${strip(generated.output)}`);
    }
    const added = fs.readdirSync(scratch).filter((f) => f.endsWith('.sql') && !before.has(f));
    if (added.length > 0) {
      const sql = added.map((f) => fs.readFileSync(path.join(scratch, f), 'utf8')).join('\n');
      throw new UserFacingError(
        'the TypeScript schema and the committed migrations disagree. Run `npm run db:generate` and commit the new ' +
          `migration; it would contain:\n${sql.replace(/^/gm, '    ')}`,
      );
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
