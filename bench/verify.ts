/**
 * Times `db:verify` on the full schema, on a warm server.
 *
 *   npm run bench:verify [-- --runs 21]
 *
 * Starts a throwaway PostgreSQL 15 (durability on), makes a stack's roles (as an external stack
 * names them) with the grants the program gives, migrates a database as its migrator, and then times:
 *   - `verifyDatabase()` in this process, on one open connection (the engine: catalog reads, grants,
 *     comparison), after one warm-up run;
 *   - `node cli/launch.js verify` as a separate process (start-up, connection, the same work, exit).
 * Prints the median, minimum and maximum of each, in milliseconds, and the machine.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { verifyDatabase } from '../lib/migrations/verify';
import { createDatabase, startPostgres } from '../tests/helpers/postgres';
import { createStackRoles } from '../tests/helpers/stack-roles';
import { summary, timeProcess } from './timing';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '21' } } });
const runs = Number(values.runs);

async function main(): Promise<void> {
  const server = await startPostgres({ fast: false });
  try {
    const url = await createDatabase(server, 'bench_verify');
    const stack = await createStackRoles(url, `bench_${process.pid}`);
    const migratorUrl = stack.urlAs(url, 'migrator');
    const client = new Client({ connectionString: migratorUrl });
    await client.connect();
    try {
      await migrate(client, readMigrations());
      const once = async () => {
        const started = process.hrtime.bigint();
        const { differences } = await verifyDatabase(client, { queryTimeoutSeconds: 60 });
        if (differences.length > 0) throw new Error(`the benchmark's database drifted: ${differences.map((d) => d.message).join('; ')}`);
        return Number(process.hrtime.bigint() - started) / 1e6;
      };
      await once();
      const engine: number[] = [];
      for (let i = 0; i < runs; i++) engine.push(await once());
      const env = { MIGRATOR_DATABASE_URL: migratorUrl, DATABASE_URL: '' };
      await timeProcess(process.execPath, ['cli/launch.js', 'verify'], { env });
      const command: number[] = [];
      for (let i = 0; i < runs; i++) command.push(await timeProcess(process.execPath, ['cli/launch.js', 'verify'], { env }));
      const cpus = os.cpus();
      console.log(`${runs} runs on ${cpus.length} x ${cpus[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, PostgreSQL 15 (fsync on), warm\n`);
      console.log('| what | median ms | min | max |\n|---|---:|---:|---:|');
      for (const [what, ms] of [['verifyDatabase() (open connection)', engine], ['node cli/launch.js verify (a process)', command]] as const) {
        const s = summary(ms);
        console.log(`| ${what} | ${s.median.toFixed(1)} | ${s.min.toFixed(1)} | ${s.max.toFixed(1)} |`);
      }
    } finally {
      await client.end();
    }
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
