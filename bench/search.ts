/**
 * Ranked document search over a large corpus: latency of searchDocuments() as the app calls it.
 *
 *   npm run bench:search [-- --docs 1000000 --users 10000 --public 0.1 --queries 3000 --rounds 3] [--hold] [--profile] [--json FILE]
 *
 * --hold keeps the server running afterwards and prints its URL, for EXPLAIN; Ctrl-C stops it.
 * --url URL runs the queries against that database instead (a held one, loaded with the same
 *   --docs, --users and --public), applying any migration it lacks first: to measure a change of
 *   the search or a new migration without loading the corpus again.
 * --rounds N runs the same query mix N times in a row, the first right after the load and 200
 *   warm-up queries (its pages partly out of PostgreSQL's buffers: the index builds read other
 *   data last), and reports each round and the median of the rounds: issue 16's targets are
 *   medians of several runs. A median row may take its percentiles from different rounds.
 * --profile times each statement of each search as well, and prints, for each round, the
 *   statements the slowest 5% of the queries took (tsquery, title, head, ... as
 *   bench/statements.ts names them) beside how many queries of the whole mix took the same, and
 *   the ten slowest queries with each statement's time: where the tail comes from.
 * --json writes the overall percentiles to FILE, the medians and each round (bench/search-growth.ts
 *   reads them).
 *
 * Builds a throwaway PostgreSQL 15 with the migrated schema and a deterministic corpus, then runs
 * a query mix through searchDocuments() (a user's own plus public documents, top 20) and prints
 * latency percentiles, plus the named worst cases, as a Markdown table.
 *
 * The corpus is bench/corpus.ts's: documents of ~150 words, Zipf-distributed over a 50,000-word
 * vocabulary whose top ranks are PostgreSQL's English stop words (the same every run).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import * as schema from '../schema';
import { searchDocuments } from '../schema/document-search';
import { createDatabase, startPostgres } from '../tests/helpers/postgres';
import { mulberry32 } from '../tests/helpers/random';
import { loadCorpus, stopWords as readStopWords, userId, VOCABULARY, vocabulary, zipfSampler } from './corpus';
import { recordStatements, type SentStatement } from './statements';
import { medianPercentiles, type Percentiles, percentiles } from './timing';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '10000' },
    public: { type: 'string', default: '0.1' },
    queries: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
    hold: { type: 'boolean', default: false },
    json: { type: 'string' },
    profile: { type: 'boolean', default: false },
    url: { type: 'string' },
  },
});
const DOCS = Number(values.docs);
const USERS = Number(values.users);
const PUBLIC_SHARE = Number(values.public);
const QUERIES = Number(values.queries);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds takes a whole number of rounds, 1 or more: ${values.rounds}`);

/** Settings for a server with a few GiB for PostgreSQL; durability is off only to load faster. */
const SETTINGS = {
  shared_buffers: '2GB',
  effective_cache_size: '8GB',
  work_mem: '32MB',
  maintenance_work_mem: '1GB',
  random_page_cost: '1.1',
  max_wal_size: '8GB',
  max_parallel_workers_per_gather: '2',
};


/** One query of the mix as a round ran it: its kind, its searcher's, its time and (--profile) its statements. */
interface Timed {
  shape: string;
  who: string;
  query: string;
  ms: number;
  statements: SentStatement[];
}

/** The statements the slowest 5% of `queries` took, against the whole mix, and the ten slowest. */
function printProfile(name: string, queries: Timed[]): void {
  const path = (q: Timed) => `${q.shape}: ${q.statements.map((s) => s.kind).join(' > ')}`;
  const slowest = [...queries].sort((a, b) => b.ms - a.ms);
  const tail = slowest.slice(0, Math.ceil(queries.length * 0.05));
  const count = (list: Timed[]) => list.reduce((m, q) => m.set(path(q), (m.get(path(q)) ?? 0) + 1), new Map<string, number>());
  const inTail = count(tail);
  const inMix = count(queries);
  console.log(`\n| ${name}: the slowest ${tail.length} queries (from ${tail[tail.length - 1].ms.toFixed(1)} ms), by kind and statements | in them | in the mix |\n|---|---:|---:|`);
  for (const [p, n] of [...inTail].sort((a, b) => b[1] - a[1])) console.log(`| ${p} | ${n} | ${inMix.get(p)} |`);
  console.log(`\n| ${name}: the ten slowest | ms | statements, ms each |\n|---|---:|---|`);
  for (const q of slowest.slice(0, 10)) console.log(`| ${q.shape}: \`${q.query}\` | ${q.ms.toFixed(1)} | ${q.statements.map((s) => `${s.kind} ${s.ms.toFixed(1)}`).join(', ')} |`);
}

