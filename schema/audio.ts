import {
  bigint,
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
import { between, createdAt, id, oneOf, timestamptz } from './columns';
import { conversations, conversationSessions } from './conversations';
import { ownerUserId } from './users';

export const audioFormatEnum = pgEnum('audio_format', ['WEBM', 'MP3', 'WAV', 'OGG']);

export const RECORDING_QUALITIES = ['LOW', 'STANDARD', 'HIGH'] as const;

/** Timing of one recognised word, in seconds from the start of the recording. */
export interface WordTimestamp {
  word: string;
  start: number;
  end: number;
  confidence?: number;
}

export interface AlternativeTranscription {
  text: string;
  confidence: number;
}

export const audioRecordings = pgTable(
  'audio_recordings',
  {
    id: id(),
    userId: ownerUserId(),
    conversationSessionId: uuid('conversation_session_id').references(() => conversationSessions.id, {
      onDelete: 'cascade',
    }),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    turnNumber: integer('turn_number').notNull(),
    /** The script line the learner was meant to say. */
    scriptLine: text('script_line').notNull(),
    originalFilename: varchar('original_filename', { length: 255 }),
    fileSize: bigint('file_size', { mode: 'number' }),
    fileMimeType: varchar('file_mime_type', { length: 100 }),
    filePath: varchar('file_path', { length: 500 }),
    storageProvider: varchar('storage_provider', { length: 50 }).notNull().default('MINIO'),
    audioFormat: audioFormatEnum('audio_format'),
    durationSeconds: numeric('duration_seconds', { precision: 10, scale: 3, mode: 'number' }),
    sampleRate: integer('sample_rate'),
    bitRate: integer('bit_rate'),
    channels: integer('channels'),
    recordingQuality: varchar('recording_quality', { length: 20 })
      .$type<(typeof RECORDING_QUALITIES)[number]>()
      .notNull()
      .default('STANDARD'),
    backgroundNoiseLevel: numeric('background_noise_level', { precision: 5, scale: 2, mode: 'number' }),
    createdAt: createdAt(),
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    oneOf('audio_recordings_recording_quality_values', t.recordingQuality, RECORDING_QUALITIES),
    index('idx_audio_recordings_user_id').on(t.userId),
    index('idx_audio_recordings_session_id').on(t.conversationSessionId),
    index('idx_audio_recordings_conversation_id').on(t.conversationId),
    index('idx_audio_recordings_created_at').on(t.createdAt),
  ],
);

export const audioProcessingResults = pgTable(
  'audio_processing_results',
  {
    id: id(),
    audioRecordingId: uuid('audio_recording_id')
      .notNull()
      .references(() => audioRecordings.id, { onDelete: 'cascade' }),
    /** What the speech-to-text service understood. */
    transcription: text('transcription'),
    confidenceScore: numeric('confidence_score', { precision: 5, scale: 2, mode: 'number' }),
    /** whisper, deepgram, ... */
    processingProvider: varchar('processing_provider', { length: 50 }),
    processingTimeMs: integer('processing_time_ms'),
    /** USD; a string so that no cent is lost to floating point. */
    processingCost: numeric('processing_cost', { precision: 10, scale: 6 }),
    wordTimestamps: jsonb('word_timestamps').$type<WordTimestamp[]>(),
    alternativeTranscriptions: jsonb('alternative_transcriptions').$type<AlternativeTranscription[]>(),
    createdAt: createdAt(),
  },
  (t) => [
    between('audio_processing_results_confidence_score_range', t.confidenceScore, 0, 1),
    index('idx_audio_processing_results_audio_id').on(t.audioRecordingId),
  ],
);
