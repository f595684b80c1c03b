import { sql } from 'drizzle-orm';
import { boolean, integer, jsonb, pgTable, text, varchar } from 'drizzle-orm/pg-core';
import { between, createdAt, id, updatedAt } from './columns';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export const systemSettings = pgTable('system_settings', {
  id: id(),
  key: varchar('key', { length: 255 }).notNull().unique('system_settings_key_key'),
  value: jsonb('value').$type<JsonValue>(),
  description: text('description'),
  /** May be exposed to the front end. */
  isPublic: boolean('is_public').notNull().default(false),
  category: varchar('category', { length: 100 }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const featureFlags = pgTable(
  'feature_flags',
  {
    id: id(),
    name: varchar('name', { length: 255 }).notNull().unique('feature_flags_name_key'),
    isEnabled: boolean('is_enabled').notNull().default(false),
    description: text('description'),
    /** User ids or user types the flag is limited to. */
    targetUsers: jsonb('target_users').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    rolloutPercentage: integer('rollout_percentage').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [between('feature_flags_rollout_percentage_range', t.rolloutPercentage, 0, 100)],
);
