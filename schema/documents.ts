import { sql, type SQLWrapper } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { between, createdAt, id, timestamptz, updatedAt } from './columns';
import { ownerUserId, users } from './users';

export const documentStatusEnum = pgEnum('document_status', ['UPLOADING', 'PROCESSING', 'READY', 'ERROR']);

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/** The text search configuration of every search vector and query; one place to change it. */
export const SEARCH_CONFIG = 'english';
const searchConfig = sql.raw(`'${SEARCH_CONFIG}'::regconfig`);

/**
 * The words of a document's title and description, for the search's first pass over public
 * documents (see document-search.ts). Each field is parsed on its own, as in search_vector: joined
 * into one text, "Notes <b" and "loquat> tips" would read as an HTML tag and lose "loquat". Shared
 * by the index and the query so that they match.
 */
export const headWords = sql`(to_tsvector(${searchConfig}, coalesce(title, '')) || to_tsvector(${searchConfig}, coalesce(description, '')))`;

/** The words of a document's title alone, for the search's title pass (see document-search.ts). */
export const titleWords = sql`to_tsvector(${searchConfig}, title)`;

/**
 * The adjacent word pairs of a search vector, each hashed to one of 65,536 tokens: the function of
 * migration 0012. Public documents are indexed by it (idx_documents_public_pairs) so that a phrase
 * reads only documents holding its words side by side, not every document holding its words
 * (document-search.ts, the phrase pass). Shared by the index and the query so that they match.
 */
export const searchPairs = (vector: SQLWrapper) => sql`search_pairs(${vector})`;

export const documents = pgTable(
  'documents',
  {
    id: id(),
    userId: ownerUserId(),
    title: varchar('title', { length: 255 }).notNull(),
    description: text('description'),
    originalFilename: varchar('original_filename', { length: 255 }),
    fileSize: bigint('file_size', { mode: 'number' }),
    fileMimeType: varchar('file_mime_type', { length: 100 }),
    filePath: varchar('file_path', { length: 500 }),
    storageProvider: varchar('storage_provider', { length: 50 }).notNull().default('MINIO'),
    /** Markdown content after conversion. */
    content: text('content'),
    /** SHA-256 (hex) of the content, for duplicate detection. */
    contentHash: varchar('content_hash', { length: 64 }),
    status: documentStatusEnum('status').notNull().default('UPLOADING'),
    processingError: text('processing_error'),
    processingProgress: integer('processing_progress').notNull().default(0),
    language: varchar('language', { length: 10 }).notNull().default('en'),
    wordCount: integer('word_count'),
    readingTimeMinutes: integer('reading_time_minutes'),
    tags: jsonb('tags').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    isPublic: boolean('is_public').notNull().default(false),
    viewCount: integer('view_count').notNull().default(0),
    downloadCount: integer('download_count').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamptz('deleted_at'),
    /** Title ranks above description above content (weights A, B, C). */
    searchVector: tsvector('search_vector')
      .notNull()
      .generatedAlwaysAs(
        sql`setweight(to_tsvector(${searchConfig}, coalesce(title, '')), 'A') || setweight(to_tsvector(${searchConfig}, coalesce(description, '')), 'B') || setweight(to_tsvector(${searchConfig}, coalesce(content, '')), 'C')`,
      ),
  },
  (t) => [
    between('documents_processing_progress_range', t.processingProgress, 0, 100),
    // The two expression indexes are the specification's; ranked search uses search_vector.
    index('idx_documents_content_gin').using('gin', sql`to_tsvector(${searchConfig}, ${t.content})`),
    index('idx_documents_title_gin').using('gin', sql`to_tsvector(${searchConfig}, ${t.title})`),
    index('idx_documents_user_id').on(t.userId),
    index('idx_documents_status').on(t.status),
    index('idx_documents_created_at').on(t.createdAt),
    index('idx_documents_content_hash').on(t.contentHash),
    // Ranked search reads a user's own matches and public matches separately (see
    // document-search.ts): each index holds only the rows its branch can return, so a common word
    // does not make the search visit every other user's private documents. btree_gin lets the
    // first one key on user_id as well.
    index('idx_documents_owner_search').using('gin', t.userId, t.searchVector).where(sql`deleted_at IS NULL`),
    index('idx_documents_public_search').using('gin', t.searchVector).where(sql`is_public AND deleted_at IS NULL`),
    index('idx_documents_public_head_search').using('gin', headWords).where(sql`is_public AND deleted_at IS NULL`),
    index('idx_documents_public_title_search').using('gin', titleWords).where(sql`is_public AND deleted_at IS NULL`).concurrently(),
    // Every match of a word with exclusions (`word -other`) ranks the same (document-search.ts),
    // so its page is the newest matches: read from the newest public documents first.
    index('idx_documents_public_recent').on(t.createdAt.desc().nullsFirst(), t.id).where(sql`is_public AND deleted_at IS NULL`).concurrently(),
    // A phrase reads only the public documents holding its words side by side (document-search.ts).
    index('idx_documents_public_pairs').using('gin', searchPairs(t.searchVector)).where(sql`is_public AND deleted_at IS NULL`).concurrently(),
    index('idx_documents_title_trgm').using('gin', t.title.op('gin_trgm_ops')).where(sql`deleted_at IS NULL`),
  ],
);

export const documentVersions = pgTable(
  'document_versions',
  {
    id: id(),
    documentId: uuid('document_id')
      .notNull()
      .references(() => documents.id, { onDelete: 'cascade' }),
    versionNumber: integer('version_number').notNull(),
    content: text('content'),
    changeSummary: text('change_summary'),
    // NO ACTION, checked at commit: see migrations/0003_deferred_authorship_checks.sql.
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('idx_document_versions_unique').on(t.documentId, t.versionNumber)],
);
