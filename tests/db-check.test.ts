import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../common/paths';
import { readMigrations } from '../lib/migrations/files';
import { checkExpectedCatalogCurrent, checkSchemaMatchesMigrations } from '../lib/migrations/schema-check';
import { expectedCatalogPath, migrationHashes, readExpectedCatalog } from '../lib/migrations/verify';
import { catalogJson } from '../lib/postgres/catalog';
import { prefixCatalogsPath, readPrefixCatalogs, writePrefixCatalogs } from '../lib/migrations/baseline';
import { npmRun } from './helpers/db';

describe('npm run db:check', () => {
  it('passes on the committed schema and migrations', async () => {
    const r = await npmRun('db:check');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('schema and migrations agree.');
  });

  describe('on a copy of the schema', () => {
    // Inside the repository, so that the copy resolves drizzle-orm from node_modules.
    const scratch = path.join(ROOT, '.tmp', `db-check-${process.pid}`);
    const paths = { schema: path.join(scratch, 'schema', 'index.ts'), migrations: path.join(scratch, 'schema', 'migrations') };
    beforeEach(() => fs.cpSync(path.join(ROOT, 'schema'), path.join(scratch, 'schema'), { recursive: true }));
    afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));
    /** What --write-expected records besides the catalog, which an edit that changes no object leaves as it is. */
    const adopt = path.join(scratch, 'schema', 'adopt');
    const recordHashes = () => {
      const catalog = expectedCatalogPath(paths.migrations);
      const migrations = migrationHashes(readMigrations(paths.migrations));
      fs.writeFileSync(catalog, catalogJson({ ...readExpectedCatalog(catalog), migrations }));
      writePrefixCatalogs({ ...readPrefixCatalogs(prefixCatalogsPath(adopt)), migrations }, prefixCatalogsPath(adopt));
    };

    it('fails when the TypeScript schema has a change with no migration, and shows the SQL', async () => {
      const file = path.join(scratch, 'schema', 'system.ts');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("  category: varchar('category', { length: 100 }),", "  category: varchar('category', { length: 100 }),\n  owner: text('owner'),"));
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(
        /the TypeScript schema and the committed migrations disagree\. Run `npm run db:generate`[\s\S]*ALTER TABLE "system_settings" ADD COLUMN "owner" text;/,
      );
    });

    it('fails when a column is renamed with no migration, instead of passing while drizzle-kit waits for answers', async () => {
      const file = path.join(scratch, 'schema', 'system.ts');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("category: varchar('category', { length: 100 }),", "categoryName: varchar('category_name', { length: 100 }),"));
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(
        /drizzle-kit needs answers to write the migration \(is a table or column renamed, or dropped and created\?\)\. Run `npm run db:generate` in a terminal/,
      );
    });

    it('fails when a generated migration was edited by hand, naming it and the statement', async () => {
      const file = path.join(paths.migrations, '0001_schema.sql');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/CONSTRAINT "documents_processing_progress_range" CHECK \([^\n]*\)\n/, ''));
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(
        /the migration files and their snapshots disagree:\n {2}- \S*0001_schema\.sql is not the SQL drizzle-kit generates from its snapshot: statement \d+ is/,
      );
    });

    it('accepts the lint\'s exceptions and a lock timeout in a generated migration, and nothing else added', async () => {
      const file = path.join(paths.migrations, '0001_schema.sql');
      const generated = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(
        file,
        "SET LOCAL lock_timeout = '5s';\n--> statement-breakpoint\n" +
          generated.replace(/^CREATE INDEX /m, '-- squawk-ignore require-concurrent-index-creation -- the table is created in this same migration\nCREATE INDEX '),
      );
      recordHashes();
      await expect(checkSchemaMatchesMigrations(paths)).resolves.toEqual([]);
      fs.writeFileSync(file, "SET LOCAL statement_timeout = '5s';\n--> statement-breakpoint\n" + generated);
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(/0001_schema\.sql is not the SQL drizzle-kit generates from its snapshot: statement 1 is\n\s+SET LOCAL statement_timeout/);
    });

    it('accepts IF NOT EXISTS after a generated CREATE INDEX CONCURRENTLY only in a migration marked to run without a transaction', async () => {
      const file = path.join(paths.migrations, '0009_public_recent_index.sql');
      const committed = fs.readFileSync(file, 'utf8');
      expect(committed).toMatch(/^-- pa-data: no-transaction\n[\s\S]*CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_documents_public_recent"/);
      await expect(checkSchemaMatchesMigrations(paths)).resolves.toEqual([]);
      fs.writeFileSync(file, committed.replace(/^-- pa-data: no-transaction\n/, ''));
      recordHashes();
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(
        /0009_public_recent_index\.sql is not the SQL drizzle-kit generates from its snapshot: statement 1 is\n\s+CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_documents_public_recent"/,
      );
      fs.writeFileSync(file, committed.replace('IF NOT EXISTS "idx_documents_public_recent" ON "documents"', 'IF NOT EXISTS "idx_documents_public_recent" ON ONLY "documents"'));
      recordHashes();
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(/0009_public_recent_index\.sql is not the SQL drizzle-kit generates/);
    });

    it("accepts any SQL in a custom migration, once db:verify's catalog.json is rewritten after it", async () => {
      const file = path.join(paths.migrations, '0002_updated_at_triggers.sql');
      fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8')}\n--> statement-breakpoint\nCOMMENT ON FUNCTION set_updated_at() IS 'keeps updated_at current';\n`);
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(
        /schema\/migrations\/catalog\.json is not the catalog of the committed migrations \(0002_updated_at_triggers changed since\): regenerate the recorded catalogs from fresh databases on the test server: `PA_WRITE_EXPECTED=1 npx jest tests\/verify\.test\.ts`/,
      );
      recordHashes();
      await expect(checkSchemaMatchesMigrations(paths)).resolves.toEqual([]);
    });

    it('fails when catalog.json predates a migration, without a database', async () => {
      const catalog = expectedCatalogPath(paths.migrations);
      const recorded = readExpectedCatalog(catalog);
      delete recorded.migrations!['0007_public_head_search_per_field'];
      fs.writeFileSync(catalog, catalogJson(recorded));
      await expect(checkExpectedCatalogCurrent(paths.migrations)).rejects.toThrow(
        /catalog\.json is not the catalog of the committed migrations \(0007_public_head_search_per_field is not in it\): regenerate the recorded catalogs .*`npm run db:verify -- --write-expected`/,
      );
    });

    it('fails when prefix-catalogs.json predates a migration, without a database', async () => {
      const recorded = readPrefixCatalogs(prefixCatalogsPath(adopt));
      delete recorded.migrations!['0007_public_head_search_per_field'];
      writePrefixCatalogs(recorded, prefixCatalogsPath(adopt));
      await expect(checkExpectedCatalogCurrent(paths.migrations)).rejects.toThrow(
        /schema\/adopt\/prefix-catalogs\.json is not current for the committed migrations \(0007_public_head_search_per_field is not in it\): regenerate the recorded catalogs .*`PA_WRITE_ADOPT_CATALOGS=1 npx jest tests\/baseline\.test\.ts`/,
      );
    });

    it('fails when a migration file is missing', async () => {
      fs.rmSync(path.join(paths.migrations, '0002_updated_at_triggers.sql'));
      await expect(checkSchemaMatchesMigrations(paths)).rejects.toThrow(/0002_updated_at_triggers\.sql is listed in .*_journal\.json but cannot be read/);
    });

    it('passes on an unchanged copy', async () => {
      await expect(checkSchemaMatchesMigrations(paths)).resolves.toEqual([]);
    });
  });
});
