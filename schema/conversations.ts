import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  text,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { between, createdAt, id, oneOf, timestamptz, updatedAt } from './columns';
import { documents } from './documents';
import { ownerUserId } from './users';

export const conversationStatusEnum = pgEnum('conversation_status', ['ACTIVE', 'COMPLETED', 'PAUSED']);
export const scriptGenerationModeEnum = pgEnum('script_generation_mode', [
  'DOCUMENT_BASED',
  'TOPIC_BASED',
  'TEMPLATE_BASED',
]);

export const DEVICE_TYPES = ['DESKTOP', 'MOBILE', 'TABLET'] as const;

/** One line of a practice script: who says what, in order. */
export interface ScriptTurn {
  turn: number;
  speaker: string;
  text: string;
  /** Optional coaching hint shown before the learner speaks. */
  hint?: string;
}

/** The structured script a conversation is practised from. */
export interface ConversationScript {
  roles: string[];
  setting?: string;
  turns: ScriptTurn[];
}

export const conversations = pgTable(
  'conversations',
  {
    id: id(),
    userId: ownerUserId(),
    documentId: uuid('document_id').references(() => documents.id, { onDelete: 'set null' }),
    title: varchar('title', { length: 255 }).notNull(),
    description: text('description'),
    scriptContent: jsonb('script_content').$type<ConversationScript>().notNull(),
    scriptGenerationMode: scriptGenerationModeEnum('script_generation_mode'),
    /** The prompt the script was generated from. */
    generationPrompt: text('generation_prompt'),
    /** content_hash of the source document, when generated from one. */
    sourceDocumentHash: varchar('source_document_hash', { length: 64 }),
    language: varchar('language', { length: 10 }).notNull().default('en'),
    difficultyLevel: varchar('difficulty_level', { length: 20 }).notNull().default('INTERMEDIATE'),
    topicTags: jsonb('topic_tags').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    estimatedDurationMinutes: integer('estimated_duration_minutes'),
    status: conversationStatusEnum('status').notNull().default('ACTIVE'),
    currentTurn: integer('current_turn').notNull().default(0),
    totalTurns: integer('total_turns'),
    /** Which script role the learner plays. */
    userRole: varchar('user_role', { length: 20 }).notNull().default('PERSON_A'),
    isTemplate: boolean('is_template').notNull().default(false),
    isPublic: boolean('is_public').notNull().default(false),
    usageCount: integer('usage_count').notNull().default(0),
    rating: integer('rating'),
    feedback: text('feedback'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    check('conversations_rating_check', sql`${t.rating} >= 1 AND ${t.rating} <= 5`),
    index('idx_conversations_user_id').on(t.userId),
    index('idx_conversations_document_id').on(t.documentId),
    index('idx_conversations_status').on(t.status),
    index('idx_conversations_is_template').on(t.isTemplate),
    index('idx_conversations_created_at').on(t.createdAt),
  ],
);

export const conversationSessions = pgTable(
  'conversation_sessions',
  {
    id: id(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: ownerUserId(),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    endedAt: timestamptz('ended_at'),
    durationSeconds: integer('duration_seconds'),
    completedTurns: integer('completed_turns').notNull().default(0),
    totalTurns: integer('total_turns'),
    completionPercentage: integer('completion_percentage').notNull().default(0),
    overallScore: numeric('overall_score', { precision: 5, scale: 2, mode: 'number' }),
    notes: text('notes'),
    deviceType: varchar('device_type', { length: 50 }).$type<(typeof DEVICE_TYPES)[number]>(),
    createdAt: createdAt(),
  },
  (t) => [
    between('conversation_sessions_completion_percentage_range', t.completionPercentage, 0, 100),
    between('conversation_sessions_overall_score_range', t.overallScore, 0, 100),
    oneOf('conversation_sessions_device_type_values', t.deviceType, DEVICE_TYPES),
    index('idx_conversation_sessions_conversation_id').on(t.conversationId),
    index('idx_conversation_sessions_user_id').on(t.userId),
    index('idx_conversation_sessions_started_at').on(t.startedAt),
  ],
);
