CREATE TYPE "public"."user_role" AS ENUM('USER', 'ADMIN');--> statement-breakpoint
CREATE TYPE "public"."document_status" AS ENUM('UPLOADING', 'PROCESSING', 'READY', 'ERROR');--> statement-breakpoint
CREATE TYPE "public"."conversation_status" AS ENUM('ACTIVE', 'COMPLETED', 'PAUSED');--> statement-breakpoint
CREATE TYPE "public"."script_generation_mode" AS ENUM('DOCUMENT_BASED', 'TOPIC_BASED', 'TEMPLATE_BASED');--> statement-breakpoint
CREATE TYPE "public"."audio_format" AS ENUM('WEBM', 'MP3', 'WAV', 'OGG');--> statement-breakpoint
CREATE TYPE "public"."feedback_type" AS ENUM('PRONUNCIATION', 'FLUENCY', 'RHYTHM', 'INTONATION');--> statement-breakpoint
CREATE TYPE "public"."ai_provider" AS ENUM('OPENAI', 'GOOGLE', 'AWS', 'AZURE', 'LOCAL');--> statement-breakpoint
CREATE TABLE "user_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"token" varchar(255) NOT NULL,
	"ip_address" "inet",
	"user_agent" text,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_accessed" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_sessions_token_key" UNIQUE("token")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" varchar(255) NOT NULL,
	"name" varchar(255) NOT NULL,
	"avatar_url" varchar(500),
	"role" "user_role" DEFAULT 'USER' NOT NULL,
	"email_verified" boolean DEFAULT false NOT NULL,
	"email_verification_token" varchar(255),
	"password_reset_token" varchar(255),
	"password_reset_expires" timestamp with time zone,
	"last_login" timestamp with time zone,
	"login_count" integer DEFAULT 0 NOT NULL,
	"preferences" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"subscription_tier" varchar(50) DEFAULT 'FREE' NOT NULL,
	"subscription_expires" timestamp with time zone,
	"api_usage_quota" integer DEFAULT 100 NOT NULL,
	"api_usage_current" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "users_email_key" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "document_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"document_id" uuid NOT NULL,
	"version_number" integer NOT NULL,
	"content" text,
	"change_summary" text,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "documents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"title" varchar(255) NOT NULL,
	"description" text,
	"original_filename" varchar(255),
	"file_size" bigint,
	"file_mime_type" varchar(100),
	"file_path" varchar(500),
	"storage_provider" varchar(50) DEFAULT 'MINIO' NOT NULL,
	"content" text,
	"content_hash" varchar(64),
	"status" "document_status" DEFAULT 'UPLOADING' NOT NULL,
	"processing_error" text,
	"processing_progress" integer DEFAULT 0 NOT NULL,
	"language" varchar(10) DEFAULT 'en' NOT NULL,
	"word_count" integer,
	"reading_time_minutes" integer,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"is_public" boolean DEFAULT false NOT NULL,
	"view_count" integer DEFAULT 0 NOT NULL,
	"download_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"search_vector" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(content, '')), 'C')) STORED NOT NULL,
	CONSTRAINT "documents_processing_progress_range" CHECK ("documents"."processing_progress" BETWEEN 0 AND 100)
);
--> statement-breakpoint
CREATE TABLE "conversation_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"duration_seconds" integer,
	"completed_turns" integer DEFAULT 0 NOT NULL,
	"total_turns" integer,
	"completion_percentage" integer DEFAULT 0 NOT NULL,
	"overall_score" numeric(5, 2),
	"notes" text,
	"device_type" varchar(50),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "conversation_sessions_completion_percentage_range" CHECK ("conversation_sessions"."completion_percentage" BETWEEN 0 AND 100),
	CONSTRAINT "conversation_sessions_overall_score_range" CHECK ("conversation_sessions"."overall_score" BETWEEN 0 AND 100),
	CONSTRAINT "conversation_sessions_device_type_values" CHECK ("conversation_sessions"."device_type" IN ('DESKTOP', 'MOBILE', 'TABLET'))
);
--> statement-breakpoint
CREATE TABLE "conversations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"document_id" uuid,
	"title" varchar(255) NOT NULL,
	"description" text,
	"script_content" jsonb NOT NULL,
	"script_generation_mode" "script_generation_mode",
	"generation_prompt" text,
	"source_document_hash" varchar(64),
	"language" varchar(10) DEFAULT 'en' NOT NULL,
	"difficulty_level" varchar(20) DEFAULT 'INTERMEDIATE' NOT NULL,
	"topic_tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"estimated_duration_minutes" integer,
	"status" "conversation_status" DEFAULT 'ACTIVE' NOT NULL,
	"current_turn" integer DEFAULT 0 NOT NULL,
	"total_turns" integer,
	"user_role" varchar(20) DEFAULT 'PERSON_A' NOT NULL,
	"is_template" boolean DEFAULT false NOT NULL,
	"is_public" boolean DEFAULT false NOT NULL,
	"usage_count" integer DEFAULT 0 NOT NULL,
	"rating" integer,
	"feedback" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "conversations_rating_check" CHECK ("conversations"."rating" >= 1 AND "conversations"."rating" <= 5)
);
--> statement-breakpoint
CREATE TABLE "audio_processing_results" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"audio_recording_id" uuid NOT NULL,
	"transcription" text,
	"confidence_score" numeric(5, 2),
	"processing_provider" varchar(50),
	"processing_time_ms" integer,
	"processing_cost" numeric(10, 6),
	"word_timestamps" jsonb,
	"alternative_transcriptions" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audio_processing_results_confidence_score_range" CHECK ("audio_processing_results"."confidence_score" BETWEEN 0 AND 1)
);
--> statement-breakpoint
CREATE TABLE "audio_recordings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"conversation_session_id" uuid,
	"conversation_id" uuid NOT NULL,
	"turn_number" integer NOT NULL,
	"script_line" text NOT NULL,
	"original_filename" varchar(255),
	"file_size" bigint,
	"file_mime_type" varchar(100),
	"file_path" varchar(500),
	"storage_provider" varchar(50) DEFAULT 'MINIO' NOT NULL,
	"audio_format" "audio_format",
	"duration_seconds" numeric(10, 3),
	"sample_rate" integer,
	"bit_rate" integer,
	"channels" integer,
	"recording_quality" varchar(20) DEFAULT 'STANDARD' NOT NULL,
	"background_noise_level" numeric(5, 2),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "audio_recordings_recording_quality_values" CHECK ("audio_recordings"."recording_quality" IN ('LOW', 'STANDARD', 'HIGH'))
);
--> statement-breakpoint
CREATE TABLE "pronunciation_feedback" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"audio_recording_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"feedback_type" "feedback_type" NOT NULL,
	"overall_score" numeric(5, 2),
	"detailed_scores" jsonb,
	"phonetic_accuracy" jsonb,
	"word_level_feedback" jsonb,
	"suggestions" jsonb,
	"strengths" jsonb,
	"areas_for_improvement" jsonb,
	"processing_provider" varchar(50),
	"processing_model" varchar(100),
	"processing_time_ms" integer,
	"processing_cost" numeric(10, 6),
	"confidence_level" numeric(5, 2),
	"is_automated" boolean DEFAULT true NOT NULL,
	"reviewed_by" uuid,
	"reviewer_notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pronunciation_feedback_overall_score_range" CHECK ("pronunciation_feedback"."overall_score" BETWEEN 0 AND 100),
	CONSTRAINT "pronunciation_feedback_confidence_level_range" CHECK ("pronunciation_feedback"."confidence_level" BETWEEN 0 AND 1)
);
--> statement-breakpoint
CREATE TABLE "user_progress" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"skill_area" varchar(50) NOT NULL,
	"current_level" numeric(5, 2),
	"target_level" numeric(5, 2),
	"progress_history" jsonb,
	"practice_sessions_count" integer DEFAULT 0 NOT NULL,
	"total_practice_time_minutes" integer DEFAULT 0 NOT NULL,
	"average_session_score" numeric(5, 2),
	"last_practice_date" timestamp with time zone,
	"streak_days" integer DEFAULT 0 NOT NULL,
	"longest_streak_days" integer DEFAULT 0 NOT NULL,
	"achievements" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"next_milestone" varchar(255),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_progress_current_level_range" CHECK ("user_progress"."current_level" BETWEEN 0 AND 100),
	CONSTRAINT "user_progress_target_level_range" CHECK ("user_progress"."target_level" BETWEEN 0 AND 100),
	CONSTRAINT "user_progress_average_session_score_range" CHECK ("user_progress"."average_session_score" BETWEEN 0 AND 100)
);
--> statement-breakpoint
CREATE TABLE "ai_provider_configs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"provider_id" uuid NOT NULL,
	"user_id" uuid,
	"service_type" varchar(50) NOT NULL,
	"configuration" jsonb NOT NULL,
	"priority" integer DEFAULT 1 NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"daily_quota" integer,
	"monthly_quota" integer,
	"current_daily_usage" integer DEFAULT 0 NOT NULL,
	"current_monthly_usage" integer DEFAULT 0 NOT NULL,
	"last_reset_date" date,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ai_providers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" "ai_provider" NOT NULL,
	"display_name" varchar(100) NOT NULL,
	"description" text,
	"api_endpoint_base" varchar(255),
	"authentication_type" varchar(50),
	"is_configured" boolean DEFAULT false NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"rate_limit_per_minute" integer,
	"rate_limit_per_hour" integer,
	"pricing_model" jsonb,
	"supported_features" jsonb,
	"configuration_schema" jsonb,
	"default_configuration" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ai_providers_name_key" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "api_usage_logs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"provider_id" uuid NOT NULL,
	"service_type" varchar(50) NOT NULL,
	"endpoint" varchar(255),
	"request_size_bytes" integer,
	"response_size_bytes" integer,
	"processing_time_ms" integer,
	"cost" numeric(10, 6),
	"status_code" integer,
	"error_message" text,
	"request_metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_flags" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar(255) NOT NULL,
	"is_enabled" boolean DEFAULT false NOT NULL,
	"description" text,
	"target_users" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"rollout_percentage" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feature_flags_name_key" UNIQUE("name"),
	CONSTRAINT "feature_flags_rollout_percentage_range" CHECK ("feature_flags"."rollout_percentage" BETWEEN 0 AND 100)
);
--> statement-breakpoint
CREATE TABLE "system_settings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key" varchar(255) NOT NULL,
	"value" jsonb,
	"description" text,
	"is_public" boolean DEFAULT false NOT NULL,
	"category" varchar(100),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "system_settings_key_key" UNIQUE("key")
);
--> statement-breakpoint
ALTER TABLE "user_sessions" ADD CONSTRAINT "user_sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "document_versions" ADD CONSTRAINT "document_versions_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "document_versions" ADD CONSTRAINT "document_versions_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_sessions" ADD CONSTRAINT "conversation_sessions_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_sessions" ADD CONSTRAINT "conversation_sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audio_processing_results" ADD CONSTRAINT "audio_processing_results_audio_recording_id_audio_recordings_id_fk" FOREIGN KEY ("audio_recording_id") REFERENCES "public"."audio_recordings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audio_recordings" ADD CONSTRAINT "audio_recordings_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audio_recordings" ADD CONSTRAINT "audio_recordings_conversation_session_id_conversation_sessions_id_fk" FOREIGN KEY ("conversation_session_id") REFERENCES "public"."conversation_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audio_recordings" ADD CONSTRAINT "audio_recordings_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ADD CONSTRAINT "pronunciation_feedback_audio_recording_id_audio_recordings_id_fk" FOREIGN KEY ("audio_recording_id") REFERENCES "public"."audio_recordings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ADD CONSTRAINT "pronunciation_feedback_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ADD CONSTRAINT "pronunciation_feedback_reviewed_by_users_id_fk" FOREIGN KEY ("reviewed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_progress" ADD CONSTRAINT "user_progress_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ai_provider_configs" ADD CONSTRAINT "ai_provider_configs_provider_id_ai_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."ai_providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ai_provider_configs" ADD CONSTRAINT "ai_provider_configs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_usage_logs" ADD CONSTRAINT "api_usage_logs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_usage_logs" ADD CONSTRAINT "api_usage_logs_provider_id_ai_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."ai_providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_user_sessions_user_id" ON "user_sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_user_sessions_token" ON "user_sessions" USING btree ("token");--> statement-breakpoint
CREATE INDEX "idx_user_sessions_expires_at" ON "user_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "idx_users_email" ON "users" USING btree ("email");--> statement-breakpoint
CREATE INDEX "idx_users_role" ON "users" USING btree ("role");--> statement-breakpoint
CREATE INDEX "idx_users_created_at" ON "users" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_users_email_verified" ON "users" USING btree ("email_verified");--> statement-breakpoint
CREATE UNIQUE INDEX "idx_document_versions_unique" ON "document_versions" USING btree ("document_id","version_number");--> statement-breakpoint
CREATE INDEX "idx_documents_content_gin" ON "documents" USING gin (to_tsvector('english'::regconfig, "content"));--> statement-breakpoint
CREATE INDEX "idx_documents_title_gin" ON "documents" USING gin (to_tsvector('english'::regconfig, "title"));--> statement-breakpoint
CREATE INDEX "idx_documents_user_id" ON "documents" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_documents_status" ON "documents" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_documents_created_at" ON "documents" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_documents_content_hash" ON "documents" USING btree ("content_hash");--> statement-breakpoint
CREATE INDEX "idx_documents_search_vector" ON "documents" USING gin ("search_vector") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "idx_documents_title_trgm" ON "documents" USING gin ("title" gin_trgm_ops) WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "idx_conversation_sessions_conversation_id" ON "conversation_sessions" USING btree ("conversation_id");--> statement-breakpoint
CREATE INDEX "idx_conversation_sessions_user_id" ON "conversation_sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_conversation_sessions_started_at" ON "conversation_sessions" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "idx_conversations_user_id" ON "conversations" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_conversations_document_id" ON "conversations" USING btree ("document_id");--> statement-breakpoint
CREATE INDEX "idx_conversations_status" ON "conversations" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_conversations_is_template" ON "conversations" USING btree ("is_template");--> statement-breakpoint
CREATE INDEX "idx_conversations_created_at" ON "conversations" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_audio_processing_results_audio_id" ON "audio_processing_results" USING btree ("audio_recording_id");--> statement-breakpoint
CREATE INDEX "idx_audio_recordings_user_id" ON "audio_recordings" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_audio_recordings_session_id" ON "audio_recordings" USING btree ("conversation_session_id");--> statement-breakpoint
CREATE INDEX "idx_audio_recordings_conversation_id" ON "audio_recordings" USING btree ("conversation_id");--> statement-breakpoint
CREATE INDEX "idx_audio_recordings_created_at" ON "audio_recordings" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_pronunciation_feedback_audio_id" ON "pronunciation_feedback" USING btree ("audio_recording_id");--> statement-breakpoint
CREATE INDEX "idx_pronunciation_feedback_user_id" ON "pronunciation_feedback" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_pronunciation_feedback_type" ON "pronunciation_feedback" USING btree ("feedback_type");--> statement-breakpoint
CREATE INDEX "idx_pronunciation_feedback_created_at" ON "pronunciation_feedback" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "idx_user_progress_unique" ON "user_progress" USING btree ("user_id","skill_area");--> statement-breakpoint
CREATE INDEX "idx_ai_provider_configs_provider_id" ON "ai_provider_configs" USING btree ("provider_id");--> statement-breakpoint
CREATE INDEX "idx_ai_provider_configs_user_id" ON "ai_provider_configs" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_ai_provider_configs_service_type" ON "ai_provider_configs" USING btree ("service_type");--> statement-breakpoint
CREATE INDEX "idx_api_usage_logs_user_id" ON "api_usage_logs" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_api_usage_logs_provider_id" ON "api_usage_logs" USING btree ("provider_id");--> statement-breakpoint
CREATE INDEX "idx_api_usage_logs_created_at" ON "api_usage_logs" USING btree ("created_at");