/**
 * What the program grants inside PostgreSQL (stacks/inside/database.ts declares it) and what
 * `db:verify` expects to find there (lib/postgres/grants.ts): one definition for both halves.
 */

/** What each role may do with tables and sequences that the migrator creates, now and in later migrations. */
export const TABLE_PRIVILEGES = {
  app: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  readonly: ['SELECT'],
} as const;
export const SEQUENCE_PRIVILEGES = {
  app: ['USAGE', 'SELECT'],
  readonly: ['SELECT'],
} as const;

/** The roles given table, sequence and schema privileges (the keys of TABLE_PRIVILEGES). */
export const GRANTED_ROLES = ['app', 'readonly'] as const;

/** The schema migrations create their tables in. */
export const APP_SCHEMA = 'public';

/**
 * PostgreSQL's predefined role (14 and later) that may read every table, view and sequence, in every
 * schema, present and future, as if granted SELECT and USAGE; it may write nothing. What pg_dump
 * needs, and no more: the backup role is a member instead of collecting grants (drizzle's own schema
 * included) that a later migration could outgrow.
 */
export const READ_ALL_DATA_ROLE = 'pg_read_all_data';

/** The roles Pulumi creates, and deletes with the stack; the migrator, which owns the data, is the prepare step's. */
export const PROVIDER_ROLES = ['app', 'readonly', 'backup'] as const;
