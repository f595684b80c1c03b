import { sql } from 'drizzle-orm';
import {
  boolean,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { audioRecordings } from './audio';
import { between, createdAt, id, oneOf, timestamptz, updatedAt } from './columns';
import { ownerUserId, users } from './users';

/** The skills progress is tracked for (the specification's comment on user_progress.skill_area). */
export const SKILL_AREAS = ['pronunciation', 'fluency', 'rhythm', 'intonation'] as const;
export type SkillArea = (typeof SKILL_AREAS)[number];

export const feedbackTypeEnum = pgEnum('feedback_type', ['PRONUNCIATION', 'FLUENCY', 'RHYTHM', 'INTONATION']);

/** Score per category, 0-100, e.g. { vowels: 82, consonants: 74 }. */
export type CategoryScores = Record<string, number>;

export interface PhonemeAssessment {
  phoneme: string;
  expected: string;
  actual?: string;
  score: number;
}

export interface WordFeedback {
  word: string;
  score: number;
  issue?: string;
  phonemes?: PhonemeAssessment[];
}

export interface ProgressPoint {
  date: string;
  score: number;
}

export const pronunciationFeedback = pgTable(
  'pronunciation_feedback',
  {
    id: id(),
    audioRecordingId: uuid('audio_recording_id')
      .notNull()
      .references(() => audioRecordings.id, { onDelete: 'cascade' }),
    userId: ownerUserId(),
    feedbackType: feedbackTypeEnum('feedback_type').notNull(),
    overallScore: numeric('overall_score', { precision: 5, scale: 2, mode: 'number' }),
    detailedScores: jsonb('detailed_scores').$type<CategoryScores>(),
    phoneticAccuracy: jsonb('phonetic_accuracy').$type<PhonemeAssessment[]>(),
    wordLevelFeedback: jsonb('word_level_feedback').$type<WordFeedback[]>(),
    suggestions: jsonb('suggestions').$type<string[]>(),
    strengths: jsonb('strengths').$type<string[]>(),
    areasForImprovement: jsonb('areas_for_improvement').$type<string[]>(),
    processingProvider: varchar('processing_provider', { length: 50 }),
    processingModel: varchar('processing_model', { length: 100 }),
    processingTimeMs: integer('processing_time_ms'),
    processingCost: numeric('processing_cost', { precision: 10, scale: 6 }),
    /** How confident the assessor is in its assessment, 0-1. */
    confidenceLevel: numeric('confidence_level', { precision: 5, scale: 2, mode: 'number' }),
    isAutomated: boolean('is_automated').notNull().default(true),
    /** Set when a human reviewed the automated feedback. */
    // NO ACTION, checked at commit: see migrations/0003_deferred_authorship_checks.sql.
    reviewedBy: uuid('reviewed_by').references(() => users.id),
    reviewerNotes: text('reviewer_notes'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    between('pronunciation_feedback_overall_score_range', t.overallScore, 0, 100),
    between('pronunciation_feedback_confidence_level_range', t.confidenceLevel, 0, 1),
    index('idx_pronunciation_feedback_audio_id').on(t.audioRecordingId),
    index('idx_pronunciation_feedback_user_id').on(t.userId),
    index('idx_pronunciation_feedback_type').on(t.feedbackType),
    index('idx_pronunciation_feedback_created_at').on(t.createdAt),
  ],
);

export const userProgress = pgTable(
  'user_progress',
  {
    id: id(),
    userId: ownerUserId(),
    skillArea: varchar('skill_area', { length: 50 }).$type<SkillArea>().notNull(),
    currentLevel: numeric('current_level', { precision: 5, scale: 2, mode: 'number' }),
    targetLevel: numeric('target_level', { precision: 5, scale: 2, mode: 'number' }),
    progressHistory: jsonb('progress_history').$type<ProgressPoint[]>(),
    practiceSessionsCount: integer('practice_sessions_count').notNull().default(0),
    totalPracticeTimeMinutes: integer('total_practice_time_minutes').notNull().default(0),
    averageSessionScore: numeric('average_session_score', { precision: 5, scale: 2, mode: 'number' }),
    lastPracticeDate: timestamptz('last_practice_date'),
    streakDays: integer('streak_days').notNull().default(0),
    longestStreakDays: integer('longest_streak_days').notNull().default(0),
    achievements: jsonb('achievements').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    nextMilestone: varchar('next_milestone', { length: 255 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    oneOf('user_progress_skill_area_values', t.skillArea, SKILL_AREAS),
    between('user_progress_current_level_range', t.currentLevel, 0, 100),
    between('user_progress_target_level_range', t.targetLevel, 0, 100),
    between('user_progress_average_session_score_range', t.averageSessionScore, 0, 100),
    uniqueIndex('idx_user_progress_unique').on(t.userId, t.skillArea),
  ],
);
