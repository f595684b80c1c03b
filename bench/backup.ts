/**
 * `db:backup` and `db:restore` against plain pg_dump and pg_restore of the same database.
 *
 *   npm run bench:backup [-- --docs 200000 --rounds 3 --memory 2048 --jobs N --only backup|restore] [-- --against /path/to/another/checkout ...]
 *
 * Builds a throwaway PostgreSQL 15 (durability on, the settings the program derives for
 * `--memory` MiB: prod's 2048 by default) holding the migrated schema and bench/corpus.ts's
 * documents (`--docs`, one user per 100 documents, 10% public), then, in `--rounds` rounds, times
 * as separate processes:
 *   - the baseline, `pg_dump --format=custom --file=FILE` of the database, against the command,
 *     `node cli/launch.js backup` (what `npm run db:backup` starts) of the same database;
 *   - the baseline, CREATE DATABASE and a plain single-job `pg_restore --dbname` into it, against
 *     `node cli/launch.js restore --file ... --database NEW` (its default jobs, or `--jobs`), both of
 *     the round's backup by this checkout.
 * `--only backup` or `--only restore` times only those (a restore still needs the round's backup, untimed).
 * `--against` adds another checkout's commands to every round (an older commit, to compare
 * versions on the same machine at the same moment):
 *   git worktree add /tmp/old <commit> && ln -s "$PWD/node_modules" /tmp/old/node_modules
 * Within a round the runs of each kind follow one another, in an order that turns round by round,
 * so that the machine's slow moments (other work shares it) fall on all of them alike; the restored
 * databases are dropped and a CHECKPOINT taken between runs, untimed, so that each starts from the
 * same state. Each restored database is checked to hold every document. Prints the machine, the
 * settings, each round (with the load average as each run started) and a Markdown table of
 * medians with the baseline beside each figure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { ROOT } from '../common/paths';
import { listBackups } from '../lib/backups/files';
import { defaultRestoreJobs } from '../lib/backups/restore';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { postgresSettings } from '../stacks/containers/postgres-settings';
import { adminQuery, createDatabase, PG_BIN, startPostgres } from '../tests/helpers/postgres';
import { loadCorpus, stopWords, vocabulary } from './corpus';
import { summary, timeProcess } from './timing';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    memory: { type: 'string', default: '2048' },
    jobs: { type: 'string' },
    against: { type: 'string', multiple: true, default: [] },
    only: { type: 'string' },
  },
});
if (values.only !== undefined && !['backup', 'restore'].includes(values.only)) throw new Error(`--only takes backup or restore, not ${values.only}`);
const TIME_BACKUPS = values.only !== 'restore';
const TIME_RESTORES = values.only !== 'backup';
const DOCS = Number(values.docs);
const ROUNDS = Number(values.rounds);
const MEMORY_MB = Number(values.memory);
const JOBS = values.jobs === undefined ? undefined : Number(values.jobs);
const USERS = Math.max(1, Math.round(DOCS / 100));
const STACK = 'bench';

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

async function scalar<T>(url: string, sql: string): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return Object.values((await client.query(sql)).rows[0])[0] as T;
  } finally {
    await client.end();
  }
}

/** A checkout's commit, and whether its files differ from it. */
function label(checkout: string): string {
  const git = (args: string[]) => spawnSync('git', ['-C', checkout, ...args], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git(['log', '-1', '--format=%h']) || path.basename(checkout);
  return `${commit}${git(['status', '--porcelain', '--untracked-files=no']) === '' ? '' : ' with uncommitted changes'}`;
}

/** A run's short name in the rounds' table: pg_dump, pg_restore, or backup/restore and the checkout's number (0: this one). */
let tag = (name: string): string => name;

/** Turns `xs` left by `n`: round n starts with its n-th element. */
const rotate = <T>(xs: T[], n: number): T[] => xs.map((_, i) => xs[(i + n) % xs.length]);

async function main(): Promise<void> {
  const settings = postgresSettings(MEMORY_MB);
  const checkouts = [ROOT, ...values.against.map((dir) => path.resolve(dir))].map((dir, i) => ({
    dir,
    name: i === 0 ? `this checkout (${label(dir)})` : `${dir} (${label(dir)})`,
    backupDir: '',
  }));
  tag = (name) => {
    const i = checkouts.findIndex((c) => name.endsWith(`: ${c.name}`));
    return i < 0 ? name : `${name.split(':')[0]} ${i}`;
  };
  const samples = new Map<string, number[]>();
  const add = (name: string, ms: number) => samples.set(name, [...(samples.get(name) ?? []), ms]);
  const PLAIN_DUMP = 'pg_dump';
  const PLAIN_RESTORE = 'pg_restore';
  const rounds: { load: string; order: string[]; loads: string[] }[] = [];
  const server = await startPostgres({ fast: false, settings });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-backup-'));
  let dumpBytes = 0;
  let version = '';
  try {
    const url = await createDatabase(server, 'bench_source');
    const client = new Client({ connectionString: url });
    await client.connect();
    await migrate(client, readMigrations());
    await client.end();
    const loading = Date.now();
    await loadCorpus(url, vocabulary(stopWords()), { docs: DOCS, users: USERS, publicShare: 0.1 });
    console.error(`${DOCS} documents loaded and indexed in ${seconds(Date.now() - loading)} s`);
    version = await scalar<string>(url, 'SHOW server_version');
    await adminQuery(server, 'CHECKPOINT');

    const plainFile = path.join(work, 'plain.dump');
    const plainDump = () => timeProcess(path.join(PG_BIN, 'pg_dump'), ['--format=custom', `--file=${plainFile}`, `--dbname=${url}`]);
    const launch = (checkout: string, args: string[], env: Record<string, string>) =>
      timeProcess(process.execPath, [path.join(checkout, 'cli', 'launch.js'), ...args], { cwd: checkout, env: { PG_BIN, ...env } });
    checkouts.forEach((c, i) => (c.backupDir = path.join(work, `backups-${i}`)));
    const backup = (c: (typeof checkouts)[number]) => launch(c.dir, ['backup', '--stack', STACK, '--dir', c.backupDir, '--keep', '1', '--progress', '0'], { DATABASE_URL: url });
    // Unmeasured: warms the caches and builds each checkout's commands (.build/), as a first use after a change does.
    await plainDump();
    for (const c of checkouts) await backup(c);

    for (let r = 0; r < ROUNDS; r++) {
      const round = { load: load(), order: [] as string[], loads: [] as string[] };
      rounds.push(round);
      const timed = async (name: string, run: () => Promise<number>) => {
        round.order.push(tag(name));
        round.loads.push(os.loadavg()[0].toFixed(1));
        add(name, await run());
        await adminQuery(server, 'CHECKPOINT');
      };
      console.error(`round ${r + 1} of ${ROUNDS}, load average ${round.load}`);
      const dumps: [string, () => Promise<number>][] = [[PLAIN_DUMP, plainDump], ...checkouts.map((c): [string, () => Promise<number>] => [`backup: ${c.name}`, () => backup(c)])];
      if (TIME_BACKUPS) for (const [name, run] of rotate(dumps, r)) await timed(name, run);
      else await backup(checkouts[0]);
      if (!TIME_RESTORES) continue;

      // Every restore of the round restores this checkout's backup of it.
      const file = listBackups(checkouts[0].backupDir, STACK)[0].path;
      dumpBytes = fs.statSync(file).size;
      const databases: string[] = [];
      const restores: [string, () => Promise<number>][] = [
        [
          PLAIN_RESTORE,
          async () => {
            const database = `plain_${r}`;
            databases.push(database);
            const started = process.hrtime.bigint();
            // As pg_restore's documentation says to restore into a new database: from template0.
            await adminQuery(server, `CREATE DATABASE "${database}" TEMPLATE template0`);
            await timeProcess(path.join(PG_BIN, 'pg_restore'), [`--dbname=${server.url(database)}`, file]);
            return Number(process.hrtime.bigint() - started) / 1e6;
          },
        ],
        ...checkouts.map((c, i): [string, () => Promise<number>] => [
          `restore: ${c.name}`,
          () => {
            const database = `restored_${r}_${i}`;
            databases.push(database);
            const jobs = i === 0 && JOBS !== undefined ? ['--jobs', String(JOBS)] : [];
            return launch(c.dir, ['restore', '--file', file, '--database', database, ...jobs], { DATABASE_URL: server.url() });
          },
        ]),
      ];
      for (const [name, run] of rotate(restores, r)) await timed(name, run);
      for (const d of databases) {
        const n = Number(await scalar<string>(server.url(d), 'SELECT count(*) FROM documents'));
        if (n !== DOCS) throw new Error(`${d} holds ${n} documents, not ${DOCS}`);
        await adminQuery(server, `DROP DATABASE "${d}" WITH (FORCE)`);
      }
      await adminQuery(server, 'CHECKPOINT');
    }
  } finally {
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  report({ settings, version, dumpBytes, rounds, samples, checkouts: checkouts.map((c) => c.name), PLAIN_DUMP, PLAIN_RESTORE });
}

function report(o: {
  settings: Record<string, string>;
  version: string;
  dumpBytes: number;
  rounds: { load: string; order: string[]; loads: string[] }[];
  samples: Map<string, number[]>;
  checkouts: string[];
  PLAIN_DUMP: string;
  PLAIN_RESTORE: string;
}): void {
  const cpus = os.cpus();
  const pgDump = execFileSync(path.join(PG_BIN, 'pg_dump'), ['--version'], { encoding: 'utf8' }).trim();
  const jobs = JOBS ?? defaultRestoreJobs();
  const jobsText = `${jobs === 1 ? '1 job' : `${jobs} jobs`}${JOBS === undefined ? ', its default here' : ''}`;
  console.log(`${DOCS.toLocaleString('en')} documents (${USERS.toLocaleString('en')} users, 10% public), a dump of ${(o.dumpBytes / 2 ** 20).toFixed(0)} MiB; ${ROUNDS} rounds.`);
  console.log(
    `Machine: ${cpus.length} x ${cpus[0].model} (os.availableParallelism() ${os.availableParallelism()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, ` +
      `node ${process.version}; load average (1, 5, 15 min) at the start of each round: ${o.rounds.map((r) => r.load).join('; ')}; at the end: ${load()}.`,
  );
  console.log(
    `Server: PostgreSQL ${o.version} on this machine, durability on (fsync, synchronous_commit, full_page_writes), the program's settings for ${MEMORY_MB} MiB: ` +
      `${Object.entries(o.settings).map(([k, v]) => `${k}=${v}`).join(', ')}. Client: ${pgDump}. This checkout's db:restore with ${jobsText}.`,
  );
  const rerun = [
    `--docs ${DOCS}`,
    `--rounds ${ROUNDS}`,
    MEMORY_MB === 2048 ? '' : `--memory ${MEMORY_MB}`,
    JOBS === undefined ? '' : `--jobs ${JOBS}`,
    values.only === undefined ? '' : `--only ${values.only}`,
    ...values.against.map((a) => `--against ${a}`),
  ];
  console.log(`Rerun: npm run bench:backup -- ${rerun.filter(Boolean).join(' ')}\n`);

  console.log(`Checkouts: ${o.checkouts.map((c, i) => `${i}: ${c}`).join('; ')}.\n`);
  const names = [...o.samples.keys()];
  console.log(`| round | 1-min load average as each run started, in order | ${names.map((n) => `${tag(n)} s`).join(' | ')} |\n|---|---|${names.map(() => '---:').join('|')}|`);
  o.rounds.forEach((r, i) => {
    const loads = r.order.map((n, k) => `${r.loads[k]} (${n})`);
    console.log(`| ${i + 1} | ${loads.join(', ')} | ${names.map((n) => seconds((o.samples.get(n) as number[])[i])).join(' | ')} |`);
  });
  console.log(
    '\n| command | median s | min s | max s | baseline | baseline median s | min s | max s | ratio of medians | ratio per round, median (min–max) | target |\n' +
      '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|',
  );
  const row = (what: string, ours: number[], baselineName: string, baseline: number[], target: string) => {
    const s = summary(ours);
    const b = summary(baseline);
    const ratios = summary(ours.map((x, i) => x / baseline[i]));
    console.log(
      `| ${what} | ${seconds(s.median)} | ${seconds(s.min)} | ${seconds(s.max)} | ${baselineName} | ${seconds(b.median)} | ${seconds(b.min)} | ${seconds(b.max)} | ` +
        `${(s.median / b.median).toFixed(2)} | ${ratios.median.toFixed(2)} (${ratios.min.toFixed(2)}–${ratios.max.toFixed(2)}) | ${target} |`,
    );
  };
  const dumps = o.samples.get(o.PLAIN_DUMP) as number[];
  const restores = o.samples.get(o.PLAIN_RESTORE) as number[];
  o.checkouts.forEach((c, i) => {
    if (TIME_BACKUPS) row(`${c}: \`node cli/launch.js backup\``, o.samples.get(`backup: ${c}`) as number[], '`pg_dump -Fc --file`', dumps, '≤ 1.10');
    if (TIME_RESTORES) {
      row(`${c}: \`node cli/launch.js restore\`${i === 0 ? ` (${jobsText})` : ''}`, o.samples.get(`restore: ${c}`) as number[], 'CREATE DATABASE + `pg_restore` (1 job)', restores, '≤ 0.70');
    }
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
