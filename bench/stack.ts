/**
 * What the Pulumi program costs to evaluate, and what its PostgreSQL settings and PgBouncer buy.
 *
 *   npm run bench:stack [-- --runs 5 --seconds 30 --clients 8 --scale 20 --rounds 3]
 *
 * 1. Each committed stack's program, loaded as `pulumi up` loads it (the SDK's own loader: ts-node
 *    with type checking) under Pulumi's mocks, as a separate process: wall time and the number of
 *    resources declared; and the same with PULUMI_NODEJS_TRANSPILE_ONLY=true (no type check).
 * 2. pgbench on a real PostgreSQL 15 (durability on) at the dev stack's memory size: the settings
 *    the program derives (stacks/containers/postgres-settings.ts) against PostgreSQL's defaults. TPC-B-like
 *    read/write and select-only, `--clients` clients for `--seconds` a run, `--rounds` rounds
 *    alternating between the two servers.
 * 3. A new connection per transaction (`pgbench -C`, select-only), direct against through PgBouncer
 *    with the pgbouncer.ini the program generates (transaction pooling, SCRAM pass-through).
 * The container memory limit itself is not enforced here (no Docker): only the settings differ.
 * Prints Markdown tables.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Client } from 'pg';
import { pgbouncerIni, pgbouncerSettingsOf, pgbouncerUserlist } from '../stacks/containers/pgbouncer-settings';
import { postgresSettings } from '../stacks/containers/postgres-settings';
import { scramSha256Secret } from '../stacks/scram';
import { PGBOUNCER, POSTGRES } from '../stacks/services';
import { DATABASE_NAME } from '../common/names';
import { freePort, PG_BIN, startPostgres, type PostgresServer } from '../tests/helpers/postgres';
import { committedStackConfig, programConfig, ROOT, stackEnv, STACKS } from '../tests/helpers/stack-files';
import { TwinHost } from '../tests/helpers/twin';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '30' },
    clients: { type: 'string', default: '8' },
    scale: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
  },
});
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const SCALE = Number(values.scale);
const ROUNDS = Number(values.rounds);

const spread = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function evaluateStack(stack: string, transpileOnly: boolean): Promise<{ ms: number; resources: number }> {
  const started = process.hrtime.bigint();
  // The configuration the Pulumi CLI hands the program after README's set-up of the stack.
  const env = { ...process.env, ...stackEnv(stack), ...programConfig(stack), PULUMI_NODEJS_TRANSPILE_ONLY: String(transpileOnly) };
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'tests/helpers/run-with-pulumi-loader.js'), ROOT, stack], { cwd: ROOT, env });
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, resources: (JSON.parse(stdout) as { types: string[] }).types.length };
}

/** pgbench's "tps = ..." line (PostgreSQL 15 prints one, without initial connection time). */
async function pgbench(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout } = await run(path.join(PG_BIN, 'pgbench'), args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  const tps = /tps = ([\d.]+)/.exec(stdout);
  if (!tps) throw new Error(`no tps in pgbench output:\n${stdout}`);
  return Number(tps[1]);
}

async function prepare(server: PostgresServer): Promise<{ url: URL; password: string }> {
  const admin = new Client({ connectionString: server.url() });
  await admin.connect();
  const password = randomBytes(16).toString('hex');
  const secret = scramSha256Secret(password, randomBytes(16).toString('base64'));
  try {
    await admin.query(`CREATE ROLE bench LOGIN PASSWORD '${secret}'`);
    await admin.query(`CREATE DATABASE ${DATABASE_NAME} OWNER bench`);
  } finally {
    await admin.end();
  }
  const url = new URL(server.url(DATABASE_NAME));
  url.username = 'bench';
  url.password = '';
  await run(path.join(PG_BIN, 'pgbench'), ['-i', '-q', '-s', String(SCALE), url.toString()], { env: { ...process.env, PGPASSWORD: password } });
  return { url, password };
}

