/**
 * What each index of `documents` costs to keep, and whether a query of this repository reads it.
 *
 *   npm run bench:ingest [-- --docs 200000]
 *
 * A throwaway PostgreSQL 15 with durability on and the program's settings for 2048 MiB, and two
 * migrated databases loaded with bench/corpus.ts's documents (one user per 100, 10% public),
 * inserted with the table's indexes in place, each insert updating them, as the app's writes do:
 *   1. with every index the schema has;
 *   2. with only the indexes the queries read: the secondary indexes of `documents` that no plan of
 *      the first database's queries read are dropped before the load.
 * The queries are searchDocuments (the query kinds of bench/search.ts, for a user with documents and
 * one without) and findDocumentsByTitle, run with EXPLAIN ANALYZE on the first database: an index
 * counts as read when a plan node that ran reads it. Then, on the first database, each secondary
 * index of `documents` is dropped and built again on the loaded table, timed, with its size.
 * Prints the machine, both loads in documents per second, and a Markdown table per index.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { migrate } from '../lib/migrations/runner';
import * as schema from '../schema';
import { documentTitleQuery, explainDocumentSearch } from '../schema/document-search';
import { postgresSettings } from '../stacks/containers/postgres-settings';
import { createDatabase, startPostgres } from '../tests/helpers/postgres';
import { loadCorpus, stopWords, userId, VOCABULARY, vocabulary } from './corpus';

const { values } = parseArgs({ options: { docs: { type: 'string', default: '200000' }, memory: { type: 'string', default: '2048' } } });
const DOCS = Number(values.docs);
const USERS = Math.max(1, Math.round(DOCS / 100));
const MEMORY_MB = Number(values.memory);

async function connected(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

/** The secondary indexes of documents: those behind no constraint (the primary key stays). */
async function secondaryIndexes(client: Client): Promise<{ name: string; def: string }[]> {
  const { rows } = await client.query<{ name: string; def: string }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'public.documents'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY c.relname`,
  );
  return rows;
}

/** The indexes each plan node that ran read, by index name, with the queries that read them. */
async function indexesRead(client: Client, words: string[], stop: string[]): Promise<{ read: Map<string, Set<string>>; queryNames: string[] }> {
  const db = drizzle(client, { schema });
  const common = words[stop.length];
  const second = words[stop.length + 1];
  const rare = words[VOCABULARY - 1];
  const withDocuments = userId(0);
  const without = userId(USERS + 1);
  // Each query's plans: every statement searchDocuments runs for it, or findDocumentsByTitle's one.
  const queries: [string, () => Promise<unknown[]>][] = [];
  for (const [kind, text] of [
    ['one common word', common],
    ['one rare word', rare],
    ['two words', `${common} ${second}`],
    ['either word', `${common} or ${second}`],
    ['a phrase', `"${common} ${second}"`],
    ['a word, excluding another', `${common} -${second}`],
  ]) {
    for (const [who, user] of [
      ['a user with documents', withDocuments],
      ['a user with none', without],
    ]) {
      queries.push([`searchDocuments: ${kind}, ${who}`, async () => (await explainDocumentSearch(db, { userId: user, query: text })).map((step) => step.plan)]);
    }
  }
  queries.push([
    'findDocumentsByTitle',
    async () => {
      const { sql, params } = documentTitleQuery(db, { userId: withDocuments, query: common.slice(0, -1) }).toSQL();
      return [(await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params)).rows[0]['QUERY PLAN']];
    },
  ]);
  const read = new Map<string, Set<string>>();
  for (const [name, plans] of queries) {
    const walk = (node: Record<string, unknown>) => {
      const index = node['Index Name'];
      if (typeof index === 'string' && Number(node['Actual Loops']) > 0) read.set(index, (read.get(index) ?? new Set()).add(name));
      for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    for (const plan of await plans()) walk((plan as { Plan: Record<string, unknown> }[])[0].Plan);
  }
  return { read, queryNames: queries.map(([name]) => name) };
}

async function main(): Promise<void> {
  const settings = postgresSettings(MEMORY_MB);
  const server = await startPostgres({ fast: false, settings });
  const stop = stopWords();
  const words = vocabulary(stop);
  try {
    const everyUrl = await createDatabase(server, 'every_index');
    const every = await connected(everyUrl);
    await migrate(every, readMigrations());
    console.error(`loading ${DOCS} documents with every index...`);
    const everyMs = await loadCorpus(everyUrl, words, { docs: DOCS, users: USERS, publicShare: 0.1, keepIndexes: true });
    const { read, queryNames } = await indexesRead(every, words, stop);
    const all = await secondaryIndexes(every);
    const unread = all.filter((i) => !read.has(i.name));

    const someUrl = await createDatabase(server, 'read_indexes');
    const some = await connected(someUrl);
    await migrate(some, readMigrations());
    for (const i of unread) await some.query(`DROP INDEX "${i.name}"`);
    await some.query('CHECKPOINT');
    console.error(`loading ${DOCS} documents with only the indexes the queries read...`);
    const someMs = await loadCorpus(someUrl, words, { docs: DOCS, users: USERS, publicShare: 0.1, keepIndexes: true });
    await some.end();

    const rows: { name: string; mib: number; buildMs: number; readBy: string[] }[] = [];
    for (const i of all) {
      const { rows: size } = await every.query<{ bytes: string }>(`SELECT pg_relation_size($1::regclass) AS bytes`, [`public."${i.name}"`]);
      await every.query(`DROP INDEX "${i.name}"`);
      await every.query('CHECKPOINT');
      const started = process.hrtime.bigint();
      await every.query(i.def);
      rows.push({ name: i.name, mib: Number(size[0].bytes) / 2 ** 20, buildMs: Number(process.hrtime.bigint() - started) / 1e6, readBy: [...(read.get(i.name) ?? [])] });
    }
    const { rows: table } = await every.query<{ heap: string; version: string }>(`SELECT pg_relation_size('documents') AS heap, version() AS version`);
    await every.end();

    const cpus = os.cpus();
    const perSecond = (ms: number) => Math.round(DOCS / (ms / 1000)).toLocaleString('en');
    console.log(`${DOCS.toLocaleString('en')} documents of about 150 words, ${USERS.toLocaleString('en')} users, 10% public; the documents table ${(Number(table[0].heap) / 2 ** 20).toFixed(0)} MiB without its indexes.`);
    console.log(`${cpus.length} x ${cpus[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${table[0].version.split(' on ')[0]}, durability on, the program's settings for ${MEMORY_MB} MiB.`);
    console.log(`Rerun: npm run bench:ingest -- --docs ${DOCS}\n`);
    console.log('| load (two sessions inserting 500 documents a statement) | s | documents per second |\n|---|---:|---:|');
    console.log(`| every index (${all.length} secondary on documents) | ${(everyMs / 1000).toFixed(1)} | ${perSecond(everyMs)} |`);
    console.log(`| only the ${all.length - unread.length} the queries read | ${(someMs / 1000).toFixed(1)} | ${perSecond(someMs)} |\n`);
    console.log('| index on documents | size MiB | build on the loaded table s | read by |\n|---|---:|---:|---|');
    // "searchDocuments (6 of 12 plans)": of each function's plans, how many read the index.
    const fn = (query: string) => query.split(':')[0];
    const readBy = (names: string[]) =>
      names.length === 0
        ? '**no query here**'
        : [...new Set(names.map(fn))].map((f) => `${f} (${names.filter((q) => fn(q) === f).length} of ${queryNames.filter((q) => fn(q) === f).length} plans)`).join(', ');
    for (const r of rows) console.log(`| ${r.name} | ${r.mib.toFixed(1)} | ${(r.buildMs / 1000).toFixed(1)} | ${readBy(r.readBy)} |`);
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
