-- pa-data: no-transaction
-- squawk-ignore require-lock-timeout -- db:migrate runs CONCURRENTLY without lock_timeout, bounded by --migration-query-timeout; its lock blocks neither reads nor writes
CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_documents_public_title_search" ON "documents" USING gin (to_tsvector('english'::regconfig, title)) WHERE is_public AND deleted_at IS NULL;