import { and, desc, eq, isNull, ne, or, sql, type SQL } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/pg-core';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { documents, SEARCH_CONFIG } from './documents';

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
 * The query behind searchDocuments, unexecuted: `.toSQL()` gives the exact SQL, for EXPLAIN.
 *
 * Two branches, each served by its own partial index, then merged: the user's own matches
 * (idx_documents_owner_search) and other users' public matches (idx_documents_public_search).
 * One query with `user_id = $1 OR is_public` would have to visit every document that contains the
 * words and throw most of them away; at a million documents, a common word made that 0.4 s.
 */
export function documentSearchQuery(db: Database, options: DocumentSearchOptions) {
  const limit = clampLimit(options.limit);
  const tsquery = sql`websearch_to_tsquery(${SEARCH_CONFIG}::regconfig, ${options.query})`;
  const branch = (visible: SQL) => {
    const rank = sql<number>`ts_rank(${documents.searchVector}, ${tsquery})`.mapWith(Number).as('rank');
    return db
      .select({
        id: documents.id,
        userId: documents.userId,
        title: documents.title,
        description: documents.description,
        isPublic: documents.isPublic,
        createdAt: documents.createdAt,
        rank,
      })
      .from(documents)
      .where(and(visible, isNull(documents.deletedAt), sql`${documents.searchVector} @@ ${tsquery}`))
      .orderBy(desc(sql`rank`), desc(documents.createdAt), documents.id)
      .limit(limit);
  };
  return unionAll(
    branch(eq(documents.userId, options.userId)),
    branch(and(eq(documents.isPublic, true), ne(documents.userId, options.userId)) as SQL),
  )
    .orderBy(sql`rank DESC, created_at DESC, id`)
    .limit(limit);
}

/** Ranked full-text search over a user's own documents and public ones, never soft-deleted ones. */
export async function searchDocuments(db: Database, options: DocumentSearchOptions): Promise<DocumentSearchResult[]> {
  if (options.query.trim() === '') return [];
  return documentSearchQuery(db, options);
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