/** The SCRAM secret PostgreSQL stores for a role: what the program puts in PgBouncer's auth_file. */
async function storedSecret(server: PostgresServer, role: string): Promise<string> {
  const c = new Client({ connectionString: server.url() });
  await c.connect();
  try {
    return (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0].rolpassword;
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`);
  console.log((await run(path.join(PG_BIN, 'postgres'), ['--version'])).stdout.trim());

  console.log(`\n## Program evaluation under mocks (${RUNS} runs each, through the SDK's loader)\n`);
  console.log('| stack | resources | median ms (type check) | median ms (transpile only) |');
  console.log('|---|---|---|---|');
  for (const stack of STACKS) {
    const checked: number[] = [];
    const transpiled: number[] = [];
    let resources = 0;
    for (let i = 0; i < RUNS; i++) {
      const a = await evaluateStack(stack, false);
      const b = await evaluateStack(stack, true);
      checked.push(a.ms);
      transpiled.push(b.ms);
      resources = a.resources;
    }
    console.log(`| ${stack} | ${resources} | ${median(checked).toFixed(0)} | ${median(transpiled).toFixed(0)} |`);
  }

  const dev = committedStackConfig('dev');
  const tuned = postgresSettings(dev.postgresMemoryMb);
  const tpcb = ['-c', String(CLIENTS), '-j', String(Math.min(CLIENTS, os.cpus().length)), '-T', String(SECONDS), '-n'];
  console.log(
    `\n## pgbench at the dev memory size (${dev.postgresMemoryMb} MiB), scale ${SCALE}, ${CLIENTS} clients, ${SECONDS} s a run, ` +
      `${ROUNDS} rounds alternating the two servers\n`,
  );
  console.log('| settings | TPC-B-like tps, median (min–max) | select-only tps, median (min–max) |');
  console.log('|---|---|---|');
  // Both servers run at once (one at a time under load), so disk and CPU noise hits both alike.
  const servers = [
    { name: 'PostgreSQL defaults', server: await startPostgres({ fast: false, settings: { max_connections: tuned.max_connections } }) },
    { name: 'derived (stacks/containers/postgres-settings.ts)', server: await startPostgres({ fast: false, settings: tuned }) },
  ];
  try {
    const prepared = await Promise.all(servers.map((s) => prepare(s.server)));
    const results = servers.map(() => ({ rw: [] as number[], ro: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, { url, password }] of prepared.entries()) {
        results[i].rw.push(await pgbench([...tpcb, url.toString()], { PGPASSWORD: password }));
        results[i].ro.push(await pgbench([...tpcb, '-S', url.toString()], { PGPASSWORD: password }));
      }
    }
    for (const [i, { name }] of servers.entries()) console.log(`| ${name} | ${spread(results[i].rw)} | ${spread(results[i].ro)} |`);
  } finally {
    await Promise.all(servers.map((s) => s.server.stop()));
  }

  console.log(`\n## A new connection per transaction (pgbench -C -S), ${CLIENTS} clients, ${SECONDS} s a run, ${ROUNDS} rounds\n`);
  console.log('| path | tps, median (min–max) |');
  console.log('|---|---|');
  const server = await startPostgres({ fast: false, settings: tuned });
  const host = await new TwinHost().init();
  try {
    const { url, password } = await prepare(server);
    const env = { PGPASSWORD: password };
    const bouncerPort = await freePort();
    host.mapAlias(POSTGRES.alias);
    host.mapPort(POSTGRES.port, server.port);
    host.mapPort(PGBOUNCER.port, bouncerPort);
    host.mapListenAll();
    const authFile = host.mapPath(PGBOUNCER.authFile);
    fs.writeFileSync(authFile, pgbouncerUserlist([{ user: 'bench', scramSecret: await storedSecret(server, 'bench') }]));
    const ini = host.local(PGBOUNCER.configFile);
    fs.writeFileSync(ini, host.translate(pgbouncerIni(pgbouncerSettingsOf(dev))));
    host.chownTree(authFile);
    host.chownTree(ini);
    const bouncer = host.start('pgbouncer', 'pgbouncer', [ini]);
    await host.healthy(['CMD', 'pg_isready', '--host=127.0.0.1', `--port=${bouncerPort}`, `--dbname=${DATABASE_NAME}`], bouncer);
    const pooled = new URL(url);
    pooled.port = String(bouncerPort);
    const runs = { direct: [] as number[], bouncer: [] as number[], persistent: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.direct.push(await pgbench([...tpcb, '-S', '-C', url.toString()], env));
      runs.bouncer.push(await pgbench([...tpcb, '-S', '-C', pooled.toString()], env));
      runs.persistent.push(await pgbench([...tpcb, '-S', url.toString()], env));
    }
    console.log(`| direct to PostgreSQL | ${spread(runs.direct)} |`);
    console.log(`| through PgBouncer (pool of ${dev.pgbouncerPoolSize}) | ${spread(runs.bouncer)} |`);
    console.log(`| for reference: direct, connections kept open | ${spread(runs.persistent)} |`);
  } finally {
    await host.stop();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
