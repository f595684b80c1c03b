import { stackNameProblem } from '../lib/stack/env-file';
import { checkHealth, formatHealthTable, formatTableStats, HEALTH_VARIABLES, varsFromEnvironment } from '../lib/health/report';
import { stackAppEnv } from '../lib/stack/outputs';
import { runCli, say, UsageError } from './run';

/** Names joined by commas, a line at most `width` long each. */
function wrapList(names: readonly string[], width = 100): string {
  const lines = [''];
  for (const name of names) {
    const last = lines.length - 1;
    if (lines[last] !== '' && lines[last].length + name.length + 2 > width) lines.push('');
    lines[lines.length - 1] += `${lines[lines.length - 1] === '' ? '' : ' '}${name},`;
  }
  return lines.join('\n').replace(/,$/, '.');
}

const USAGE = `usage: npm run health -- [<stack>] [--tables]

Checks the servers the application uses and prints a table (service, check, OK or FAIL, detail):
PostgreSQL (server version, the extensions the migrations create, pending migrations, client
connections against max_connections), Redis (login, PING, maxmemory and its eviction policy) and
the object store (the S3 API answers; each bucket exists and its credential may list it; anonymous
downloads are allowed from temp and refused everywhere else). Exit status 1 when any check fails
(the whole table is printed first), 2 for bad arguments.

With <stack>, the servers and credentials are the stack's outputs, read with
\`pulumi stack output --json --show-secrets --stack <stack>\` in the project root (as \`npm run env\`
does). Without it they come from the environment, by the names of .env.<stack>:
${wrapList(HEALTH_VARIABLES)}
PostgreSQL is checked on MIGRATOR_DATABASE_URL when it is set (it can read the migrations table),
else on DATABASE_URL. No value of these is ever printed.

  <stack>    the stack, e.g. dev
  --tables   also print the table statistics of pg_stat_user_tables (inserts, updates, deletes,
             live and dead rows per table)`;

runCli(
  USAGE,
  { tables: { type: 'boolean' } },
  async (values, positionals) => {
    if (positionals.length > 1) throw new UsageError(`expected at most one stack name, got ${positionals.length}: ${positionals.join(' ')}`);
    const [stack] = positionals;
    const badName = stack === undefined ? undefined : stackNameProblem(stack);
    if (badName) throw new UsageError(badName);
    const vars = stack === undefined ? varsFromEnvironment(process.env) : Object.fromEntries(await stackAppEnv(stack));

    const tables = Boolean(values.tables);
    const report = await checkHealth(vars, { tables });
    say(formatHealthTable(report.rows));
    if (tables) {
      say('');
      say(report.tables ? formatTableStats(report.tables) : 'table statistics: not shown, PostgreSQL could not be checked (above)');
    }
    const failed = report.rows.filter((r) => !r.ok).length;
    say('');
    say(failed === 0 ? `all ${report.rows.length} checks passed.` : `${failed} of ${report.rows.length} checks failed.`);
    if (failed > 0) process.exitCode = 1;
  },
  { allowPositionals: true },
);
