/**
 * The start-up of a no-op `db:migrate` (nothing to apply), compared across checkouts in one run.
 *
 *   npm run bench:start-up [-- --runs 30] [-- --against /path/to/another/checkout ...]
 *
 * A no-op migrate is mostly process start, and this machine's speed varies from day to day by
 * more than the differences worth knowing (npm alone took 0.15 s on 2026-11-25 and 0.27 s on
 * 2026-12-01), so versions are compared only within one run, their starts interleaved: round i
 * starts each checkout once, in turn. Each checkout runs its own `db:migrate` script, through npm
 * and as the command line npm would start (read from its package.json), against one migrated
 * database per checkout on a throwaway PostgreSQL 15. `node -e 0` and `npm run` of an empty script
 * are timed in the same rounds: the floors under every row. To compare with an older commit:
 *   git worktree add /tmp/old <commit> && ln -s "$PWD/node_modules" /tmp/old/node_modules
 * Prints the median, minimum and maximum of each, in milliseconds, as a Markdown table.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../common/paths';
import { createDatabase, startPostgres } from '../tests/helpers/postgres';
import { emptyNpmProject, stats, timeProcess } from './timing';

/** What `npm run db:migrate` starts in `checkout`: its script, with `node` as this Node.js. */
function migrateCommandLine(checkout: string): string[] {
  const script: string = JSON.parse(fs.readFileSync(path.join(checkout, 'package.json'), 'utf8')).scripts['db:migrate'];
  const words = script.trim().split(/\s+/);
  if (words[0] !== 'node') throw new Error(`${checkout}: db:migrate is not a node command line: ${script}`);
  return [process.execPath, ...words.slice(1)];
}


const gitOut = (checkout: string, args: string[]) =>
  new Promise<string>((resolve) => {
    const child = spawn('git', ['-C', checkout, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out.trim()));
  });

/** The checkout's commit, and whether its files differ from it. */
async function label(checkout: string): Promise<string> {
  const commit = (await gitOut(checkout, ['log', '-1', '--format=%h'])) || path.basename(checkout);
  const changed = (await gitOut(checkout, ['status', '--porcelain', '--untracked-files=no'])) !== '';
  return `${checkout === ROOT ? 'this checkout, ' : ''}${commit}${changed ? ' with uncommitted changes' : ''}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' }, against: { type: 'string', multiple: true, default: [] } } });
  const runs = Number(values.runs);
  const checkouts = [ROOT, ...values.against.map((dir) => path.resolve(dir))];
  const server = await startPostgres({ fast: false });
  const emptyProject = emptyNpmProject();
  const rows = new Map<string, number[]>();
  const add = (name: string, ms: number) => rows.set(name, [...(rows.get(name) ?? []), ms]);
  try {
    const targets = [];
    for (const checkout of checkouts) {
      const url = await createDatabase(server, 'startup');
      const [node, ...args] = migrateCommandLine(checkout);
      // Unmeasured: builds the checkout's commands if needed, and applies the migrations.
      await timeProcess(node, args, { cwd: checkout, env: { DATABASE_URL: url } });
      targets.push({ label: await label(checkout), checkout, url, node, args });
    }
    for (let i = 0; i < runs; i++) {
      add('node -e 0', await timeProcess(process.execPath, ['-e', '0'], { cwd: emptyProject.dir }));
      add('npm run of an empty script', await timeProcess('npm', ['run', '--silent', 'empty'], { cwd: emptyProject.dir }));
      for (const t of targets) {
        add(`${t.label}: ${[path.basename(t.node), ...t.args].join(' ')} (no-op)`, await timeProcess(t.node, t.args, { cwd: t.checkout, env: { DATABASE_URL: t.url } }));
        add(`${t.label}: npm run db:migrate (no-op)`, await timeProcess('npm', ['run', '--silent', 'db:migrate'], { cwd: t.checkout, env: { DATABASE_URL: t.url } }));
      }
    }
  } finally {
    await server.stop();
    emptyProject.remove();
  }
  console.log(`${runs} interleaved rounds on ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, PostgreSQL 15 (fsync on)\n`);
  console.log('| command | median ms | min ms | max ms |\n|---|---|---|---|');
  for (const [name, samples] of rows) console.log(`| ${name} | ${stats(samples)} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
