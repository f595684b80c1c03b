import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { UserFacingError } from '../postgres/connection';
import { runDrizzleKit } from './drizzle-kit';
import { readMigrations } from './files';
import { ROOT } from '../../common/paths';

export interface SchemaCheckPaths {
  /** The schema entry file (schema/index.ts). */
  schema: string;
  /** The committed migrations folder. */
  migrations: string;
}

// drizzle-kit prefixes './' to the paths it is given, so they must be relative to its cwd.
const rel = (p: string) => path.relative(ROOT, p) || '.';
const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').trim();
/** What drizzle-kit prints, with exit status 0, when it would have to ask (renamed, or new?). */
const WOULD_ASK = /Interactive prompts require a TTY/;

/**
 * For each snapshot, the SQL drizzle-kit generates from the one before it. Run in a child with no
 * terminal: where drizzle-kit would ask about a rename, it fails there instead of prompting here.
 */
const REGENERATE = `
const fs = require('node:fs');
const api = require(require.resolve('drizzle-kit/api', { paths: [process.argv[1]] }));
(async () => {
  let prev = await api.generateDrizzleJson({});
  const out = [];
  for (const file of JSON.parse(process.argv[2])) {
    const cur = JSON.parse(fs.readFileSync(file, 'utf8'));
    try { out.push({ sql: await api.generateMigration(prev, cur) }); } catch (e) { out.push({ error: String((e && e.message) || e) }); }
    prev = cur;
  }
  process.stdout.write('\\n@@RESULT@@' + JSON.stringify(out));
})();`;

type Regenerated = { sql: string[] } | { error: string };

async function regenerateFromSnapshots(snapshots: string[]): Promise<Regenerated[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', REGENERATE, ROOT, JSON.stringify(snapshots)], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + '@@RESULT@@'.length)) as Regenerated[];
}

/**
 * Each generated migration must be exactly the SQL drizzle-kit generates from its snapshots, so
 * that the snapshots, which the schema is compared with, describe what the files really do. Custom
 * migrations (whose snapshot equals the previous one) may hold any SQL. Returns notices for what
 * could not be verified.
 */
/**
 * What a reviewer may add to a generated migration without changing what it does to the schema,
 * and what `db:lint` and `db:migrate` ask of a migration that touches a live table: whole-line
 * comments (squawk's `-- squawk-ignore RULE -- REASON` exceptions, and the first line's
 * NO_TRANSACTION_MARKER), `SET LOCAL lock_timeout` (which holds for the migration's own transaction
 * only) and, in a migration marked to run without a transaction, `IF NOT EXISTS` after drizzle-kit's
 * `CREATE INDEX CONCURRENTLY` (for an index declared `.concurrently()`), which the runner requires so
 * that an interrupted build can be resumed. The statements left are compared with drizzle-kit's.
 */
const LOCK_TIMEOUT = /^SET\s+LOCAL\s+lock_timeout\s*(=|TO)\s*('[^']*'|\d+)\s*;?$/i;
const CONCURRENT_IF_NOT_EXISTS = /^(CREATE (?:UNIQUE )?INDEX CONCURRENTLY) IF NOT EXISTS /;
function reviewedStatements(statements: string[], transactional: boolean): string[] {
  return statements
    .map((sql) => sql.split('\n').filter((line) => !line.trimStart().startsWith('--')).join('\n').trim())
    .filter((sql) => sql !== '' && !LOCK_TIMEOUT.test(sql))
    .map((sql) => (transactional ? sql : sql.replace(CONCURRENT_IF_NOT_EXISTS, '$1 ')));
}

