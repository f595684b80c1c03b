-- db:baseline's conversion of a database built by the specification's SQL (its database/init/*.sql,
-- tests/fixtures/spec-schema.sql) into exactly what the committed migrations produce
-- (schema/migrations/catalog.json). lib/migrations/baseline.ts runs it in ONE transaction, under the
-- migration lock, after checking every stricter NOT NULL and CHECK below against the rows; it
-- changes no row. tests/baseline.test.ts checks that it ends in the committed catalog.

-- Primary keys: the built-in gen_random_uuid() (the same random v4 UUIDs as uuid_generate_v4()).
ALTER TABLE "ai_provider_configs" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "ai_providers" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "api_usage_logs" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "audio_processing_results" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "audio_recordings" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "conversation_sessions" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "conversations" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "document_versions" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "feature_flags" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "system_settings" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "user_progress" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "user_sessions" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
--> statement-breakpoint
-- NOT NULL on every column that has a default.
ALTER TABLE "ai_provider_configs" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "current_daily_usage" SET NOT NULL, ALTER COLUMN "current_monthly_usage" SET NOT NULL, ALTER COLUMN "is_active" SET NOT NULL, ALTER COLUMN "priority" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "ai_providers" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "is_active" SET NOT NULL, ALTER COLUMN "is_configured" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "api_usage_logs" ALTER COLUMN "created_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "audio_processing_results" ALTER COLUMN "created_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "audio_recordings" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "recording_quality" SET NOT NULL, ALTER COLUMN "storage_provider" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "conversation_sessions" ALTER COLUMN "completed_turns" SET NOT NULL, ALTER COLUMN "completion_percentage" SET NOT NULL, ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "started_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "conversations" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "current_turn" SET NOT NULL, ALTER COLUMN "difficulty_level" SET NOT NULL, ALTER COLUMN "is_public" SET NOT NULL, ALTER COLUMN "is_template" SET NOT NULL, ALTER COLUMN "language" SET NOT NULL, ALTER COLUMN "status" SET NOT NULL, ALTER COLUMN "topic_tags" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL, ALTER COLUMN "usage_count" SET NOT NULL, ALTER COLUMN "user_role" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "document_versions" ALTER COLUMN "created_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "download_count" SET NOT NULL, ALTER COLUMN "is_public" SET NOT NULL, ALTER COLUMN "language" SET NOT NULL, ALTER COLUMN "processing_progress" SET NOT NULL, ALTER COLUMN "status" SET NOT NULL, ALTER COLUMN "storage_provider" SET NOT NULL, ALTER COLUMN "tags" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL, ALTER COLUMN "view_count" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "feature_flags" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "is_enabled" SET NOT NULL, ALTER COLUMN "rollout_percentage" SET NOT NULL, ALTER COLUMN "target_users" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "is_automated" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "system_settings" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "is_public" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "user_progress" ALTER COLUMN "achievements" SET NOT NULL, ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "longest_streak_days" SET NOT NULL, ALTER COLUMN "practice_sessions_count" SET NOT NULL, ALTER COLUMN "streak_days" SET NOT NULL, ALTER COLUMN "total_practice_time_minutes" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "user_sessions" ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "last_accessed" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "api_usage_current" SET NOT NULL, ALTER COLUMN "api_usage_quota" SET NOT NULL, ALTER COLUMN "created_at" SET NOT NULL, ALTER COLUMN "email_verified" SET NOT NULL, ALTER COLUMN "login_count" SET NOT NULL, ALTER COLUMN "preferences" SET NOT NULL, ALTER COLUMN "role" SET NOT NULL, ALTER COLUMN "subscription_tier" SET NOT NULL, ALTER COLUMN "updated_at" SET NOT NULL;
--> statement-breakpoint
-- The foreign keys under drizzle's names (the same columns, targets and actions: a rename checks no row).
ALTER TABLE "user_sessions" RENAME CONSTRAINT "user_sessions_user_id_fkey" TO "user_sessions_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "document_versions" RENAME CONSTRAINT "document_versions_document_id_fkey" TO "document_versions_document_id_documents_id_fk";
--> statement-breakpoint
ALTER TABLE "document_versions" RENAME CONSTRAINT "document_versions_created_by_fkey" TO "document_versions_created_by_users_id_fk";
--> statement-breakpoint
ALTER TABLE "documents" RENAME CONSTRAINT "documents_user_id_fkey" TO "documents_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "conversation_sessions" RENAME CONSTRAINT "conversation_sessions_conversation_id_fkey" TO "conversation_sessions_conversation_id_conversations_id_fk";
--> statement-breakpoint
ALTER TABLE "conversation_sessions" RENAME CONSTRAINT "conversation_sessions_user_id_fkey" TO "conversation_sessions_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "conversations" RENAME CONSTRAINT "conversations_user_id_fkey" TO "conversations_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "conversations" RENAME CONSTRAINT "conversations_document_id_fkey" TO "conversations_document_id_documents_id_fk";
--> statement-breakpoint
ALTER TABLE "audio_processing_results" RENAME CONSTRAINT "audio_processing_results_audio_recording_id_fkey" TO "audio_processing_results_audio_recording_id_audio_recordings_id";
--> statement-breakpoint
ALTER TABLE "audio_recordings" RENAME CONSTRAINT "audio_recordings_user_id_fkey" TO "audio_recordings_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "audio_recordings" RENAME CONSTRAINT "audio_recordings_conversation_session_id_fkey" TO "audio_recordings_conversation_session_id_conversation_sessions_";
--> statement-breakpoint
ALTER TABLE "audio_recordings" RENAME CONSTRAINT "audio_recordings_conversation_id_fkey" TO "audio_recordings_conversation_id_conversations_id_fk";
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" RENAME CONSTRAINT "pronunciation_feedback_audio_recording_id_fkey" TO "pronunciation_feedback_audio_recording_id_audio_recordings_id_f";
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" RENAME CONSTRAINT "pronunciation_feedback_user_id_fkey" TO "pronunciation_feedback_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" RENAME CONSTRAINT "pronunciation_feedback_reviewed_by_fkey" TO "pronunciation_feedback_reviewed_by_users_id_fk";
--> statement-breakpoint
ALTER TABLE "user_progress" RENAME CONSTRAINT "user_progress_user_id_fkey" TO "user_progress_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "ai_provider_configs" RENAME CONSTRAINT "ai_provider_configs_provider_id_fkey" TO "ai_provider_configs_provider_id_ai_providers_id_fk";
--> statement-breakpoint
ALTER TABLE "ai_provider_configs" RENAME CONSTRAINT "ai_provider_configs_user_id_fkey" TO "ai_provider_configs_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "api_usage_logs" RENAME CONSTRAINT "api_usage_logs_user_id_fkey" TO "api_usage_logs_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "api_usage_logs" RENAME CONSTRAINT "api_usage_logs_provider_id_fkey" TO "api_usage_logs_provider_id_ai_providers_id_fk";
--> statement-breakpoint
-- 0003: the two NO ACTION keys to users, checked at commit.
ALTER TABLE "document_versions" ALTER CONSTRAINT "document_versions_created_by_users_id_fk" DEFERRABLE INITIALLY DEFERRED;
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ALTER CONSTRAINT "pronunciation_feedback_reviewed_by_users_id_fk" DEFERRABLE INITIALLY DEFERRED;
--> statement-breakpoint
-- The CHECKs of the ranges and values the specification states in comments (0001 and 0004).
ALTER TABLE "documents" ADD CONSTRAINT "documents_processing_progress_range" CHECK ("documents"."processing_progress" BETWEEN 0 AND 100);
--> statement-breakpoint
ALTER TABLE "conversation_sessions" ADD CONSTRAINT "conversation_sessions_completion_percentage_range" CHECK ("conversation_sessions"."completion_percentage" BETWEEN 0 AND 100), ADD CONSTRAINT "conversation_sessions_overall_score_range" CHECK ("conversation_sessions"."overall_score" BETWEEN 0 AND 100), ADD CONSTRAINT "conversation_sessions_device_type_values" CHECK ("conversation_sessions"."device_type" IN ('DESKTOP', 'MOBILE', 'TABLET'));
--> statement-breakpoint
ALTER TABLE "audio_processing_results" ADD CONSTRAINT "audio_processing_results_confidence_score_range" CHECK ("audio_processing_results"."confidence_score" BETWEEN 0 AND 1);
--> statement-breakpoint
ALTER TABLE "audio_recordings" ADD CONSTRAINT "audio_recordings_recording_quality_values" CHECK ("audio_recordings"."recording_quality" IN ('LOW', 'STANDARD', 'HIGH'));
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ADD CONSTRAINT "pronunciation_feedback_overall_score_range" CHECK ("pronunciation_feedback"."overall_score" BETWEEN 0 AND 100), ADD CONSTRAINT "pronunciation_feedback_confidence_level_range" CHECK ("pronunciation_feedback"."confidence_level" BETWEEN 0 AND 1);
--> statement-breakpoint
ALTER TABLE "user_progress" ADD CONSTRAINT "user_progress_current_level_range" CHECK ("user_progress"."current_level" BETWEEN 0 AND 100), ADD CONSTRAINT "user_progress_target_level_range" CHECK ("user_progress"."target_level" BETWEEN 0 AND 100), ADD CONSTRAINT "user_progress_average_session_score_range" CHECK ("user_progress"."average_session_score" BETWEEN 0 AND 100);
--> statement-breakpoint
ALTER TABLE "feature_flags" ADD CONSTRAINT "feature_flags_rollout_percentage_range" CHECK ("feature_flags"."rollout_percentage" BETWEEN 0 AND 100);
--> statement-breakpoint
ALTER TABLE "user_progress" ADD CONSTRAINT "user_progress_skill_area_values" CHECK ("user_progress"."skill_area" IN ('pronunciation', 'fluency', 'rhythm', 'intonation'));
--> statement-breakpoint
-- The generated search column (0001), kept in the row (0011: in the same statement, so that the
-- rewrite that fills it already lays rows out that way), and the search indexes (0001, 0005, 0007,
-- 0009, 0010).
ALTER TABLE "documents" ADD COLUMN "search_vector" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(content, '')), 'C')) STORED NOT NULL, ALTER COLUMN "search_vector" SET STORAGE MAIN;
--> statement-breakpoint
CREATE INDEX "idx_documents_title_trgm" ON "documents" USING gin ("title" gin_trgm_ops) WHERE deleted_at IS NULL;
--> statement-breakpoint
CREATE INDEX "idx_documents_owner_search" ON "documents" USING gin ("user_id","search_vector") WHERE deleted_at IS NULL;
--> statement-breakpoint
CREATE INDEX "idx_documents_public_search" ON "documents" USING gin ("search_vector") WHERE is_public AND deleted_at IS NULL;
--> statement-breakpoint
CREATE INDEX "idx_documents_public_head_search" ON "documents" USING gin ((to_tsvector('english'::regconfig, coalesce(title, '')) || to_tsvector('english'::regconfig, coalesce(description, '')))) WHERE is_public AND deleted_at IS NULL;
--> statement-breakpoint
CREATE INDEX "idx_documents_public_recent" ON "documents" USING btree ("created_at" DESC NULLS FIRST,"id") WHERE is_public AND deleted_at IS NULL;
--> statement-breakpoint
CREATE INDEX "idx_documents_public_title_search" ON "documents" USING gin (to_tsvector('english'::regconfig, title)) WHERE is_public AND deleted_at IS NULL;
--> statement-breakpoint
-- 0012 and 0013: adjacent word pairs, hashed, for phrases, and their index over public documents.
CREATE FUNCTION public.search_pairs(vector tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(array_to_tsvector(array_agg(DISTINCT to_hex(hashtext(a.lexeme || ' ' || b.lexeme) & 65535))), ''::tsvector)
    FROM (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) a
    JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) b ON b.position = a.position + 1
$$;
--> statement-breakpoint
COMMENT ON FUNCTION public.search_pairs(tsvector) IS 'Adjacent word pairs of a search vector, hashed to 65,536 tokens, for phrase search (schema/document-search.ts).';
--> statement-breakpoint
CREATE INDEX "idx_documents_public_pairs" ON "documents" USING gin (search_pairs("search_vector")) WHERE is_public AND deleted_at IS NULL;
--> statement-breakpoint
-- 0002: updated_at set by the database on every UPDATE.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER documents_set_updated_at BEFORE UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER conversations_set_updated_at BEFORE UPDATE ON conversations FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER pronunciation_feedback_set_updated_at BEFORE UPDATE ON pronunciation_feedback FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER user_progress_set_updated_at BEFORE UPDATE ON user_progress FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER ai_providers_set_updated_at BEFORE UPDATE ON ai_providers FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER ai_provider_configs_set_updated_at BEFORE UPDATE ON ai_provider_configs FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER system_settings_set_updated_at BEFORE UPDATE ON system_settings FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
CREATE TRIGGER feature_flags_set_updated_at BEFORE UPDATE ON feature_flags FOR EACH ROW EXECUTE FUNCTION set_updated_at();
--> statement-breakpoint
-- 0008: the migration history as services read it at start-up. The history table it reads is
-- created after this script, in the same transaction (lib/migrations/baseline.ts, ensureTable), so
-- its body is left unchecked here: PostgreSQL checks a LANGUAGE sql body when the function is
-- created, unless check_function_bodies is off, and reads the table when the function is called.
SET LOCAL check_function_bodies = off;
--> statement-breakpoint
CREATE FUNCTION public.applied_migrations() RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT created_at FROM drizzle.__drizzle_migrations WHERE created_at IS NOT NULL ORDER BY created_at
$$;
--> statement-breakpoint
COMMENT ON FUNCTION public.applied_migrations() IS 'The created_at (journal time) of each applied migration, for services'' start-up check (client/database.ts); runs as its owner, since the app role may not read schema drizzle.';
