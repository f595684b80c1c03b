/**
 * Times the schema commands end to end, as a user or the post-deploy step runs them.
 *
 *   npm run bench:migrate [-- --runs 7]
 *
 * Each run makes fresh databases on a throwaway PostgreSQL 15 (durability on, as in production:
 * no fsync=off) and times, as separate processes:
 *   - `npm run db:migrate` on an empty database, then `npm run db:seed`, then `npm run db:migrate`
 *     again (nothing to apply);
 *   - the same two migrate runs without npm (`node cli/launch.js migrate`), which is what
 *     `npm run` starts: the difference is npm's own start-up;
 *   - `drizzle-kit migrate` on an empty database, with the migrations it can apply: those before
 *     the first online one (`-- pa-data: no-transaction`), since it runs every migration in a
 *     transaction (drizzle-orm's src/pg-core/dialect.ts, migrate), where PostgreSQL refuses
 *     CREATE INDEX CONCURRENTLY; and `db:migrate`'s runner in process on the same ones;
 *   - `npm run` of an empty script and `node -e 0`: what npm and Node.js take before any command runs;
 * and, in this process, the runner's own time (`migrate()` from lib/migrations/runner.ts) on an empty database.
 * Prints the median, minimum and maximum of each, in milliseconds, as a Markdown table.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { ROOT } from '../common/paths';
import { MigrationsCopy } from '../tests/helpers/migrations-copy';
import { createDatabase, startPostgres } from '../tests/helpers/postgres';
import { emptyNpmProject, stats, timeProcess } from './timing';

const npmRun = (script: string, url: string) => timeProcess('npm', ['run', '--silent', script], { env: { DATABASE_URL: url } });
const launch = (command: string, url: string) => timeProcess(process.execPath, [path.join(ROOT, 'cli', 'launch.js'), command], { env: { DATABASE_URL: url } });
const drizzleKit = path.join(ROOT, 'node_modules', 'drizzle-kit', 'bin.cjs');

/** A drizzle-kit config whose folder holds the committed migrations before the first online one. */
function transactionalPrefix(): { config: string; count: number; last: string; remove: () => void } {
  const copy = new MigrationsCopy();
  const all = readMigrations();
  const online = all.findIndex((m) => !m.transactional);
  const kept = online === -1 ? all : all.slice(0, online);
  for (const m of all.slice(kept.length)) copy.remove(m.name);
  const config = path.join(copy.dir, 'drizzle.config.js');
  fs.writeFileSync(config, `module.exports = { dialect: 'postgresql', out: ${JSON.stringify(copy.dir)}, dbCredentials: { url: process.env.DATABASE_URL } };\n`);
  return { config, count: kept.length, last: kept[kept.length - 1].name, remove: () => copy.cleanup() };
}

async function inProcessMigrate(url: string, migrations = readMigrations()): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const started = process.hrtime.bigint();
    await migrate(client, migrations);
    return Number(process.hrtime.bigint() - started) / 1e6;
  } finally {
    await client.end();
  }
}


async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
  const runs = Number(values.runs);
  const prefix = transactionalPrefix();
  const server = await startPostgres({ fast: false }).catch((error: unknown) => {
    prefix.remove();
    throw error;
  });
  const kitLabel = `drizzle-kit migrate (empty database; ${prefix.count} migrations, to ${prefix.last})`;
  const libPrefixLabel = `migrate() in process, the same ${prefix.count} migrations`;
  const results: Record<string, number[]> = {
    'npm run db:migrate (empty database)': [],
    'npm run db:seed (after it)': [],
    'npm run db:migrate + db:seed': [],
    'npm run db:migrate (no-op rerun)': [],
    'node cli/launch.js migrate (empty database)': [],
    'node cli/launch.js migrate (no-op rerun)': [],
    [kitLabel]: [],
    'migrate() in process, no process start (empty database)': [],
    [libPrefixLabel]: [],
    'npm run of an empty script (npm alone: the floor under every npm row)': [],
    'node -e 0 (Node.js alone: the floor under every process)': [],
  };
  // npm's own start-up, measured beside the commands: it varies from day to day on this machine
  // (0.15 s on 2026-11-25, 0.23 s on 2026-12-01) and is most of a no-op run through npm.
  const emptyProject = emptyNpmProject();
  try {
    // One unmeasured run compiles the commands into .build/, as the first use after a change does.
    await npmRun('db:migrate', await createDatabase(server, 'warmup'));
    for (let i = 0; i < runs; i++) {
      const url = await createDatabase(server, 'bench');
      const migrate = await npmRun('db:migrate', url);
      const seed = await npmRun('db:seed', url);
      results['npm run db:migrate (empty database)'].push(migrate);
      results['npm run db:seed (after it)'].push(seed);
      results['npm run db:migrate + db:seed'].push(migrate + seed);
      results['npm run db:migrate (no-op rerun)'].push(await npmRun('db:migrate', url));
      const direct = await createDatabase(server, 'bench_direct');
      results['node cli/launch.js migrate (empty database)'].push(await launch('migrate', direct));
      results['node cli/launch.js migrate (no-op rerun)'].push(await launch('migrate', direct));
      results['migrate() in process, no process start (empty database)'].push(await inProcessMigrate(await createDatabase(server, 'bench_lib')));
      const other = await createDatabase(server, 'bench_kit');
      results[kitLabel].push(await timeProcess(process.execPath, [drizzleKit, 'migrate', `--config=${prefix.config}`], { env: { DATABASE_URL: other } }));
      results[libPrefixLabel].push(await inProcessMigrate(await createDatabase(server, 'bench_lib_prefix'), readMigrations().slice(0, prefix.count)));
      results['npm run of an empty script (npm alone: the floor under every npm row)'].push(await timeProcess('npm', ['run', '--silent', 'empty'], { cwd: emptyProject.dir }));
      results['node -e 0 (Node.js alone: the floor under every process)'].push(await timeProcess(process.execPath, ['-e', '0']));
    }
  } finally {
    await server.stop();
    emptyProject.remove();
    prefix.remove();
  }
  console.log(`${runs} runs on ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, PostgreSQL 15 (fsync on)\n`);
  console.log('| command | median ms | min ms | max ms |\n|---|---|---|---|');
  for (const [name, samples] of Object.entries(results)) console.log(`| ${name} | ${stats(samples)} |`);
  console.log(`\ndrizzle-kit applies the ${prefix.count} migrations before the first online one; compare it with the "${libPrefixLabel}" row.`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
