-- pa-data: no-transaction
-- squawk-ignore require-lock-timeout -- db:migrate runs CONCURRENTLY without lock_timeout, bounded by --migration-query-timeout; its lock blocks neither reads nor writes
CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_documents_public_pairs" ON "documents" USING gin (search_pairs("search_vector")) WHERE is_public AND deleted_at IS NULL;