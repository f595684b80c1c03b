import { and, desc, eq, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { documents, headWords, SEARCH_CONFIG, searchPairs, titleWords } from './documents';

export interface DocumentSearchOptions {
  /** The searching user: their own documents and every public one are searched. */
  userId: string;
  /** What the user typed: words, "quoted phrases", -exclusions and `or`, as web search engines take. */
  query: string;
  /** At most this many results (default 20, at most 100). */
  limit?: number;
}

export interface DocumentSearchResult {
  id: string;
  userId: string;
  title: string;
  description: string | null;
  isPublic: boolean;
  createdAt: Date;
  /** ts_rank: title (A) weighs more than description (B), which weighs more than content (C). */
  rank: number;
}

export const DEFAULT_SEARCH_LIMIT = 20;
const MAX_SEARCH_LIMIT = 100;

function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_SEARCH_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, not ${limit}`);
  return Math.min(limit, MAX_SEARCH_LIMIT);
}

type Database = NodePgDatabase<Record<string, unknown>>;

/**
 * The highest ts_rank a document can have when every query word it contains is in its content
 * (weight C = 0.2 in ts_rank's default weights), for a query of words joined by `or` only. In
 * ts_rank's calc_rank_or, each word adds at most the weight of its first occurrence, divided by
 * the number of words, and the vector lists title, then description, then content.
 */
const CONTENT_ONLY_RANK_CEILING = 0.2;

/** Likewise, when none of the query words it contains is in its title (description: weight B = 0.4). */
const UNTITLED_RANK_CEILING = 0.4;

/**
 * A lexeme as a tsquery's text quotes it, a quote inside it doubled: one regular expression, which
 * PostgreSQL's (advanced) and JavaScript's dialects read alike; the group is the quoted lexeme.
 */
const QUOTED_LEXEME_PATTERN = "('(?:[^']|'')*')";
/** As an SQL string literal, for regexp_matches. */
const QUOTED_LEXEME = sql.raw(`'${QUOTED_LEXEME_PATTERN.replaceAll("'", "''")}'`);
/** For searchPasses, which reads the tsquery's text in JavaScript. */
const QUOTED_LEXEME_JS = new RegExp(QUOTED_LEXEME_PATTERN, 'g');
/** A tsquery's text that is one lexeme, without weight or prefix, in both dialects. */
const ONE_LEXEME_PATTERN = `^${QUOTED_LEXEME_PATTERN}$`;
const ONE_LEXEME = new RegExp(ONE_LEXEME_PATTERN);

/**
 * What the user typed when it is one word: letters (with their combining marks) and nothing else.
 * websearch_to_tsquery makes such a text one lexeme (or none, for a stop word), so its search
 * starts with the title pass, and that pass's statement computes the tsquery itself
 * (oneWordTitleSql): one round trip instead of two for a word that titles decide. A guess from the
 * text only, which costs at most a statement when wrong: that statement decides only when the
 * tsquery it computed is one lexeme.
 */
const ONE_WORD = /^\s*[\p{L}\p{M}]+\s*$/u;

/**
 * How many of the newest public documents the search for one word with exclusions reads before it
 * falls back to every match. Measured at 1M documents (bench/RESULTS.md): 800, 1,500 and 3,000 give
 * much the same; a smaller window falls back for more words, a larger one reads more rows first.
 */
const RECENT_WINDOW = 1500;

/**
 * The recent pass first reads the newest fifth of its window, and reads the rest only when that
 * fifth holds at least the matches it would at the rate that fills a page (4 for a page of 20): a
 * word too rare to fill one costs a fifth of the window before the newest pass, not all of it.
 * Either way the result is exact; the probe only decides which pass answers. Half that rate (2 of
 * 300) let words too rare for the window read all of it first: at 1M documents the exclusions of
 * the bench's mix took 2-5% less on average with the full rate (bench/RESULTS.md).
 */
const RECENT_PROBE_SHARE = 5;

/**
 * At most this many of a phrase's word pairs are looked up in idx_documents_public_pairs, so that a
 * pasted paragraph does not make as many index lookups as it has words. Fewer than all still find
 * every match (the phrase itself is checked), and a few pairs already narrow the documents read to
 * those holding the phrase, bar hash collisions.
 */
const MAX_PHRASE_PAIRS = 8;

/**
 * The word pairs a query's phrases require side by side, as the text of a tsvector that
 * search_pairs (migration 0012) turns into their tokens: `'a':1 'b':2 'c':4 'd':5` for the pairs
 * (a, b) and (c, d). Null when the query is not phrases and words joined by `&` alone, or when no
 * two of its words are next to each other (`'cat' <3> 'mat'`, stop words between).
 *
 * In a tsquery's text, `<->` binds tighter than `&` and chains from the left, and a chain keeps the
 * positions of its last word (tsvector_op.c, TS_phrase_execute): in `'a' <2> 'b' <-> 'c'`, c
 * follows b. So two lexemes with `<->` between them must be next to each other in every match.
 * Parentheses, `|`, `!`, weights and prefixes are left to the full pass.
 */
export function phrasePairs(tsquery: string): string | null {
  // Split at the quoted lexemes (the pattern's group keeps them): '', lexeme, operator, ..., lexeme, ''.
  const parts = tsquery.split(QUOTED_LEXEME_JS);
  if (parts.length < 5 || parts[0] !== '' || parts[parts.length - 1] !== '') return null;
  const pairs: [string, string][] = [];
  for (let i = 2; i < parts.length - 1; i += 2) {
    if (!/^ (?:&|<->|<\d+>) $/.test(parts[i])) return null;
    if (parts[i] === ' <-> ') pairs.push([parts[i - 1], parts[i + 1]]);
  }
  if (pairs.length === 0) return null;
  // Each pair at positions of its own, apart from the others, so that only the pairs are adjacent.
  return pairs
    .slice(0, MAX_PHRASE_PAIRS)
    .map(([a, b], n) => `${a}:${3 * n + 1} ${b}:${3 * n + 2}`)
    .join(' ');
}

/** The tokens of a phrase query's pairs (phrasePairs), hashed by search_pairs on the server, all required. */
function pairTokensQuery(tsquery: string | null): SQL {
  const pairs = tsquery === null ? null : phrasePairs(tsquery);
  if (pairs === null) throw new Error(`the phrase pass needs a phrase, not ${tsquery}`);
  return sql`array_to_string(tsvector_to_array(${searchPairs(sql`${pairs}::tsvector`)}), ' & ')::tsquery`;
}

/** The passes over other users' public documents, in the order a query may take them. */
export type SearchPass = 'title' | 'either' | 'head' | 'recent' | 'newest' | 'phrase' | 'full';

/**
 * Whether a pass's rows are the search's page: any rows at all (a pass that does not decide returns
 * none), or the newest, phrase or full pass, which read every public match and so return the page
 * even when it is empty.
 */
const decides = (pass: SearchPass, rows: unknown[]) => rows.length > 0 || pass === 'newest' || pass === 'phrase' || pass === 'full';

/**
 * The passes searchDocuments takes for a query, in order, from its tsquery as text (what
 * websearch_to_tsquery made of what the user typed: stop words gone, words stemmed, `'a' & !'b'`).
 * Each pass but the last decides only when it fills a page ranked above its bound (see
 * documentSearchSql); the last (newest, phrase or full) reads every public match. None for a query
 * with no words left.
 */
export function searchPasses(tsquery: string): SearchPass[] {
  const lexemes = tsquery.match(QUOTED_LEXEME_JS) ?? [];
  if (lexemes.length === 0) return [];
  const k = new Set(lexemes).size;
  // The query's text with its quoted lexemes removed: its operators and parentheses alone.
  const operators = tsquery.replace(QUOTED_LEXEME_JS, '');
  // One word, perhaps repeated (`word word`, `word or word`): one distinct lexeme, joined by & or |
  // only. Such a query matches what the word alone matches and ranks alike: calc_rank_and and
  // calc_rank_or (tsrank.c) rank distinct query words (SortAndUniqItems), and calc_rank_and falls
  // back to calc_rank_or below two.
  // The operators allowed are listed, not the others excluded: a weight (`:A`) or a prefix (`:*`,
  // whose rank adds up every lexeme it finds) breaks the passes' bounds. websearch_to_tsquery
  // writes neither, but this reads any tsquery's text.
  if (k === 1 && /^[ &|]*$/.test(operators)) return ['title', 'head', 'full'];
  // Only words and `|`: no &, <-> (phrase), ! (negation) or parentheses.
  if (/^[ |]*$/.test(operators)) return k === 2 ? ['either', 'head', 'full'] : ['head', 'full'];
  // One word with exclusions (`word -other -more`), or a single exclusion: no `|`, `<->` or
  // parentheses, and every operand but one negated, or just one negated. Split at ` & `, each part
  // of the operators is '' (the word) or '!'.
  const parts = operators.split(' & ');
  const count = (part: string) => parts.filter((p) => p === part).length;
  if ((count('') === 1 || parts.length === 1) && count('!') >= 1 && parts.every((p) => p === '' || p === '!')) return ['recent', 'newest'];
  // Phrases (and words) whose matches must hold a pair of words side by side.
  if (phrasePairs(tsquery) !== null) return ['phrase'];
  return ['full'];
}

/** The statement that turns what the user typed into the tsquery every pass searches for, as text. */
export function searchQueryTextSql(options: DocumentSearchOptions): SQL {
  return sql`SELECT websearch_to_tsquery(${SEARCH_CONFIG}::regconfig, ${options.query})::text AS tsquery`;
}

/**
 * The statement of one pass of searchDocuments, for EXPLAIN as well, searching for `tsqueryText`
 * (what searchQueryTextSql returned for the user's text). The user's own matches
 * (idx_documents_owner_search) and other users' public matches are read separately and merged:
 * one `user_id = $1 OR is_public` query would visit every document containing the words.
 *
 * Public matches of a common word are many (1 in 9 documents here), and each must be fetched to be
 * ranked, so queries of plain words joined by `or` (one word included) first rank fewer of them.
 * By ts_rank's calc_rank_or (tsrank.c), each of the query's k words adds, over k, at most the
 * weight of its first occurrence: at least 1/1.645 = 0.61 when that is in the title (A), less than
 * 0.4 in the description (B), less than 0.2 in the content (C).
 * - One word (or one word repeated): the title pass ranks the public documents with the word in
 *   their title (idx_documents_public_title_search). Any other match ranks below
 *   UNTITLED_RANK_CEILING.
 * - Two words: the either pass ranks those with a query word in their title or both in their
 *   title or description. Any other match has neither in its title and one of them in neither
 *   field, so ranks below (0.4 + 0.2) / 2 = 0.3, and a title match 0.304 or more: a page of them
 *   decides. (For k words the bound is 0.4 - 0.2 / k, which a title holding one of them, 0.61 / k,
 *   does not clear from three words on: there the pass would seldom decide.)
 * - Then, if that did not decide, the head pass ranks those with a query word in their title or
 *   description (idx_documents_public_head_search): any other match ranks below
 *   CONTENT_ONLY_RANK_CEILING.
 * A pass decides when it fills a page ranked above its bound: no other match can enter it.
 * Otherwise, and for any other query with AND, a phrase or a negation (whose title-and-description
 * matches say nothing of where the rest of the rank comes from), the full pass ranks every public
 * match (idx_documents_public_search), but for the two kinds below.
 *
 * One word with exclusions (`word -other`), or a single exclusion, ranks every match alike: ts_rank
 * scores an AND by the pairs of different query words a document holds (PostgreSQL 15's
 * src/backend/utils/adt/tsrank.c, calc_rank_and, then 1e-20 when there is none), and such a match
 * holds one; a single exclusion scores 0 (calc_rank_or), as does a document with no words at all
 * (calc_rank), which is why two exclusions alone (1e-20, or 0 for such a document) are left to the
 * full pass. The page is then the newest matches: the recent pass reads the RECENT_WINDOW newest
 * public documents (idx_documents_public_recent) and stops at the page's last match. Any match
 * outside it is older than every one inside, so a full page from the window is exact. When the
 * window holds less than a page, the newest pass takes every public match (idx_documents_public_search)
 * by date alone and ranks only the page: for a word with 1,114 public matches at 1M documents the
 * statement took 5.6-6.1 ms against 7.0-7.5 ranking every match (bench/RESULTS.md).
 *
 * A query of phrases (and words) joined by `&`, with two words side by side (`"a b"`), takes the
 * phrase pass instead of the full pass: it ranks every public match too, but reads only the public
 * documents holding the tokens of those pairs (idx_documents_public_pairs, search_pairs of
 * migration 0012), not every document holding the words: GIN keeps no positions, so `"a b"` of
 * two common words otherwise reads each document holding both to look for the phrase in it.
 *
 * A pass that does not decide returns no row, and its statement never reads the user's own
 * matches: the test is a one-time filter. Each pass is a statement of its own, and a query's
 * passes are chosen from its tsquery first (searchPasses), so that the server parses and plans
 * only what the query may run: one statement holding every pass took about 2 ms to plan at 1M
 * documents, and one pass 0.6 ms (bench/RESULTS.md). The page comes from one statement, the user's
 * own matches and the public ones from the same snapshot, whatever the passes before it saw (each
 * statement is its own transaction, through PgBouncer's transaction pooling too).
 * tests/search.test.ts compares the result with ranking every match.
 */
export function documentSearchSql(pass: SearchPass, tsqueryText: string, options: Omit<DocumentSearchOptions, 'query'>): SQL {
  // What the server made of the user's text (searchQueryTextSql), the one source of every pass's
  // words, phrase pairs included: tsquery's text form reads back as the same tsquery.
  return passSql(pass, sql`${tsqueryText}::tsquery`, tsqueryText, options);
}

/**
 * The title pass as the first statement of a one-word search (ONE_WORD): it searches for
 * websearch_to_tsquery of what the user typed, computed in the statement (and folded to a constant
 * when it is planned, as the tsquery text is), and decides only when that is one lexeme. When it
 * does not decide, the search asks for the tsquery (searchQueryTextSql) and goes on from there.
 */
export function oneWordTitleSql(options: DocumentSearchOptions): SQL {
  const tsquery = sql`websearch_to_tsquery(${SEARCH_CONFIG}::regconfig, ${options.query})`;
  return passSql('title', tsquery, null, options, sql`(${tsquery})::text ~ ${ONE_LEXEME_PATTERN}`);
}

/**
 * documentSearchSql, for `tsquery` as SQL: `tsqueryText` is its text where the statement needs it
 * in JavaScript (the phrase pass's pairs), and `also` a further condition of deciding.
 */
function passSql(pass: SearchPass, tsquery: SQL, tsqueryText: string | null, options: Omit<DocumentSearchOptions, 'query'>, also: SQL = sql`true`): SQL {
  const limit = clampLimit(options.limit);
  const d = documents;
  const columns = sql`${d.id} AS id, ${d.userId} AS user_id, ${d.title} AS title, ${d.description} AS description,
    ${d.isPublic} AS is_public, ${d.createdAt} AS created_at, ts_rank(${d.searchVector}, ${tsquery}) AS rank`;
  const order = sql`ORDER BY rank DESC, created_at DESC, id LIMIT ${limit}`;
  const othersPublic = sql`${d.isPublic} AND ${d.deletedAt} IS NULL AND ${d.userId} <> ${options.userId}`;
  const ownMatches = sql`${d.userId} = ${options.userId} AND ${d.deletedAt} IS NULL AND ${d.searchVector} @@ ${tsquery}`;
  if (pass === 'newest') {
    // Every match ranks alike, so the page is the newest matches. Their ids and dates alone go
    // through the sort, and only the page's rows are fetched again (by primary key) and ranked:
    // carrying each match's search_vector through the sort to rank it after cost nearly as much
    // as ranking it.
    // MATERIALIZED keeps the planner from reading the matches in date order through
    // idx_documents_public_recent (or idx_documents_created_at) until a page is found: the window
    // just found them too few for that, and where the words' frequencies mislead the estimate
    // (`word -word` matches nothing) that scan would read every public document.
    const newest = sql`ORDER BY created_at DESC, id LIMIT ${limit}`;
    const idsAndDates = (where: SQL) => sql`MATERIALIZED (SELECT ${d.id} AS id, ${d.createdAt} AS created_at FROM ${d} WHERE ${where})`;
    return sql`WITH own AS ${idsAndDates(ownMatches)}, others AS ${idsAndDates(sql`${othersPublic} AND ${d.searchVector} @@ ${tsquery}`)}
      SELECT ${columns} FROM ((SELECT * FROM own ${newest}) UNION ALL (SELECT * FROM others ${newest}) ${newest}) page
        JOIN ${d} ON ${d.id} = page.id
      ${order}`;
  }
  if (pass === 'full' || pass === 'phrase') {
    // Every match holds the pairs' tokens: the index finds those documents, the phrase itself is checked.
    const pairsFilter = pass === 'phrase' ? sql`AND ${searchPairs(d.searchVector)} @@ ${pairTokensQuery(tsqueryText)}` : sql``;
    return sql`(SELECT ${columns} FROM ${d} WHERE ${ownMatches} ${order})
      UNION ALL
      (SELECT ${columns} FROM ${d} WHERE ${othersPublic} ${pairsFilter} AND ${d.searchVector} @@ ${tsquery} ${order})
      ${order}`;
  }
  // The pass's page of public matches, and whether it decides: a full page, ranked above the bound
  // (with a margin for ts_rank's float4) where the pass has one.
  const [page, decides] = {
    title: [
      sql`SELECT ${columns} FROM ${d} WHERE ${othersPublic} AND ${titleWords} @@ ${tsquery} ${order}`,
      sql`count(*) = ${limit} AND min(rank) > ${UNTITLED_RANK_CEILING} + 1e-6`,
    ],
    either: [
      sql`SELECT ${columns} FROM ${d}
           WHERE ${othersPublic} AND (${titleWords} @@ ${tsquery}
              OR ${headWords} @@ (SELECT string_agg(m[1], ' & ')::tsquery FROM regexp_matches((${tsquery})::text, ${QUOTED_LEXEME}, 'g') m))
           ${order}`,
      sql`count(*) = ${limit} AND min(rank) > ${UNTITLED_RANK_CEILING}::float8 - ${UNTITLED_RANK_CEILING - CONTENT_ONLY_RANK_CEILING}::float8 / 2 + 1e-6`,
    ],
    head: [
      sql`SELECT ${columns} FROM ${d} WHERE ${othersPublic} AND ${headWords} @@ ${tsquery} ${order}`,
      sql`count(*) = ${limit} AND min(rank) > ${CONTENT_ONLY_RANK_CEILING} + 1e-6`,
    ],
    recent: [
      sql`SELECT ${columns} FROM (
            SELECT * FROM ${d}
             WHERE ${othersPublic}
               AND (SELECT count(*) * ${RECENT_PROBE_SHARE} >= ${limit} FROM (
                     SELECT ${d.searchVector} FROM ${d} WHERE ${othersPublic} ORDER BY ${d.createdAt} DESC, ${d.id} LIMIT ${RECENT_WINDOW / RECENT_PROBE_SHARE}
                   ) probe WHERE probe.search_vector @@ ${tsquery})
             ORDER BY ${d.createdAt} DESC, ${d.id} LIMIT ${RECENT_WINDOW}
          ) ${d}
           WHERE ${d.searchVector} @@ ${tsquery}
           ORDER BY created_at DESC, id LIMIT ${limit}`,
      sql`count(*) = ${limit}`,
    ],
  }[pass];
  return sql`WITH page AS (${page}), decides AS (SELECT ${decides} AND ${also} AS yes FROM page)
    (SELECT ${columns} FROM ${d} WHERE (SELECT yes FROM decides) AND ${ownMatches} ${order})
    UNION ALL
    SELECT * FROM page WHERE (SELECT yes FROM decides)
    ${order}`;
}

interface SearchRow extends Record<string, unknown> {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  is_public: boolean;
  created_at: Date | string;
  rank: number;
}

/**
 * Runs a search's statements in order, through `run`, until a pass returns its page: the shared
 * steps of searchDocuments and explainDocumentSearch.
 */
async function runSearch(
  db: Database,
  options: DocumentSearchOptions,
  run: (pass: SearchPass, statement: SQL) => Promise<SearchRow[]>,
): Promise<SearchRow[]> {
  clampLimit(options.limit); // first, so that a bad limit is refused even for an empty query
  if (options.query.trim() === '') return [];
  let titleRan = false;
  if (ONE_WORD.test(options.query)) {
    const page = await run('title', oneWordTitleSql(options));
    if (decides('title', page)) return page;
    titleRan = true;
  }
  const { rows } = await db.execute<{ tsquery: string }>(searchQueryTextSql(options));
  const tsquery = rows[0].tsquery;
  for (const pass of searchPasses(tsquery)) {
    // The title pass that ran first searched for this very tsquery when it is one lexeme.
    if (pass === 'title' && titleRan && ONE_LEXEME.test(tsquery)) continue;
    const page = await run(pass, documentSearchSql(pass, tsquery, options));
    if (decides(pass, page)) return page;
  }
  return [];
}

/** Ranked full-text search over a user's own documents and public ones, never soft-deleted ones. */
export async function searchDocuments(db: Database, options: DocumentSearchOptions): Promise<DocumentSearchResult[]> {
  const rows = await runSearch(db, options, async (_pass, statement) => (await db.execute<SearchRow>(statement)).rows);
  return rows.map((r) => ({
    id: r.id,
    userId: r.user_id,
    title: r.title,
    description: r.description,
    isPublic: r.is_public,
    createdAt: new Date(r.created_at),
    rank: Number(r.rank),
  }));
}

export interface SearchStep {
  pass: SearchPass;
  /** Whether the pass returned its page (the newest, phrase and full passes always do). */
  decided: boolean;
  /** EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) of the pass's statement: the plan, as PostgreSQL returns it. */
  plan: unknown;
}

/**
 * The statements searchDocuments runs for a query, each with its plan: for EXPLAIN by hand, and for
 * the tests that check which indexes each pass reads. Each statement runs twice (once for its
 * rows, once under EXPLAIN ANALYZE).
 */
export async function explainDocumentSearch(db: Database, options: DocumentSearchOptions): Promise<SearchStep[]> {
  const steps: SearchStep[] = [];
  await runSearch(db, options, async (pass, statement) => {
    const { rows } = await db.execute<SearchRow>(statement);
    const explained = await db.execute<{ 'QUERY PLAN': unknown }>(sql`EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) ${statement}`);
    steps.push({ pass, decided: decides(pass, rows), plan: explained.rows[0]['QUERY PLAN'] });
    return rows;
  });
  return steps;
}

export interface TitleMatch {
  id: string;
  title: string;
  /** pg_trgm word_similarity of the query to the title, 0-1. */
  similarity: number;
}

/** The query behind findDocumentsByTitle, unexecuted, for EXPLAIN. */
export function documentTitleQuery(db: Database, options: DocumentSearchOptions) {
  const limit = clampLimit(options.limit);
  const similarity = sql<number>`word_similarity(${options.query}, ${documents.title})`.mapWith(Number);
  return db
    .select({ id: documents.id, title: documents.title, similarity })
    .from(documents)
    .where(
      and(
        sql`${options.query} <% ${documents.title}`,
        isNull(documents.deletedAt),
        or(eq(documents.userId, options.userId), eq(documents.isPublic, true)),
      ),
    )
    .orderBy(desc(similarity), documents.id)
    .limit(limit);
}

/**
 * Typo-tolerant title lookup ("pronounciation" finds "Pronunciation"), served by the trigram
 * index idx_documents_title_trgm. Same visibility rules as searchDocuments.
 */
export async function findDocumentsByTitle(db: Database, options: DocumentSearchOptions): Promise<TitleMatch[]> {
  if (options.query.trim() === '') return [];
  return documentTitleQuery(db, options);
}