async function main(): Promise<void> {
  const stopWords = readStopWords();
  const words = vocabulary(stopWords);
  if (values.url !== undefined && values.hold) throw new Error('--hold keeps the server this script starts; with --url it starts none');
  const server = values.url === undefined ? await startPostgres({ settings: SETTINGS }) : undefined;
  try {
    const url = values.url ?? (await createDatabase(server!, 'search'));
    const client = new Client({ connectionString: url });
    await client.connect();
    const migrating = Date.now();
    await migrate(client, readMigrations());
    const migrateSeconds = (Date.now() - migrating) / 1000;
    const started = Date.now();
    if (server) await loadCorpus(url, words, { docs: DOCS, users: USERS, publicShare: PUBLIC_SHARE });
    else {
      const held = (await client.query<{ docs: string; users: string }>('SELECT (SELECT count(*) FROM documents) AS docs, (SELECT count(*) FROM users) AS users')).rows[0];
      if (Number(held.docs) !== DOCS || Number(held.users) !== USERS) {
        throw new Error(`the database at --url holds ${held.docs} documents and ${held.users} users, not --docs ${DOCS} and --users ${USERS}: pass the sizes it was loaded with`);
      }
    }
    const loadSeconds = (Date.now() - started) / 1000;
    const db = drizzle(client, { schema });

    const random = mulberry32(42);
    // Users search for content words, the common ones more often.
    const contentRank = zipfSampler(VOCABULARY - stopWords.length, random);
    const term = () => words[stopWords.length + contentRank()];
    // A rare word: one of the least common half of the content words, drawn evenly.
    const rare = () => words[VOCABULARY - 1 - Math.floor(random() * ((VOCABULARY - stopWords.length) / 2))];
    const shapes: [string, () => string][] = [
      ['one word', () => term()],
      ['two words', () => `${term()} ${term()}`],
      ['either word', () => `${term()} or ${term()}`],
      ['phrase', () => `"${term()} ${term()}"`],
      ['a word, excluding another', () => `${term()} -${term()}`],
      ['one rare word', () => rare()],
    ];
    // Most searches come from users with documents of their own (DOCS / USERS each); one in five
    // from a user with none (a new user: an id no document has).
    const searcher = (): [string, string] =>
      random() < 0.2 ? ['users with no documents', userId(USERS + Math.floor(random() * USERS))] : [`users with ${Math.round(DOCS / USERS)} documents`, userId(Math.floor(random() * USERS))];
    const recorder = values.profile ? recordStatements(client) : undefined;
    const timed = async (query: string, user: string) => {
      recorder?.take();
      const t0 = process.hrtime.bigint();
      const results = await searchDocuments(db, { userId: user, query });
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, count: results.length, statements: recorder?.take() ?? [] };
    };
    for (let i = 0; i < 200; i++) await timed(shapes[i % shapes.length][1](), userId(Math.floor(random() * USERS)));

    // The mix, drawn once: every round runs the same queries, in the same order.
    const mix = Array.from({ length: QUERIES }, (_, i) => {
      // Half one common word, the other half the other shapes in turn.
      const [shape, make] = shapes[random() < 0.5 ? 0 : 1 + (i % (shapes.length - 1))];
      const [who, user] = searcher();
      return { shape, who, user, query: make() };
    });
    // Each round: every query of the mix with its time (and, under --profile, its statements); the
    // tables below are drawn from these alone.
    const rounds: Timed[][] = [];
    let returned = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const timings: Timed[] = [];
      for (const { shape, who, user, query } of mix) {
        const r = await timed(query, user);
        timings.push({ shape, who, query, ms: r.ms, statements: r.statements });
        if (round === 0) returned += r.count;
      }
      rounds.push(timings);
    }
    const common = words[stopWords.length];
    const second = words[stopWords.length + 1];
    const worst: [string, string][] = [
      ['the most common content word', common],
      ['the two most common, either', `${common} or ${second}`],
      ['the two most common, both', `${common} ${second}`],
      ['a word in no document', 'zzzxqy'],
    ];
    const { rows } = await client.query(`SELECT count(*) FILTER (WHERE is_public) AS public, count(*) AS all FROM documents WHERE search_vector @@ plainto_tsquery('english', $1)`, [common]);

    const cpus = os.cpus();
    console.log(`${DOCS.toLocaleString('en')} documents, ${USERS.toLocaleString('en')} users, ${PUBLIC_SHARE * 100}% public; ${server ? `loaded and indexed in ${loadSeconds.toFixed(0)} s` : `the database at --url (migrated in ${migrateSeconds.toFixed(1)} s)`}`);
    console.log(`${cpus.length} x ${cpus[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; server settings: ${Object.entries(SETTINGS).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    console.log(`"${common}" is in ${rows[0].all} documents (${rows[0].public} public)\n`);
    const line = (name: string, f: Percentiles) => console.log(`| ${name} | ${f.p50.toFixed(1)} | ${f.p95.toFixed(1)} | ${f.p99.toFixed(1)} | ${f.max.toFixed(1)} |`);
    const overall = rounds.map((r) => percentiles(r.map((q) => q.ms)));
    console.log(`| ${QUERIES} queries (half one common word), all | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|`);
    overall.forEach((f, i) => line(`round ${i + 1}${i === 0 ? (server ? ' (right after the load)' : ' (first)') : ''}`, f));
    line(`median of ${ROUNDS} rounds`, medianPercentiles(overall));
    console.log(`\n| by kind, median of ${ROUNDS} rounds | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|`);
    for (const group of ['shape', 'who'] as const) {
      for (const name of new Set(mix.map((q) => q[group]))) {
        line(name, medianPercentiles(rounds.map((r) => percentiles(r.filter((q) => q[group] === name).map((q) => q.ms)))));
      }
    }
    if (values.json) {
      fs.writeFileSync(values.json, JSON.stringify({ docs: DOCS, users: USERS, queries: QUERIES, loadSeconds, ...medianPercentiles(overall), rounds: overall }));
    }
    if (values.profile) rounds.forEach((queries, i) => printProfile(`round ${i + 1}`, queries));
    console.log(`\nmean results per query (round 1): ${(returned / QUERIES).toFixed(1)}\n`);
    console.log('| worst case (a user with no matching documents of their own) | ms, best of 3 | results |\n|---|---|---|');
    for (const [name, query] of worst) {
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await timed(query, userId(USERS - 1)));
      console.log(`| ${name}: \`${query}\` | ${Math.min(...runs.map((r) => r.ms)).toFixed(1)} | ${runs[0].count} |`);
    }
    await client.end();
    if (values.hold && server) {
      console.error(`\nholding the server: psql ${url}  (Ctrl-C stops it)`);
      await new Promise((resolve) => process.once('SIGINT', resolve));
    }
  } finally {
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
