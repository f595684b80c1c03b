import type { Command } from 'commander';
import { stackAppEnv } from '../../lib/stack/outputs';
import { pulumiTimeoutOption, say, stackOption } from '../program';

export function registerHealth(program: Command): void {
  program
    .command('health')
    .summary('check the servers the application uses')
    .description(
      'Checks PostgreSQL (server version, the extensions the migrations create, pending migrations,\n' +
        'the migration history, client connections against max_connections), Redis (login, PING,\n' +
        'maxmemory and its eviction policy) and the object store (the S3 API answers; each bucket exists\n' +
        'and its credential may list it; anonymous downloads are allowed from temp only), and prints a\n' +
        'table (service, check, OK or FAIL, detail). Exit status 1 when any check fails.\n\n' +
        "With --stack, the servers and credentials are the stack's outputs (as `env` reads them);\n" +
        "without, the environment's, by the names of .env.<stack> (DATABASE_URL, REDIS_URL, S3_*...).\n" +
        'PostgreSQL is checked on MIGRATOR_DATABASE_URL when it is set (it can read the migration\n' +
        'history), else on DATABASE_URL. No value of these is ever printed.',
    )
    .addOption(stackOption("check the servers of the stack's outputs, e.g. dev"))
    .option('--tables', 'also print the statistics of pg_stat_user_tables (inserts, updates, deletes, live and dead rows per table)')
    .option('--json', 'print the result as JSON: { ok, rows: [{ service, check, ok, detail }], tables? }')
    .addOption(pulumiTimeoutOption())
    .action(async (o: { stack?: string; tables?: boolean; json?: boolean; pulumiTimeout?: number }) => {
      // The clients of three servers are loaded when the command runs: --help and a usage error stay fast.
      const { checkHealth, formatHealthTable, formatTableStats, varsFromEnvironment } = await import('../../lib/health/report');
      const vars = o.stack === undefined ? varsFromEnvironment(process.env) : Object.fromEntries(await stackAppEnv(o.stack, { timeoutMs: o.pulumiTimeout === undefined ? undefined : o.pulumiTimeout * 1000 }));
      const tables = Boolean(o.tables);
      const report = await checkHealth(vars, { tables });
      const failed = report.rows.filter((r) => !r.ok).length;
      if (failed > 0) process.exitCode = 1;
      if (o.json) {
        say(JSON.stringify({ ok: failed === 0, rows: report.rows, ...(tables ? { tables: report.tables ?? null } : {}) }, null, 2));
        return;
      }
      say(formatHealthTable(report.rows));
      if (tables) {
        say('');
        say(report.tables ? formatTableStats(report.tables) : 'table statistics: not shown, PostgreSQL could not be checked (above)');
      }
      say('');
      say(failed === 0 ? `all ${report.rows.length} checks passed.` : `${failed} of ${report.rows.length} checks failed.`);
    });
}
