import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ROOT } from '../../common/paths';
import { connect } from '../../lib/postgres/connection';
import { DEFAULT_QUERY_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS } from '../../lib/migrations/runner';
import { plural } from '../../lib/text';
import { migratorLogin, numberIn, progress, say, stackOption, UsageError } from '../program';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .summary('compare the live database with what the committed migrations produce')
    .description(
      'Compares the database with the catalog the committed migrations produce (schema/migrations/catalog.json):\n' +
        'schemas, tables and their columns (type, default, NOT NULL), indexes with their definitions,\n' +
        'constraints, enums and their labels in order, extensions, triggers, functions, and the grants the\n' +
        "stack's roles hold, default privileges included (the roles are those of the stack whose mark the\n" +
        "database bears, its prepare step's comment; the database's owner must be that stack's migrator).\n" +
        'A database with migrations pending is compared with what the applied ones produce, and the pending\n' +
        'ones are a note, not drift. Lists each difference by kind and name; exit status 1 when there is any.\n' +
        'Only reads. Connects as MIGRATOR_DATABASE_URL when it is set, else DATABASE_URL (any role that may\n' +
        'connect will do; the migrator can read the history).\n\n' +
        '--write-expected records the catalog of the database as the expected one: run it on a fresh scratch\n' +
        'database that the committed migrations alone have just built (nothing else made in it). With the test\n' +
        'server, `PA_WRITE_EXPECTED=1 npx jest tests/verify.test.ts` does the same on a database it builds; then\n' +
        "regenerate db:baseline's catalogs, patches of it: `PA_WRITE_ADOPT_CATALOGS=1 npx jest tests/baseline.test.ts`.",
    )
    .option('--json', 'print the result as JSON: { database, ok, owner, roles, against, pending, notes, differences: [{ kind, name, problem, attribute?, expected?, actual?, message }] }')
    .addOption(stackOption("the stack the database should belong to: its mark (the prepare step's comment) must name it"))
    .addOption(
      new Option('--query-timeout <seconds>', 'how long a query may wait for the server to answer before the connection is closed')
        .argParser(numberIn('seconds', MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS))
        .default(DEFAULT_QUERY_TIMEOUT_SECONDS),
    )
    .option('--write-expected', "write the database's catalog to schema/migrations/catalog.json (a maintainer's step, on a freshly migrated scratch database)")
    .action(async (o: { json?: boolean; queryTimeout: number; writeExpected?: boolean; stack?: string }) => {
      if (o.json && o.writeExpected) throw new UsageError('--json and --write-expected exclude each other');
      const log = progress(Boolean(o.json));
      // Loaded when the command runs: --help and a usage error stay fast.
      const { expectedCatalogPath, readExpectedCatalog, verifyDatabase, writeExpectedCatalog } = await import('../../lib/migrations/verify');
      const file = path.relative(ROOT, expectedCatalogPath());
      const { target, variable } = migratorLogin();
      const client = await connect(target, 'db:verify');
      try {
        if (o.writeExpected) {
          await writeExpected(client, target.display, o.queryTimeout, file, writeExpectedCatalog);
          return;
        }
        log(`verifying ${target.display} (from ${variable}) against ${file}`);
        const started = process.hrtime.bigint();
        const result = await verifyDatabase(client, { queryTimeoutSeconds: o.queryTimeout, expected: readExpectedCatalog(), ...(o.stack ? { stack: o.stack } : {}) });
        const { expected } = result;
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const ok = result.differences.length === 0;
        if (!ok) process.exitCode = 1;
        if (o.json) {
          say(
            JSON.stringify(
              { database: target.display, ok, owner: result.owner, roles: result.roles ?? null, against: result.against, pending: result.pending.map((m) => m.name), notes: result.notes, differences: result.differences },
              null,
              2,
            ),
          );
          return;
        }
        for (const note of result.notes) log(`note: ${note}`);
        if (ok) {
          const tables = Object.values(expected.relations).filter((r) => r.kind === 'table').length;
          say(
            `${target.display} matches ${result.against}: ${plural(tables, 'table')}, ${plural(Object.keys(expected.indexes).length, 'index', 'indexes')}, ` +
              `${plural(Object.keys(expected.enums).length, 'enum')}, the grants of ${Object.values(result.roles ?? {}).join(', ')} (${Math.round(ms)} ms).`,
          );
          return;
        }
        say(`${target.display} differs from ${result.against} in ${plural(result.differences.length, 'way', 'ways')}:`);
        for (const d of result.differences) say(`  ${d.message}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
}

/** --write-expected: only from a database whose history is exactly the committed migrations. */
async function writeExpected(
  client: import('pg').Client,
  display: string,
  queryTimeoutSeconds: number,
  file: string,
  write: (catalog: import('../../lib/postgres/catalog').Catalog, migrations: import('../../lib/migrations/files').Migration[]) => void,
): Promise<void> {
  const { readMigrations } = await import('../../lib/migrations/files');
  const { historyStatus } = await import('../../lib/migrations/runner');
  const { readCatalog } = await import('../../lib/postgres/catalog');
  const { UserFacingError } = await import('../../lib/postgres/connection');
  const migrations = readMigrations();
  const history = await historyStatus(client, migrations, queryTimeoutSeconds);
  if (history.problems.length > 0 || history.pending.length > 0) {
    throw new UserFacingError(
      `${display} is not a database the committed migrations built: ` +
        (history.problems.length > 0 ? history.problems.join(' ') : `${plural(history.pending.length, 'migration')} pending`) +
        `. Write ${file} from a fresh scratch database, after \`npm run db:migrate\` on it (and nothing else).`,
    );
  }
  write(await readCatalog(client, { queryTimeoutSeconds }), migrations);
  say(
    `wrote ${file}: the catalog of ${display} (${plural(migrations.length, 'migration')} applied). ` +
      "Regenerate db:baseline's catalogs (schema/adopt/prefix-catalogs.json, patches of it) too: `PA_WRITE_ADOPT_CATALOGS=1 npx jest tests/baseline.test.ts`.",
  );
}
