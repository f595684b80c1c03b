import { and, desc, eq, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { documents, headWords, SEARCH_CONFIG, titleWords } from './documents';

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

/** A lexeme as a tsquery's text quotes it, a quote inside it doubled: a regular expression. */
const QUOTED_LEXEME = sql.raw(`'(''(?:[^'']|'''')*'')'`);

/**
 * How many of the newest public documents the search for one word with exclusions reads before it
 * falls back to every match. Measured at 1M documents (bench/RESULTS.md): 800, 1,500 and 3,000 give
 * much the same; a smaller window falls back for more words, a larger one reads more rows first.
 */
const RECENT_WINDOW = 1500;

/**
 * The SQL behind searchDocuments, for EXPLAIN as well. The user's own matches
 * (idx_documents_owner_search) and other users' public matches are read separately and merged:
 * one `user_id = $1 OR is_public` query would visit every document containing the words.
 *
 * Public matches of a common word are many (1 in 9 documents here), and each must be fetched to be
 * ranked, so queries of plain words joined by `or` (one word included) first rank fewer of them.
 * By ts_rank's calc_rank_or (tsrank.c), each of the query's k words adds, over k, at most the
 * weight of its first occurrence: at least 1/1.645 = 0.61 when that is in the title (A), less than
 * 0.4 in the description (B), less than 0.2 in the content (C).
 * - One word (or one word repeated): the title pass ranks the public documents with the word in their title
 *   (idx_documents_public_title_search). Any other match ranks below UNTITLED_RANK_CEILING.
 * - Two words: the either pass ranks those with a query word in their title or both in their
 *   title or description. Any other match has neither in its title and one of them in neither
 *   field, so ranks below (0.4 + 0.2) / 2 = 0.3, and a title match 0.304 or more: a page of them
 *   decides. (For k words the bound is 0.4 - 0.2 / k, which a title holding one of them, 0.61 / k,
 *   does not clear from three words on: there the pass would seldom decide.)
 * - Then, if that did not decide, the head pass ranks those with a query word in their title or
 *   description (idx_documents_public_head_search): any other match ranks below
 *   CONTENT_ONLY_RANK_CEILING.
 * A pass decides when it fills a page ranked above its bound: no other match can enter it.
 * Otherwise, and for any query with AND, a phrase or a negation (whose title-and-description
 * matches say nothing of where the rest of the rank comes from), every public match is ranked
 * (idx_documents_public_search).
 *
 * One word with exclusions (`word -other`), or a single exclusion, ranks every match alike: ts_rank
 * scores an AND by the pairs of different query words a document holds (PostgreSQL 15's
 * src/backend/utils/adt/tsrank.c, calc_rank_and, then 1e-20 when there is none), and such a match
 * holds one; a single exclusion scores 0 (calc_rank_or), as does a document with no words at all
 * (calc_rank), which is why two exclusions alone (1e-20, or 0 for such a document) are left to the
 * full pass. The page is then the newest matches: the
 * window reads the RECENT_WINDOW newest public documents (idx_documents_public_recent) and stops
 * at the page's last match. Any match outside it is older than every one inside, so a full page
 * from the window is exact; otherwise every public match is ranked.
 *
 * The gates are one-time filters: the branch not taken is never run. tests/search.test.ts compares
 * the result with ranking every match.
 */
export function documentSearchSql(options: DocumentSearchOptions): SQL {
  const limit = clampLimit(options.limit);
  const tsquery = sql`websearch_to_tsquery(${SEARCH_CONFIG}::regconfig, ${options.query})`;
  const d = documents;
  const columns = sql`${d.id} AS id, ${d.userId} AS user_id, ${d.title} AS title, ${d.description} AS description,
    ${d.isPublic} AS is_public, ${d.createdAt} AS created_at, ts_rank(${d.searchVector}, ${tsquery}) AS rank`;
  const order = sql`ORDER BY rank DESC, created_at DESC, id LIMIT ${limit}`;
  const othersPublic = sql`${d.isPublic} AND ${d.deletedAt} IS NULL AND ${d.userId} <> ${options.userId}`;
  // The query's text with its quoted lexemes removed: its operators and parentheses alone. Each
  // test of it is a subquery, so that the planner makes it a one-time filter of its branch.
  const operators = sql`regexp_replace((${tsquery})::text, ${QUOTED_LEXEME}, '', 'g')`;
  // Only words and `|`: no &, <-> (phrase), ! (negation) or parentheses in the query's text once
  // its quoted lexemes are removed.
  const wordsOrOnly = sql`(SELECT ${operators} !~ '[&<!(]')`;
  // One word, perhaps repeated (`word word`, `word or word`): one distinct lexeme, joined by & or |
  // only. Such a query matches what the word alone matches and ranks alike: calc_rank_and and
  // calc_rank_or (tsrank.c) rank distinct query words (SortAndUniqItems), and calc_rank_and falls
  // back to calc_rank_or below two.
  const oneWord = sql`(SELECT k = 1 AND ${operators} !~ '[<!(]' FROM terms)`;
  // One word with exclusions (`word -other -more`), or a single exclusion: no `|`, `<->` or
  // parentheses, and every operand but one negated, or just one negated. Once the quoted lexemes are
  // removed, the query's text is its operators: split at ` & `, each part is '' (the word) or '!'.
  const oneWordWithExclusions = sql`(SELECT (count(*) FILTER (WHERE p = '') = 1 OR count(*) = 1) AND count(*) FILTER (WHERE p = '!') >= 1 AND bool_and(p IN ('', '!'))
    FROM regexp_split_to_table(${operators}, ' & ') p)`;
  return sql`WITH terms AS (
    SELECT count(DISTINCT m[1]) AS k, string_agg(m[1], ' & ')::tsquery AS every_word
      FROM regexp_matches((${tsquery})::text, ${QUOTED_LEXEME}, 'g') m
  ), own AS (
    SELECT ${columns} FROM ${d}
     WHERE ${d.userId} = ${options.userId} AND ${d.deletedAt} IS NULL AND ${d.searchVector} @@ ${tsquery}
     ${order}
  ), title AS (
    SELECT ${columns} FROM ${d}
     WHERE ${oneWord} AND ${othersPublic} AND ${titleWords} @@ ${tsquery}
     ${order}
  ), title_decides AS (
    SELECT count(*) = ${limit} AND min(rank) > ${UNTITLED_RANK_CEILING} + 1e-6 AS yes FROM title
  ), either AS (
    SELECT ${columns} FROM ${d}
     WHERE ${wordsOrOnly} AND (SELECT k FROM terms) = 2 AND ${othersPublic}
       AND (${titleWords} @@ ${tsquery} OR ${headWords} @@ (SELECT every_word FROM terms))
     ${order}
  ), either_decides AS (
    SELECT count(*) = ${limit} AND min(rank) > ${UNTITLED_RANK_CEILING}::float8 - ${UNTITLED_RANK_CEILING - CONTENT_ONLY_RANK_CEILING}::float8 / 2 + 1e-6 AS yes FROM either
  ), head AS (
    SELECT ${columns} FROM ${d}
     WHERE ${wordsOrOnly} AND NOT (SELECT yes FROM title_decides) AND NOT (SELECT yes FROM either_decides) AND ${othersPublic} AND ${headWords} @@ ${tsquery}
     ${order}
  ), head_decides AS (
    SELECT count(*) = ${limit} AND min(rank) > ${CONTENT_ONLY_RANK_CEILING} + 1e-6 AS yes FROM head
  ), recent AS (
    SELECT ${columns} FROM (
      SELECT * FROM ${d} WHERE ${oneWordWithExclusions} AND ${othersPublic}
       ORDER BY ${d.createdAt} DESC, ${d.id} LIMIT ${RECENT_WINDOW}
    ) ${d}
     WHERE ${d.searchVector} @@ ${tsquery}
     ORDER BY created_at DESC, id LIMIT ${limit}
  ), recent_decides AS (
    SELECT count(*) = ${limit} AS yes FROM recent
  ), public AS (
    SELECT * FROM title WHERE (SELECT yes FROM title_decides)
    UNION ALL
    SELECT * FROM either WHERE (SELECT yes FROM either_decides)
    UNION ALL
    SELECT * FROM head WHERE (SELECT yes FROM head_decides)
    UNION ALL
    SELECT * FROM recent WHERE (SELECT yes FROM recent_decides)
    UNION ALL
    (SELECT ${columns} FROM ${d}
      WHERE NOT (SELECT yes FROM title_decides) AND NOT (SELECT yes FROM either_decides) AND NOT (SELECT yes FROM head_decides) AND NOT (SELECT yes FROM recent_decides) AND ${othersPublic} AND ${d.searchVector} @@ ${tsquery}
      ${order})
  )
  SELECT * FROM own UNION ALL SELECT * FROM public ${order}`;
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

/** Ranked full-text search over a user's own documents and public ones, never soft-deleted ones. */
export async function searchDocuments(db: Database, options: DocumentSearchOptions): Promise<DocumentSearchResult[]> {
  const query = documentSearchSql(options); // first, so that a bad limit is refused even for an empty query
  if (options.query.trim() === '') return [];
  const { rows } = await db.execute<SearchRow>(query);
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
