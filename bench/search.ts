/**
 * Ranked document search over a large corpus: latency of searchDocuments() as the app calls it.
 *
 *   npm run bench:search [-- --docs 1000000 --users 10000 --public 0.1 --queries 3000] [--hold] [--json FILE]
 *
 * --hold keeps the server running afterwards and prints its URL, for EXPLAIN; Ctrl-C stops it.
 * --url URL runs the queries against that database instead (a held one, loaded with the same
 *   --docs, --users and --public), applying any migration it lacks first: to measure a change of
 *   the search or a new migration without loading the corpus again.
 * --json writes the overall percentiles to FILE (bench/search-growth.ts reads them).
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

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '10000' },
    public: { type: 'string', default: '0.1' },
    queries: { type: 'string', default: '3000' },
    hold: { type: 'boolean', default: false },
    json: { type: 'string' },
    url: { type: 'string' },
  },
});
const DOCS = Number(values.docs);
const USERS = Number(values.users);
const PUBLIC_SHARE = Number(values.public);
const QUERIES = Number(values.queries);

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


function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
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
    const timed = async (query: string, user: string) => {
      const t0 = process.hrtime.bigint();
      const results = await searchDocuments(db, { userId: user, query });
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, count: results.length };
    };
    for (let i = 0; i < 200; i++) await timed(shapes[i % shapes.length][1](), userId(Math.floor(random() * USERS)));

    const samples: number[] = [];
    const byShape = new Map<string, number[]>();
    const byUser = new Map<string, number[]>();
    let returned = 0;
    for (let i = 0; i < QUERIES; i++) {
      // Half one common word, the other half the other shapes in turn.
      const [shape, make] = shapes[random() < 0.5 ? 0 : 1 + (i % (shapes.length - 1))];
      const [who, user] = searcher();
      const r = await timed(make(), user);
      samples.push(r.ms);
      byShape.set(shape, [...(byShape.get(shape) ?? []), r.ms]);
      byUser.set(who, [...(byUser.get(who) ?? []), r.ms]);
      returned += r.count;
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

    const sorted = [...samples].sort((a, b) => a - b);
    const cpus = os.cpus();
    console.log(`${DOCS.toLocaleString('en')} documents, ${USERS.toLocaleString('en')} users, ${PUBLIC_SHARE * 100}% public; ${server ? `loaded and indexed in ${loadSeconds.toFixed(0)} s` : `the database at --url (migrated in ${migrateSeconds.toFixed(1)} s)`}`);
    console.log(`${cpus.length} x ${cpus[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; server settings: ${Object.entries(SETTINGS).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    console.log(`"${common}" is in ${rows[0].all} documents (${rows[0].public} public)\n`);
    console.log(`| ${QUERIES} queries (half one common word) | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|`);
    const line = (name: string, s: number[]) => {
      const x = [...s].sort((a, b) => a - b);
      console.log(`| ${name} | ${percentile(x, 50).toFixed(1)} | ${percentile(x, 95).toFixed(1)} | ${percentile(x, 99).toFixed(1)} | ${x[x.length - 1].toFixed(1)} |`);
    };
    line('all', sorted);
    for (const [shape, s] of byShape) line(shape, s);
    for (const [who, s] of byUser) line(who, s);
    if (values.json) {
      const figures = (x: number[]) => ({ p50: percentile(x, 50), p95: percentile(x, 95), p99: percentile(x, 99), max: x[x.length - 1] });
      fs.writeFileSync(values.json, JSON.stringify({ docs: DOCS, users: USERS, queries: QUERIES, loadSeconds, ...figures(sorted) }));
    }
    console.log(`\nmean results per query: ${(returned / QUERIES).toFixed(1)}\n`);
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