async function checkSqlMatchesSnapshots(migrationsDir: string): Promise<string[]> {
  const migrations = readMigrations(migrationsDir);
  const snapshots = migrations.map((m) => path.join(migrationsDir, 'meta', `${m.name.split('_')[0]}_snapshot.json`));
  const missing = snapshots.filter((s) => !fs.existsSync(s));
  if (missing.length > 0) {
    throw new UserFacingError(`${missing.map(rel).join(', ')} missing: every migration needs the snapshot drizzle-kit wrote with it.`);
  }
  const regenerated = await regenerateFromSnapshots(snapshots);
  const notices: string[] = [];
  const problems: string[] = [];
  migrations.forEach((m, i) => {
    const expected = regenerated[i];
    const actual = reviewedStatements(m.statements.map((s) => s.sql), m.transactional);
    if ('error' in expected) {
      if (actual.some((sql) => /\bRENAME\b/i.test(sql))) {
        notices.push(`${m.file} renames something; its SQL cannot be compared with its snapshot without answering drizzle-kit's questions, so it was not checked.`);
      } else {
        problems.push(`${m.file}: drizzle-kit cannot generate SQL from its snapshot (${expected.error}).`);
      }
      return;
    }
    const wanted = expected.sql.map((sql) => sql.trim());
    if (wanted.length === 0) return; // a custom migration
    const firstDiff = wanted.findIndex((sql, j) => actual[j] !== sql);
    if (firstDiff !== -1 || actual.length !== wanted.length) {
      const j = firstDiff === -1 ? wanted.length : firstDiff;
      problems.push(
        `${m.file} is not the SQL drizzle-kit generates from its snapshot: statement ${j + 1} is\n` +
          `      ${actual[j] ?? '(missing)'}\n    where drizzle-kit generates\n      ${wanted[j] ?? '(nothing)'}`,
      );
    }
  });
  if (problems.length > 0) {
    throw new UserFacingError(
      `the migration files and their snapshots disagree:\n  - ${problems.join('\n  - ')}\n` +
        'Leave generated migrations as generated; put hand-written SQL in a custom migration ' +
        '(`npm run db:generate -- --custom --name what_it_does`).',
    );
  }
  return notices;
}

/**
 * Fails unless the committed migrations build exactly the TypeScript schema: the SQL files match
 * their snapshots, and generating against a scratch copy of the folder writes nothing new (any
 * migration it would write is the drift, and is shown). Returns notices for what was not checked.
 */
export async function checkSchemaMatchesMigrations(paths: SchemaCheckPaths): Promise<string[]> {
  const consistency = await runDrizzleKit(['check', '--dialect', 'postgresql', '--out', rel(paths.migrations)]);
  if (consistency.code !== 0 || /error|collision/i.test(consistency.output)) {
    throw new UserFacingError(`drizzle-kit check found the migration snapshots inconsistent:\n${strip(consistency.output)}`);
  }
  const notices = await checkSqlMatchesSnapshots(paths.migrations);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-db-check-'));
  try {
    fs.cpSync(paths.migrations, scratch, { recursive: true });
    const before = new Set(fs.readdirSync(scratch));
    const generated = await runDrizzleKit([
      'generate', '--dialect', 'postgresql', '--schema', rel(paths.schema), '--out', rel(scratch), '--name', 'uncommitted_changes',
    ]);
    if (WOULD_ASK.test(generated.output)) {
      throw new UserFacingError(
        'the TypeScript schema and the committed migrations disagree, and drizzle-kit needs answers to write the ' +
          'migration (is a table or column renamed, or dropped and created?). Run `npm run db:generate` in a terminal, ' +
          'answer, and commit the migration it writes.',
      );
    }
    if (generated.code !== 0 || /\bError\b/.test(generated.output)) {
      throw new UserFacingError(`drizzle-kit could not generate from the schema ${rel(paths.schema)}:\n${strip(generated.output)}`);
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
  await checkExpectedCatalogCurrent(paths.migrations);
  return notices;
}

/**
 * db:verify's expected catalog (catalog.json, next to the migrations) and db:baseline's prefix
 * catalogs (schema/adopt/prefix-catalogs.json) record the sha256 of each migration they were
 * written after: a migration added, edited or removed since makes them stale, which this notices
 * without a database.
 */
export async function checkExpectedCatalogCurrent(migrationsDir: string): Promise<void> {
  const { catalogStaleness, expectedCatalogPath, prefixCatalogsStaleness, readExpectedCatalog } = await import('./verify');
  const { prefixCatalogsPath, readPrefixCatalogs } = await import('./baseline');
  const migrations = readMigrations(migrationsDir);
  const file = expectedCatalogPath(migrationsDir);
  // db:baseline's prefix catalogs (schema/adopt, beside schema/migrations) record the migrations' hashes likewise.
  const prefixes = prefixCatalogsPath(path.join(migrationsDir, '..', 'adopt'));
  const stale = catalogStaleness(readExpectedCatalog(file), migrations, file) ?? prefixCatalogsStaleness(readPrefixCatalogs(prefixes), migrations, prefixes);
  if (stale) throw new UserFacingError(stale);
}
