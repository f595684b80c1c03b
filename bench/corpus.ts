/**
 * The benchmarks' document corpus (bench/search.ts, bench/backup.ts): deterministic pseudo-English,
 * the same for the same size every run (seeded generators).
 *
 * Documents of ~150 words, ~6-word titles, ~15-word descriptions. Word ranks follow Zipf's law
 * over a 50,000-word vocabulary; the top ranks are PostgreSQL's English stop words, as in real
 * English text, so the most common content word is in about one document in nine. Content words
 * are generated pseudo-words.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { PG_BIN } from '../tests/helpers/postgres';
import { mulberry32 } from '../tests/helpers/random';

export const VOCABULARY = 50_000;
const BATCH = 500;

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'sa', 'tor', 'vi', 'del', 'pra', 'nu', 'ges', 'fo', 'li', 'mar', 'ton', 'bel', 'cru', 'dan', 'shi', 'wex'];

/** PostgreSQL's English stop words, from the server's own share folder. */
export function stopWords(): string[] {
  const shareDir = execFileSync(path.join(PG_BIN, 'pg_config'), ['--sharedir'], { encoding: 'utf8' }).trim();
  return fs.readFileSync(path.join(shareDir, 'tsearch_data', 'english.stop'), 'utf8').split('\n').filter(Boolean);
}

/** The stop words, then generated pseudo-words, VOCABULARY in all, in rank order. */
export function vocabulary(stop: string[]): string[] {
  const words = [...stop];
  const seen = new Set(words);
  const random = mulberry32(7);
  while (words.length < VOCABULARY) {
    const n = 2 + Math.floor(random() * 3);
    let w = '';
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  return words;
}

/** Samples Zipf ranks (s = 1) by binary search over the cumulative distribution. */
export function zipfSampler(n: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) cumulative[r] = sum += 1 / (r + 1);
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export const userId = (n: number): string => `00000000-0000-4000-b000-${n.toString(16).padStart(12, '0')}`;

/**
 * Loads `users` users and `docs` documents (a share `publicShare` of them public, 2% soft-deleted)
 * into a migrated database, then builds the documents' secondary indexes and runs VACUUM ANALYZE
 * and a CHECKPOINT.
 * With `keepIndexes`, the documents go into the table with its indexes as they are, each insert
 * updating them, as the app's writes do. Resolves with the milliseconds the inserts took.
 */
export async function loadCorpus(url: string, words: string[], o: { docs: number; users: number; publicShare: number; keepIndexes?: boolean }): Promise<number> {
  const setup = new Client({ connectionString: url });
  await setup.connect();
  // Load without the secondary indexes of documents and rebuild them after: much faster.
  const indexes = o.keepIndexes
    ? []
    : (
        await setup.query<{ name: string; def: string }>(
          `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'documents' AND indexname <> 'documents_pkey'`,
        )
      ).rows;
  for (const i of indexes) await setup.query(`DROP INDEX "${i.name}"`);
  await setup.query(
    `INSERT INTO users (id, email, name) SELECT ('00000000-0000-4000-b000-' || lpad(to_hex(g), 12, '0'))::uuid, 'user' || g || '@example.com', 'User ' || g FROM generate_series(0, $1 - 1) g`,
    [o.users],
  );
  const loaders = 2;
  const inserting = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: loaders }, async (_unused, worker) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      const random = mulberry32(1000 + worker);
      const rank = zipfSampler(VOCABULARY, random);
      const text = (n: number) => Array.from({ length: n }, () => words[rank()]).join(' ');
      for (let start = worker * BATCH; start < o.docs; start += loaders * BATCH) {
        const count = Math.min(BATCH, o.docs - start);
        const rows: unknown[][] = [[], [], [], [], [], []];
        for (let i = 0; i < count; i++) {
          const n = start + i;
          rows[0].push(userId(n % o.users));
          rows[1].push(text(4 + Math.floor(random() * 5)));
          rows[2].push(text(10 + Math.floor(random() * 10)));
          rows[3].push(text(120 + Math.floor(random() * 60)));
          rows[4].push(random() < o.publicShare);
          rows[5].push(random() < 0.02 ? new Date() : null);
        }
        await client.query(
          `INSERT INTO documents (user_id, title, description, content, is_public, deleted_at, status)
           SELECT *, 'READY' FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::timestamptz[])`,
          rows,
        );
      }
      await client.end();
    }),
  );
  const insertMs = Number(process.hrtime.bigint() - inserting) / 1e6;
  // Two at a time, the largest first.
  const queue = [...indexes].sort((a, b) => Number(/gin/.test(b.def)) - Number(/gin/.test(a.def)));
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      const client = new Client({ connectionString: url });
      await client.connect();
      for (let i = queue.shift(); i; i = queue.shift()) await client.query(i.def);
      await client.end();
    }),
  );
  await setup.query('VACUUM ANALYZE');
  // Write the load's dirty pages out now, so that the first measurements after it do not run
  // beside checkpoints writing them: at 1M documents the server's log showed one of 135,662
  // buffers (1 GiB, over 270 s) that ended 20 s after the load, and one of 72,349 five minutes on.
  await setup.query('CHECKPOINT');
  await setup.end();
  return insertMs;
}
