import { sql } from 'drizzle-orm';
import { type AnyPgColumn, check, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Column builders shared by every domain. Timestamps are always `timestamptz`: plain `timestamp`
 * silently drops the zone and breaks as soon as a server or client is not on UTC.
 */
export const id = () => uuid('id').primaryKey().defaultRandom();

export const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/** Kept current by the `set_updated_at` trigger (see migrations), not only by the ORM. */
export const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const timestamptz = (name: string) => timestamp(name, { withTimezone: true });

/** CHECK that a nullable or non-null column lies in [min, max]; NULL passes, as SQL checks do. */
export const between = (name: string, column: AnyPgColumn, min: number, max: number) =>
  check(name, sql`${column} BETWEEN ${sql.raw(String(min))} AND ${sql.raw(String(max))}`);

/** CHECK that a text column holds one of a closed list of values. */
export const oneOf = (name: string, column: AnyPgColumn, values: readonly string[]) =>
  check(name, sql`${column} IN (${sql.raw(values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', '))})`);
