DROP INDEX "idx_documents_search_vector";--> statement-breakpoint
CREATE INDEX "idx_documents_owner_search" ON "documents" USING gin ("user_id","search_vector") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "idx_documents_public_search" ON "documents" USING gin ("search_vector") WHERE is_public AND deleted_at IS NULL;