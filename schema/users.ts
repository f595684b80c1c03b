import { sql } from 'drizzle-orm';
import { boolean, index, inet, integer, jsonb, pgEnum, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { createdAt, id, timestamptz, updatedAt } from './columns';

export const userRoleEnum = pgEnum('user_role', ['USER', 'ADMIN']);

/** Free-form UI preferences; known keys are typed, anything else is allowed. */
export interface UserPreferences {
  locale?: string;
  accent?: string;
  playbackSpeed?: number;
  dailyGoalMinutes?: number;
  [key: string]: unknown;
}

export const users = pgTable(
  'users',
  {
    id: id(),
    email: varchar('email', { length: 255 }).notNull().unique('users_email_key'),
    name: varchar('name', { length: 255 }).notNull(),
    avatarUrl: varchar('avatar_url', { length: 500 }),
    role: userRoleEnum('role').notNull().default('USER'),
    emailVerified: boolean('email_verified').notNull().default(false),
    emailVerificationToken: varchar('email_verification_token', { length: 255 }),
    passwordResetToken: varchar('password_reset_token', { length: 255 }),
    passwordResetExpires: timestamptz('password_reset_expires'),
    lastLogin: timestamptz('last_login'),
    loginCount: integer('login_count').notNull().default(0),
    preferences: jsonb('preferences').$type<UserPreferences>().notNull().default(sql`'{}'::jsonb`),
    subscriptionTier: varchar('subscription_tier', { length: 50 }).notNull().default('FREE'),
    subscriptionExpires: timestamptz('subscription_expires'),
    apiUsageQuota: integer('api_usage_quota').notNull().default(100),
    apiUsageCurrent: integer('api_usage_current').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    index('idx_users_email').on(t.email),
    index('idx_users_role').on(t.role),
    index('idx_users_created_at').on(t.createdAt),
    index('idx_users_email_verified').on(t.emailVerified),
  ],
);

/** `user_id` of a row that belongs to a user and goes when the user is deleted. */
export const ownerUserId = () =>
  uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' });

export const userSessions = pgTable(
  'user_sessions',
  {
    id: id(),
    userId: ownerUserId(),
    token: varchar('token', { length: 255 }).notNull().unique('user_sessions_token_key'),
    ipAddress: inet('ip_address'),
    userAgent: text('user_agent'),
    expiresAt: timestamptz('expires_at').notNull(),
    createdAt: createdAt(),
    lastAccessed: timestamptz('last_accessed').notNull().defaultNow(),
  },
  (t) => [
    index('idx_user_sessions_user_id').on(t.userId),
    index('idx_user_sessions_token').on(t.token),
    index('idx_user_sessions_expires_at').on(t.expiresAt),
  ],
);
