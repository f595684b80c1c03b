/**
 * Queries per second through client/database.ts, via PgBouncer and direct.
 *
 *   npm run bench:pool [-- --seconds 3 --rounds 3 --concurrency 1,4,16,64 --pool 10]
 *
 * Starts a throwaway PostgreSQL 15 (durability on) with the settings the dev stack derives, makes
 * the stack's database and roles (namespaced, as on a shared server) with their grants, migrates
 * it as the migrator, writes 1,000 documents, and starts Debian's PgBouncer with the dev stack's
 * pgbouncer.ini and user list (tests/helpers/pgbouncer.ts: transaction pooling, SCRAM pass-through).
 * Then, at each concurrency (that many loops issuing one query after another), for `--seconds` a
 * cell, `--rounds` rounds with the paths alternating so that the machine's slow moments fall on
 * all of them alike, it counts the completed primary-key reads of a random document (Drizzle's
 * select by id) on each path:
 *   - the module, pooled: connectDatabase() on DATABASE_URL, through PgBouncer;
 *   - the same, each read in db.transaction() (BEGIN, the module's SET LOCAL statement_timeout, the read, COMMIT);
 *   - the module, direct: connectDatabase({ connection: 'direct' }) on DIRECT_DATABASE_URL, the same pool size;
 *   - a new connection per query, direct: pg's Client, connect, the same SQL, end.
 * Prints the machine, the settings and a Markdown table of queries per second, median (min–max).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { Client } from 'pg';
import { connectDatabase, type Database } from '../client/database';
import { APP_ENV, DATABASE_NAME } from '../common/names';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import { connect, parseDatabaseUrl } from '../lib/postgres/connection';
import { documents, users } from '../schema';
import { postgresSettings } from '../stacks/containers/postgres-settings';
import { pgbouncerSettingsOf } from '../stacks/containers/pgbouncer-settings';
import { scramSha256Secret } from '../stacks/scram';
import { PGBOUNCER_BIN, startPgbouncer } from '../tests/helpers/pgbouncer';
import { adminQuery, PG_BIN, startPostgres } from '../tests/helpers/postgres';
import { committedStackConfig } from '../tests/helpers/stack-files';
import { createStackRoles } from '../tests/helpers/stack-roles';
import { summary } from './timing';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,4,16,64' },
    pool: { type: 'string', default: '10' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const LEVELS = values.concurrency.split(',').map(Number);
const POOL = Number(values.pool);
const DOCUMENTS = 1000;

/** Queries completed per second by `concurrency` loops each running `query` back to back for SECONDS. */
async function throughput(query: () => Promise<unknown>, concurrency: number): Promise<number> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  const started = process.hrtime.bigint();
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (process.hrtime.bigint() < deadline) {
        await query();
        done++;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function main(): Promise<void> {
  const dev = committedStackConfig('dev');
  const tuned = postgresSettings(dev.postgresMemoryMb);
  const server = await startPostgres({ fast: false, settings: tuned });
  const opened: Database[] = [];
  let stopBouncer: () => Promise<void> = async () => undefined;
  try {
    await adminQuery(server, `CREATE DATABASE ${DATABASE_NAME} TEMPLATE template0 ENCODING 'UTF8'`);
    const adminUrl = server.url(DATABASE_NAME);
    const stack = await createStackRoles(adminUrl, `bench_${process.pid}`);
    const secret = scramSha256Secret(stack.password, randomBytes(16).toString('base64'));
    await adminQuery(server, `ALTER ROLE "${stack.roles.app}" PASSWORD '${secret}'`);
    const migrator = await connect(parseDatabaseUrl(stack.urlAs(adminUrl, 'migrator')), 'db:migrate');
    try {
      await migrate(migrator, readMigrations());
    } finally {
      await migrator.end();
    }
    const bouncer = await startPgbouncer(
      {
        postgres: server,
        logins: [{ user: stack.roles.app, scramSecret: secret }],
        settings: pgbouncerSettingsOf(dev),
      },
      { user: stack.roles.app, password: stack.password },
    );
    stopBouncer = () => bouncer.stop();
    const directUrl = stack.urlAs(adminUrl, 'app');
    const env = { [APP_ENV.databaseUrl]: bouncer.url(stack.roles.app, stack.password), [APP_ENV.directDatabaseUrl]: directUrl };
    const pooled = await connectDatabase({ env, applicationName: 'bench-pool', poolSize: POOL });
    const direct = await connectDatabase({ env, connection: 'direct', applicationName: 'bench-pool', poolSize: POOL });
    opened.push(pooled, direct);

    const [user] = await pooled.db.insert(users).values({ email: 'bench@example.com', name: 'Bench' }).returning({ id: users.id });
    const ids = (
      await pooled.db
        .insert(documents)
        .values(Array.from({ length: DOCUMENTS }, (_, i) => ({ userId: user.id, title: `Document ${i}`, content: `Content of document ${i}.` })))
        .returning({ id: documents.id })
    ).map((d) => d.id);
    await direct.db.execute(sql`ANALYZE documents`).catch(() => undefined);
    const anyId = () => ids[Math.floor(Math.random() * ids.length)];
    const read = (database: Database) => () => database.db.select({ id: documents.id, title: documents.title }).from(documents).where(eq(documents.id, anyId()));
    const inTransaction = (database: Database) => () =>
      database.db.transaction((tx) => tx.select({ id: documents.id, title: documents.title }).from(documents).where(eq(documents.id, anyId())));
    // The same SQL as the module's read, on a connection of its own each time.
    const { sql: text } = read(direct)().toSQL();
    const connectionPerQuery = async () => {
      const client = new Client({ connectionString: directUrl, application_name: 'bench-pool' });
      await client.connect();
      try {
        await client.query(text, [anyId()]);
      } finally {
        await client.end();
      }
    };
    const paths: [string, () => Promise<unknown>][] = [
      [`module, pooled: DATABASE_URL through PgBouncer (pool of ${POOL}, PgBouncer's of ${dev.pgbouncerPoolSize})`, read(pooled)],
      ['module, pooled, each read in db.transaction() (BEGIN, SET LOCAL, read, COMMIT)', inTransaction(pooled)],
      [`module, direct: DIRECT_DATABASE_URL (pool of ${POOL})`, read(direct)],
      ['a new connection per query, direct (pg Client: connect, read, end)', connectionPerQuery],
    ];
    // Warm both pools and PgBouncer's server connections, and the plans.
    for (const [, query] of paths) await throughput(query, Math.max(...LEVELS));

    const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
    const results = paths.map(() => LEVELS.map(() => [] as number[]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [l, level] of LEVELS.entries()) {
        for (const [p, [, query]] of paths.entries()) results[p][l].push(await throughput(query, level));
      }
    }

    const cpus = os.cpus();
    const postgresVersion = (await run(path.join(PG_BIN, 'postgres'), ['--version'])).stdout.trim();
    const bouncerVersion = (await run(PGBOUNCER_BIN, ['--version'])).stdout.split('\n')[0].trim();
    console.log(`Machine: ${cpus.length} x ${cpus[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; load average ${load} at the start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
    console.log(`${postgresVersion} (durability on, the dev stack's settings for ${dev.postgresMemoryMb} MiB); ${bouncerVersion} with the dev stack's pgbouncer.ini (pool_mode transaction, pool of ${dev.pgbouncerPoolSize})`);
    console.log(`Command: npm run bench:pool -- --seconds ${SECONDS} --rounds ${ROUNDS} --concurrency ${LEVELS.join(',')} --pool ${POOL}`);
    console.log(`Each cell: ${SECONDS} s of back-to-back primary-key reads of a random document of ${DOCUMENTS}; ${ROUNDS} rounds, paths alternating.\n`);
    console.log(`| path | ${LEVELS.map((l) => `${l} at once`).join(' | ')} |`);
    console.log(`|---|${LEVELS.map(() => '---').join('|')}|`);
    for (const [p, [name]] of paths.entries()) {
      const cells = results[p].map((samples) => {
        const s = summary(samples);
        return `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
      });
      console.log(`| ${name} | ${cells.join(' | ')} |`);
    }
  } finally {
    await Promise.all(opened.map((d) => d.close()));
    await stopBouncer();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
