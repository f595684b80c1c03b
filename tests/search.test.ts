import { type DocumentSearchOptions, documentSearchSql, documentTitleQuery, explainDocumentSearch, findDocumentsByTitle, oneWordTitleSql, phrasePairs, searchDocuments, searchPasses } from '../schema/document-search';
import { demoId } from '../schema/seeds/demo';
import { freshDatabase, type TestDatabase } from './helpers/db';

const ALICE = demoId(1);
const BOB = demoId(2);
const doc = (n: number) => demoId(1000 + n);

let t: TestDatabase;
beforeAll(async () => {
  t = await freshDatabase({ migrated: true });
  const q = (sql: string, params: unknown[] = []) => t.client.query(sql, params);
  await q(`INSERT INTO users (id, email, name) VALUES ($1, 'alice@example.com', 'Alice'), ($2, 'bob@example.com', 'Bob')`, [ALICE, BOB]);
  const insert = (id: string, user: string, title: string, description: string | null, content: string, isPublic = false, deleted = false) =>
    q(`INSERT INTO documents (id, user_id, title, description, content, is_public, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
      id, user, title, description, content, isPublic, deleted ? new Date() : null,
    ]);
  await insert(doc(1), ALICE, 'Vowel drills for beginners', null, 'Practise these every morning before work.');
  await insert(doc(2), ALICE, 'Morning routine', null, 'A long text about many things, among them one vowel exercise near the end.');
  await insert(doc(3), ALICE, 'Intonation notes', 'How the vowel changes in questions', 'Rising and falling patterns.');
  await insert(doc(4), BOB, "Bob's private vowel notes", null, 'Private to Bob.');
  await insert(doc(5), BOB, 'Public vowel chart', null, 'Everyone may read this.', true);
  await insert(doc(6), ALICE, 'Deleted vowel lesson', null, 'Soft-deleted.', false, true);
  await insert(doc(7), ALICE, 'Minimal pairs', null, 'ship and sheep, bit and beat, sit and seat; not coffee');
  await insert(doc(8), ALICE, 'Pronunciation basics', null, 'Stress, rhythm and sounds.');
  // Older than every public document below: more than a page of matches, all outside the window
  // of newest public documents that a search for one word with exclusions reads first.
  await q(`INSERT INTO documents (user_id, title, content, is_public) SELECT $1, 'Old ' || g, 'gooseberry', true FROM generate_series(1, 40) g`, [BOB]);
  // Enough unrelated documents that the planner prefers an index to a scan, as it would in production.
  await q(`INSERT INTO documents (user_id, title, content, is_public)
           SELECT $1, 'Filler ' || g, repeat('lorem ipsum dolor sit amet ', 20) || g, g % 3 = 0 FROM generate_series(1, 5000) g`, [BOB]);
  // Public documents by others where "rhythm" is in the title of some, the description of some and
  // the content of many, so that search can decide on titles and descriptions alone, or cannot.
  await q(`INSERT INTO documents (user_id, title, description, content, is_public)
           SELECT $1,
                  CASE WHEN g % 10 = 0 THEN 'Rhythm drill ' || g ELSE 'Practice ' || g END,
                  CASE WHEN g % 7 = 0 THEN 'stress and rhythm' ELSE 'notes' END,
                  repeat('rhythm lorem ', (g % 5) + 1) || 'tempo' || (g % 13), true
             FROM generate_series(1, 600) g`, [BOB]);
  // Both words of an AND query in the title, once: ts_rank's AND formula rewards the content-only
  // documents above, where the two words stand side by side many times, more.
  await q(`INSERT INTO documents (user_id, title, content, is_public)
           SELECT $1, 'Rhythm lorem primer ' || g, 'short', true FROM generate_series(1, 30) g`, [BOB]);
  // Counterexamples an earlier first pass got wrong. The newest document, X, ranks first, but
  // its title and description do not match the query the way the other twenty's do.
  const newest = "now() + interval '1 hour'";
  await q(`INSERT INTO documents (user_id, title, content, is_public) SELECT $1, 'Quince ' || g, 'x', true FROM generate_series(1, 20) g`, [BOB]);
  await q(`INSERT INTO documents (user_id, title, content, is_public, created_at) VALUES ($1, 'Kumquat', 'quince', true, ${newest})`, [BOB]);
  await q(`INSERT INTO documents (user_id, title, description, content, is_public) SELECT $1, 'Pear ' || g, 'loquat', 'x', true FROM generate_series(1, 20) g`, [BOB]);
  await q(`INSERT INTO documents (user_id, title, description, content, is_public, created_at) VALUES ($1, 'Notes <b', 'loquat> tips', 'x', true, ${newest})`, [BOB]);
  // One of two words in the title ranks 0.30; both words, three times each in the description, 0.33:
  // on the page of "alpha or beta", which the either pass finds among the documents with both words
  // in their title or description.
  await q(`INSERT INTO documents (user_id, title, content, is_public) SELECT $1, 'Alpha ' || g, 'x', true FROM generate_series(1, 20) g`, [BOB]);
  await q(`INSERT INTO documents (user_id, title, description, content, is_public) VALUES ($1, 'Other', 'alpha beta alpha beta alpha beta', 'x', true)`, [BOB]);
  // For "gamma or delta": ten titles with one word (0.30 each), ten descriptions with both (0.24),
  // and one document with "gamma" three times in its description and "delta" only in its content
  // (0.25): on the page, though neither of its words is in its title nor both in its head.
  await q(`INSERT INTO documents (user_id, title, content, is_public) SELECT $1, 'Gamma ' || g, 'x', true FROM generate_series(1, 10) g`, [BOB]);
  await q(`INSERT INTO documents (user_id, title, description, content, is_public) SELECT $1, 'Plain ' || g, 'gamma delta', 'x', true FROM generate_series(1, 10) g`, [BOB]);
  await q(`INSERT INTO documents (user_id, title, description, content, is_public) VALUES ($1, 'Mixed', 'gamma gamma gamma', 'delta delta delta', true)`, [BOB]);
  // Newest of all, and an empty search_vector (stop words only): it ranks 0 for two exclusions
  // (tsrank.c, calc_rank: an empty vector scores 0 before any formula), below every other match's
  // 1e-20, but alike for one exclusion (0 for every match).
  await q(`INSERT INTO documents (user_id, title, content, is_public, created_at) VALUES ($1, 'The', 'the', true, now() + interval '2 hours')`, [BOB]);
  // Newest, and fewer than a page: the window cannot decide "gooseberry -x".
  await q(`INSERT INTO documents (user_id, title, content, is_public) SELECT $1, 'New ' || g, 'gooseberry', true FROM generate_series(1, 10) g`, [BOB]);
  await q('ANALYZE documents');
});
afterAll(() => t.close());

/** The plan for a query as the app builds it, as JSON text. */
async function planOf(query: { toSQL(): { sql: string; params: unknown[] } }): Promise<string> {
  const { sql, params } = query.toSQL();
  const { rows } = await t.client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
  return JSON.stringify(rows[0]['QUERY PLAN']);
}

/** The definition of the search, the slow way: rank every visible match. */
async function reference(userId: string, query: string, limit = 20) {
  const { rows } = await t.client.query(
    `SELECT id, ts_rank(search_vector, q) AS rank FROM documents, websearch_to_tsquery('english', $2) q
      WHERE (user_id = $1 OR is_public) AND deleted_at IS NULL AND search_vector @@ q
      ORDER BY rank DESC, created_at DESC, id LIMIT $3`,
    [userId, query, limit],
  );
  return rows.map((r) => ({ id: r.id as string, rank: Number(r.rank) }));
}

/** What searchDocuments returns, as reference() gives it: ids and ranks, in order. */
async function idsAndRanks(options: DocumentSearchOptions) {
  return (await searchDocuments(t.db, options)).map((r) => ({ id: r.id, rank: r.rank }));
}

type PlanNode = Record<string, unknown>;
const children = (node: PlanNode) => (node.Plans as PlanNode[] | undefined) ?? [];
const rootOf = (plan: unknown) => (plan as { Plan: PlanNode }[])[0].Plan;

/** Loops of the plan nodes that read an index, by index name, over every plan given (0: never ran). */
function loopsByIndex(...plans: unknown[]): Record<string, number> {
  const loops: Record<string, number> = {};
  const walk = (node: PlanNode) => {
    if (typeof node['Index Name'] === 'string') loops[node['Index Name']] = (loops[node['Index Name']] ?? 0) + Number(node['Actual Loops']);
    children(node).forEach(walk);
  };
  plans.forEach((plan) => walk(rootOf(plan)));
  return loops;
}

/** The sum of `measure` over the plans' nodes for which `which` holds. */
function sumWhere(which: (node: PlanNode) => boolean, measure: (node: PlanNode) => number, ...plans: unknown[]): number {
  let sum = 0;
  const walk = (node: PlanNode) => {
    if (which(node)) sum += measure(node);
    children(node).forEach(walk);
  };
  plans.forEach((plan) => walk(rootOf(plan)));
  return sum;
}

/** How many times the plans' nodes for which `which` holds ran (one behind a one-time filter that fails never does). */
const loopsWhere = (which: (node: PlanNode) => boolean, ...plans: unknown[]) => sumWhere(which, (node) => Number(node['Actual Loops']), ...plans);

/** A plan node's conditions, as one text: its index condition, filter and recheck condition. */
const conditions = (node: PlanNode) => [node['Index Cond'], node.Filter, node['Recheck Cond']].join(' ');

/**
 * Runs `body` in a transaction rolled back, then VACUUMs documents: rows written there, or their
 * entries left in the GIN indexes' pending lists, would change the estimates other tests' plans
 * rest on.
 */
async function rolledBack(body: () => Promise<void>): Promise<void> {
  await t.client.query('BEGIN');
  try {
    await body();
  } finally {
    await t.client.query('ROLLBACK');
    await t.client.query('VACUUM documents');
  }
}

/** The passes searchDocuments ran for a query, "(no page)" after one that did not decide, and their plans. */
async function passesRun(userId: string, query: string) {
  const steps = await explainDocumentSearch(t.db, { userId, query });
  return { passes: steps.map((s) => (s.decided ? s.pass : `${s.pass} (no page)`)), plans: steps.map((s) => s.plan) };
}

describe('searchDocuments', () => {
  it("finds the user's own and public documents, never others' private or soft-deleted ones", async () => {
    const results = await searchDocuments(t.db, { userId: ALICE, query: 'vowel' });
    expect(results.map((r) => r.id).sort()).toEqual([doc(1), doc(2), doc(3), doc(5)].sort());
  });

  it('ranks a title match above a description match above a body match', async () => {
    const results = await searchDocuments(t.db, { userId: ALICE, query: 'vowels' });
    const order = results.map((r) => r.id).filter((id) => [doc(1), doc(2), doc(3)].includes(id));
    expect(order).toEqual([doc(1), doc(3), doc(2)]);
    const rank = Object.fromEntries(results.map((r) => [r.id, r.rank]));
    expect(rank[doc(1)]).toBeGreaterThan(rank[doc(3)]);
    expect(rank[doc(3)]).toBeGreaterThan(rank[doc(2)]);
  });

  it('understands web-search syntax: phrases and exclusions', async () => {
    expect((await searchDocuments(t.db, { userId: ALICE, query: '"bit and beat"' })).map((r) => r.id)).toEqual([doc(7)]);
    expect(await searchDocuments(t.db, { userId: ALICE, query: '"beat and bit"' })).toEqual([]);
    expect(await searchDocuments(t.db, { userId: ALICE, query: 'sheep -coffee' })).toEqual([]);
  });

  it('returns nothing for an empty or stop-word-only query, and honours the limit', async () => {
    expect(await searchDocuments(t.db, { userId: ALICE, query: '   ' })).toEqual([]);
    expect(await searchDocuments(t.db, { userId: ALICE, query: 'the and of' })).toEqual([]);
    expect(await searchDocuments(t.db, { userId: BOB, query: 'lorem', limit: 5 })).toHaveLength(5);
    expect(await searchDocuments(t.db, { userId: BOB, query: 'lorem' })).toHaveLength(20);
    await expect(searchDocuments(t.db, { userId: BOB, query: 'lorem', limit: 0 })).rejects.toThrow('limit must be a positive integer');
  });

  it.each([
    ['rhythm'], ['stress'], ['rhythm or tempo3'], ['lorem'], ['ipsum'], ['rhythm lorem'], ['"rhythm drill"'], ['vowel or lorem'], ['-rhythm'], ['tempo3 or zzz'],
    // A negated, AND-ed or phrased term still counts in the rank while the document's title
    // does not match the query; and a title and description parsed as one text lose "<b loquat>".
    ['quince or -kumquat'], ['quince or kumquat medlar'], ['quince or "kumquat medlar"'], ['loquat'],
    // Decided by titles alone, or not: see "alpha or beta" above.
    ['drill'], ['drill or primer'], ['quince'], ['alpha or beta'], ['alpha'], ['gamma or delta'], ['gamma or delta or alpha'], ['delta or gamma or gamma'],
    // One word and exclusions: every match ranks alike, so the page is the newest matches.
    ['lorem -rhythm'], ['rhythm -lorem'], ['rhythm -tempo3 -tempo5'], ['quince -kumquat'], ['lorem -zzz'], ['-lorem -rhythm'], ['-ipsum'], ['-lorem -rhythm -zzz'],
    // ...when the newest public documents hold less than a page of its matches, or none.
    ['gooseberry -zzz'], ['gooseberry -kumquat -rhythm'], ['gooseberry -new'], ['gooseberry -old'],
    // ...among the user's own private documents, others' private ones and soft-deleted ones.
    ['vowel -coffee'],
    // Close to that shape and not it: the excluded phrase's words count in the rank; a leading exclusion.
    ['rhythm -"lorem tempo3"'], ['rhythm -zzz -"lorem tempo3"'], ['-lorem rhythm'], ['rhythm lorem -tempo3'], ['lorem lorem -rhythm'], ['lorem --rhythm'], ['rhythm -tempo3 or lorem'],
    // One word repeated ranks as the word alone; a phrase of it does not match as the word does.
    ['rhythm rhythm'], ['rhythm or rhythm'], ['lorem Lorem lorem'], ['"rhythm rhythm"'], ['"lorem lorem"'], ['rhythm rhythm -lorem'],
    // Phrases: read by their pairs of words side by side, whatever else the query holds.
    ['"rhythm lorem"'], ['"lorem rhythm"'], ['"lorem tempo3"'], ['"lorem ipsum dolor"'], ['"rhythm lorem" tempo3'], ['"amet lorem" "ipsum dolor"'],
    ['"stress and rhythm"'], ['"rhythm lorem" "stress and rhythm"'], ['"rhythm-lorem"'], ['"vowel chart"'], ['"chart vowel"'],
  ])('returns exactly what ranking every visible match returns: %s', async (query) => {
    for (const userId of [ALICE, BOB]) {
      const got = await idsAndRanks({ userId, query });
      expect([userId, got]).toEqual([userId, await reference(userId, query)]);
    }
  });

  it.each([[1], [7], [50]])('returns exactly what ranking every visible match returns with a limit of %i', async (limit) => {
    for (const query of ['rhythm', 'stress', 'ipsum', 'alpha or beta', 'gamma or delta', 'rhythm lorem', 'lorem -rhythm', 'lorem -ipsum', 'the -rhythm', 'gooseberry -zzz', '-ipsum', 'rhythm rhythm', 'rhythm -tempo3']) {
      const got = await idsAndRanks({ userId: ALICE, query, limit });
      expect([query, got]).toEqual([query, await reference(ALICE, query, limit)]);
    }
  });

  it.each([['rhythm'], ['rhythm rhythm'], ['rhythm or rhythm']])('decides a common word on titles alone, never running the other passes: %s', async (query) => {
    const { passes, plans } = await passesRun(ALICE, query);
    expect(passes).toEqual(['title']);
    expect(loopsByIndex(...plans).idx_documents_public_title_search).toBe(1);
  });

  it.each([
    // One word that titles decide: the title pass computes the tsquery itself.
    ['rhythm', 1],
    // One word they do not: then the tsquery, and the passes after the title pass.
    ['stress', 3],
    ['vowel', 4],
    // A stop word: the title pass finds nothing, the tsquery is empty.
    ['the', 2],
    // Not one word: the tsquery first, then the title pass.
    ['rhythm rhythm', 2],
    ['Rhythm!', 2],
  ])('sends as few statements as it can: %s (%i)', async (query, statements) => {
    const sent = jest.spyOn(t.client, 'query');
    try {
      await searchDocuments(t.db, { userId: ALICE, query });
      expect(sent).toHaveBeenCalledTimes(statements);
    } finally {
      sent.mockRestore();
    }
  });

  it('decides a one-word search in its first statement only when the text made one lexeme', async () => {
    // "rhythm rhythm" makes 'rhythm' & 'rhythm', whose title matches are those of 'rhythm': the
    // title pass for it decides, but the first statement of a one-word search does not.
    const rows = async (statement: ReturnType<typeof oneWordTitleSql>) => (await t.db.execute(statement)).rows.length;
    expect(await rows(documentSearchSql('title', "'rhythm' & 'rhythm'", { userId: ALICE }))).toBe(20);
    expect(await rows(oneWordTitleSql({ userId: ALICE, query: 'rhythm rhythm' }))).toBe(0);
    expect(await rows(oneWordTitleSql({ userId: ALICE, query: 'Rhythm' }))).toBe(20);
  });

  it('decides on titles and descriptions when the first passes cannot, never running the full pass', async () => {
    // "stress" is in no public title and in 85 public descriptions.
    const stress = await passesRun(ALICE, 'stress');
    expect(stress.passes).toEqual(['title (no page)', 'head']);
    const loops = loopsByIndex(...stress.plans);
    expect(loops.idx_documents_public_title_search).toBe(1);
    expect(loops.idx_documents_public_head_search).toBe(1);
    expect(loops.idx_documents_public_search ?? 0).toBe(0);
    // Neither title matches nor descriptions holding both words make a page of "gamma or delta"
    // ranked above what the others may rank (0.3): the title-and-description pass decides.
    expect((await passesRun(ALICE, 'gamma or delta')).passes).toEqual(['either (no page)', 'head']);
  });

  it('decides words joined by or on their titles and the descriptions holding every one of them', async () => {
    const { passes, plans } = await passesRun(ALICE, 'rhythm or stress');
    expect(passes).toEqual(['either']);
    expect(loopsByIndex(...plans).idx_documents_public_search ?? 0).toBe(0);
  });

  it("never reads the user's own matches in a pass that does not decide", async () => {
    // Alice's own "stress": "Pronunciation basics"; the title pass finds no public title with it.
    // Whatever the planner reads them with: the loops of every node that looks for her documents.
    const { plans } = await passesRun(ALICE, 'stress');
    const ownReads = (plan: unknown) =>
      loopsWhere((node) => node['Relation Name'] === 'documents' && conditions(node).includes(`user_id = '${ALICE}'`), plan);
    expect(ownReads(plans[0])).toBe(0);
    expect(ownReads(plans[1])).toBeGreaterThan(0);
  });

  it('reads one word with exclusions from the newest public documents, and every match only when they hold less than a page', async () => {
    // At a few thousand rows the planner rightly reads the window's 1,500 rows by a scan; forbid it,
    // as the table's size will at scale. Reads of idx_documents_public_recent: the probe's (the
    // newest 300), then the window's.
    await t.client.query('BEGIN');
    try {
      await t.client.query('SET LOCAL enable_seqscan = off');
      const recent = await passesRun(ALICE, 'rhythm -tempo3');
      expect(recent.passes).toEqual(['recent']);
      expect(loopsByIndex(...recent.plans).idx_documents_public_recent).toBe(2);
      // The newest 300 hold ten matches, the window fewer than a page: every match is read.
      const sparse = await passesRun(ALICE, 'gooseberry -zzz');
      expect(sparse.passes).toEqual(['recent (no page)', 'newest']);
      expect(loopsByIndex(sparse.plans[0]).idx_documents_public_recent).toBe(2);
      expect(loopsByIndex(sparse.plans[1]).idx_documents_public_search).toBe(1);
      // The newest 300 hold no document with "lorem" and without "rhythm": the rest of the window
      // is never read, though it holds a page (the filler documents further back).
      const probed = await passesRun(ALICE, 'lorem -rhythm');
      expect(probed.passes).toEqual(['recent (no page)', 'newest']);
      expect(loopsByIndex(probed.plans[0]).idx_documents_public_recent).toBe(1);
    } finally {
      await t.client.query('ROLLBACK');
    }
    expect((await passesRun(ALICE, 'rhythm lorem -tempo3')).passes).toEqual(['full']);
  });

  it("reads the rest of the window only when its newest 300 documents hold matches at a page's rate: 4, not 3", async () => {
    await rolledBack(async () => {
      await t.client.query('SET LOCAL enable_seqscan = off');
      const medlars = (from: number, to: number) =>
        t.client.query(`INSERT INTO documents (user_id, title, content, is_public) SELECT $1, 'Medlar ' || g, 'medlar', true FROM generate_series(${from}, ${to}) g`, [BOB]);
      await medlars(1, 3);
      const three = await passesRun(ALICE, 'medlar -zzz');
      expect(three.passes).toEqual(['recent (no page)', 'newest']);
      expect(loopsByIndex(three.plans[0]).idx_documents_public_recent).toBe(1);
      await medlars(4, 4);
      const four = await passesRun(ALICE, 'medlar -zzz');
      expect(four.passes).toEqual(['recent (no page)', 'newest']);
      expect(loopsByIndex(four.plans[0]).idx_documents_public_recent).toBe(2);
    });
  });

  it('reads every public match of a word with exclusions that the window cannot fill, and ranks only the page', async () => {
    // Every match of "lorem -rhythm" ranks alike: the newest pass sorts the public matches by date,
    // then ranks the page. It never reads them in date order until a page is found (the window
    // just found them too few), which at this size the planner would otherwise choose.
    const { passes, plans } = await passesRun(ALICE, 'lorem -rhythm');
    expect(passes).toEqual(['recent (no page)', 'newest']);
    const rowsThrough = (which: (node: PlanNode) => boolean) => sumWhere(which, (node) => Number(node['Actual Rows']) * Number(node['Actual Loops']), plans[1]);
    const publicMatches = (node: PlanNode) => node['Relation Name'] === 'documents' && conditions(node).includes('is_public') && conditions(node).includes('@@');
    // Where ts_rank is computed: the nodes above show it in parentheses, as a column passed on.
    const ranking = (node: PlanNode) => ((node.Output as string[] | undefined) ?? []).some((column) => column.startsWith('ts_rank('));
    const { rows } = await t.client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM documents WHERE is_public AND deleted_at IS NULL AND user_id <> $1 AND search_vector @@ websearch_to_tsquery('english', 'lorem -rhythm')`,
      [ALICE],
    );
    expect(rows[0].n).toBeGreaterThan(20 * 2);
    expect(rowsThrough(publicMatches)).toBe(rows[0].n);
    expect(rowsThrough(ranking)).toBeGreaterThan(0);
    expect(rowsThrough(ranking)).toBeLessThanOrEqual(20);
  });

  it.each([
    ['vowel', ['title', 'head', 'full']],
    ['the vowel', ['title', 'head', 'full']],
    ['vowels vowel', ['title', 'head', 'full']],
    ['vowel or vowels', ['title', 'head', 'full']],
    ['vowel or rhythm', ['either', 'head', 'full']],
    ['vowel or rhythm or stress', ['head', 'full']],
    ['vowel -coffee', ['recent', 'newest']],
    ['vowel -coffee -"tea time"', ['full']],
    ['-coffee', ['recent', 'newest']],
    ['-coffee -tea', ['full']],
    ['vowel rhythm', ['full']],
    ['"vowel vowel"', ['phrase']],
    ['"minimal pairs"', ['phrase']],
    ['"minimal pairs" vowel', ['phrase']],
    ['"bit and beat"', ['full']],
    ['"minimal pairs" or vowel', ['full']],
    ['"minimal pairs" -vowel', ['full']],
    ['vowel -vowel', ['recent', 'newest']],
    ['the and of', []],
  ])('takes the passes its tsquery allows: %s', async (typed, passes) => {
    const { rows } = await t.client.query(`SELECT websearch_to_tsquery('english', $1)::text AS q`, [typed]);
    expect([rows[0].q, searchPasses(rows[0].q)]).toEqual([rows[0].q, passes]);
  });

  it.each([
    ["'a'", ['title', 'head', 'full']],
    ["'a' & 'a' | 'a'", ['title', 'head', 'full']],
    ["'a' | 'b'", ['either', 'head', 'full']],
    ["'it''s' | 'b'", ['either', 'head', 'full']],
    ["'a' & !'b' & !'c'", ['recent', 'newest']],
    // Not written by websearch_to_tsquery, and not taken by any pass before the full one: a prefix
    // adds up every lexeme it finds, a weight ranks only some, a distance is a phrase.
    ["'a':*", ['full']],
    ["'a':* | 'a'", ['full']],
    ["'a':A | 'b'", ['full']],
    ["'a' <2> 'b'", ['full']],
    ["'a':* & !'b'", ['full']],
    ["'a' <-> 'b'", ['phrase']],
    ["'a' <2> 'b' <-> 'c' & 'd'", ['phrase']],
    ["'a' <-> ( 'b' | 'c' )", ['full']],
    ["'a' <-> !'b'", ['full']],
    ["'a':* <-> 'b'", ['full']],
    ["'a' <-> 'b':A", ['full']],
    ['', []],
  ])('reads any tsquery text, taking a pass only where its bound holds: %s', (tsquery, passes) => {
    expect(searchPasses(tsquery)).toEqual(passes);
  });

  it.each([
    ["'a' <-> 'b'", "'a':1 'b':2"],
    ["'a' <-> 'b' <-> 'c'", "'a':1 'b':2 'b':4 'c':5"],
    // `<->` chains from the left and keeps its last word's positions: here c follows b.
    ["'a' <2> 'b' <-> 'c' & 'd' <-> 'e'", "'b':1 'c':2 'd':4 'e':5"],
    ["'it''s' <-> 'a\\\\b'", "'it''s':1 'a\\\\b':2"],
    ["'a' <3> 'b'", null],
    ["'a' & 'b'", null],
    ["'a'", null],
    ["'a' <-> 'b' | 'c'", null],
    ["( 'a' | 'b' ) <-> 'c'", null],
  ])('takes the pairs of words side by side from a phrase: %s', (tsquery, pairs) => {
    expect(phrasePairs(tsquery)).toBe(pairs);
  });

  it('finds phrases at the edge of what a search vector holds, as ranking every match does', async () => {
    // Positions stop at 16,383: after a one-word title and 16,380 words, "quokka" is at
    // 16,382 and both "wombat" and "numbat" at 16,383, so "quokka numbat" is a phrase of it too.
    // A lexeme keeps only its first 255 positions (to_tsvector, MAXNUMPOS), so "filler quokka" is
    // not. Words of 2,000 letters side by side: a pair of them is longer than a lexeme may be (2,047
    // bytes), which only a hashed token can hold. And 20,000 different words, past the cap.
    await rolledBack(async () => {
      const q = (sql: string) => t.client.query(sql, [BOB]);
      await q(`INSERT INTO documents (user_id, title, content, is_public) VALUES ($1, 'Clamp', repeat('filler ', 16380) || 'quokka wombat numbat', true)`);
      await q(`INSERT INTO documents (user_id, title, content, is_public) VALUES ($1, 'Long', repeat('q', 2000) || ' ' || repeat('w', 2000), true)`);
      await q(`INSERT INTO documents (user_id, title, content, is_public) SELECT $1, 'Many', string_agg('word' || g, ' '), true FROM generate_series(1, 20000) g`);
      const queries = ['"quokka wombat"', '"quokka numbat"', '"wombat numbat"', '"filler quokka"', '"word16381 word16382"', '"word16381 word19999"', '"word19999 word20000"',
        `"${'q'.repeat(2000)} ${'w'.repeat(2000)}"`, `"${'w'.repeat(2000)} ${'q'.repeat(2000)}"`];
      const found: Record<string, number> = {};
      for (const query of queries) {
        const got = await idsAndRanks({ userId: ALICE, query });
        expect([query.slice(0, 40), got]).toEqual([query.slice(0, 40), await reference(ALICE, query)]);
        found[query.slice(0, 24)] = got.length;
      }
      // Which of them match at all, so that the comparison above is not of empty pages alone.
      expect(found).toEqual({
        '"quokka wombat"': 1, '"quokka numbat"': 1, '"wombat numbat"': 0, '"filler quokka"': 0, '"word16381 word16382"': 1,
        '"word16381 word19999"': 1, '"word19999 word20000"': 0, [`"${'q'.repeat(23)}`]: 1, [`"${'w'.repeat(23)}`]: 0,
      });
    });
  });

  it('looks up at most eight pairs of a long phrase, and still checks the whole phrase', async () => {
    const words = Array.from({ length: 12 }, (_, i) => `'w${i}'`);
    expect(phrasePairs(words.join(' <-> '))?.split(' ')).toHaveLength(16);
    await rolledBack(async () => {
      const long = Array.from({ length: 12 }, (_, i) => `zeta${i}`).join(' ');
      await t.client.query(`INSERT INTO documents (user_id, title, content, is_public) VALUES ($1, 'Zeta', $2, true), ($1, 'Zeta twisted', $3, true)`, [
        BOB, long, long.replace('zeta10 zeta11', 'zeta11 zeta10'),
      ]);
      const got = await idsAndRanks({ userId: ALICE, query: `"${long}"` });
      expect(got).toHaveLength(1);
      expect(got).toEqual(await reference(ALICE, `"${long}"`));
    });
  });

  it('reads a phrase through the pairs of its words, never every document holding them', async () => {
    // "lorem" and "rhythm" are in 600 public documents, side by side in each; "lorem tempo3" in 46.
    // (For words in few documents the planner may rightly read the documents holding them instead.)
    for (const query of ['"rhythm lorem"', '"lorem tempo3"', '"lorem ipsum dolor"']) {
      const { passes, plans } = await passesRun(ALICE, query);
      expect([query, passes]).toEqual([query, ['phrase']]);
      const loops = loopsByIndex(...plans);
      expect([query, loops.idx_documents_public_pairs, loops.idx_documents_public_search ?? 0]).toEqual([query, 1, 0]);
    }
  });

  it('ranks every public match when titles and descriptions cannot decide', async () => {
    // "ipsum" is in no title or description: only the full pass can find these.
    const results = await searchDocuments(t.db, { userId: ALICE, query: 'ipsum' });
    expect(results).toHaveLength(20);
    for (const r of results) expect(r.rank).toBeLessThanOrEqual(0.2);
  });

  it("reads a prolific user's own matches from the (user_id, search_vector) index", async () => {
    // Bob owns 5,600 documents; only one of his contains "vowel".
    const { passes, plans } = await passesRun(BOB, 'vowel');
    expect(passes).toEqual(['title (no page)', 'head (no page)', 'full']);
    expect(loopsByIndex(...plans).idx_documents_owner_search).toBe(1);
    expect(loopsWhere((node) => node['Node Type'] === 'Seq Scan', ...plans)).toBe(0);
  });
});

describe('findDocumentsByTitle', () => {
  it('tolerates typos through the trigram index, with the same visibility rules', async () => {
    const matches = await findDocumentsByTitle(t.db, { userId: ALICE, query: 'pronounciation' });
    expect(matches.map((m) => m.id)).toEqual([doc(8)]);
    expect(matches[0].similarity).toBeGreaterThan(0.5);
    // "vowl" is close to "vowel" in four titles: Alice's, Bob's private and public ones, a deleted one of Alice's.
    const vowel = (await findDocumentsByTitle(t.db, { userId: ALICE, query: 'vowl' })).map((m) => m.id);
    expect(vowel.sort()).toEqual([doc(1), doc(5)].sort());
  });

  it('can be served by the trigram index', async () => {
    // At a few thousand rows the planner rightly prefers a scan; forbid it to prove the index
    // serves this exact query, as it will when the table is large.
    await t.client.query('BEGIN');
    try {
      await t.client.query('SET LOCAL enable_seqscan = off');
      const plan = await planOf(documentTitleQuery(t.db, { userId: ALICE, query: 'pronounciation' }));
      expect(plan).toContain('"Index Name":"idx_documents_title_trgm"');
    } finally {
      await t.client.query('ROLLBACK');
    }
  });
});
