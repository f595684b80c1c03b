import { getTableColumns, getTableName } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Client } from 'pg';
import * as schema from '../../schema';
import * as demo from '../../schema/seeds/demo';
import { AI_PROVIDERS, FEATURE_FLAGS, SYSTEM_SETTINGS } from '../../schema/seeds/reference';
import { UserFacingError } from '../postgres/connection';
import type { Migration } from './files';
import {
  boundedQuery,
  connectionLost,
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  describeServer,
  INSUFFICIENT_PRIVILEGE,
  isClosed,
  MigrationError,
  migrationStatus,
  NoAnswer,
  notMigrator,
  sessionRole,
  type SessionRole,
} from './runner';

interface SeedSet {
  table: PgTable;
  rows: Record<string, unknown>[];
}

/** Reference data every environment needs, in foreign-key order. */
export const REFERENCE_SEEDS: SeedSet[] = [
  { table: schema.aiProviders, rows: AI_PROVIDERS },
  { table: schema.systemSettings, rows: SYSTEM_SETTINGS },
  { table: schema.featureFlags, rows: FEATURE_FLAGS },
];

export const DEMO_SEEDS: SeedSet[] = [
  { table: schema.users, rows: demo.DEMO_USERS },
  { table: schema.documents, rows: demo.DEMO_DOCUMENTS },
  { table: schema.documentVersions, rows: demo.DEMO_DOCUMENT_VERSIONS },
  { table: schema.conversations, rows: demo.DEMO_CONVERSATIONS },
  { table: schema.conversationSessions, rows: demo.DEMO_SESSIONS },
  { table: schema.audioRecordings, rows: demo.DEMO_RECORDINGS },
  { table: schema.audioProcessingResults, rows: demo.DEMO_PROCESSING_RESULTS },
  { table: schema.pronunciationFeedback, rows: demo.DEMO_FEEDBACK },
  { table: schema.userProgress, rows: demo.DEMO_PROGRESS },
];

export interface SeedReport {
  table: string;
  inserted: number;
  alreadyPresent: number;
}

export interface SeedOptions {
  demo?: boolean;
  /** How long any one query may go without an answer. */
  queryTimeoutSeconds?: number;
}

/** A server message is quoted at most this long: one about a value (a bad type, say) quotes the value, which may be a whole document. */
const MAX_SERVER_MESSAGE = 200;

interface PgError {
  message?: string;
  code?: string;
  constraint?: string;
}

/** How a seed row is named in a message: its primary key, else a unique column, the way the seeds give it. */
function rowKey(table: PgTable, row: Record<string, unknown>, index: number, count: number): string {
  const columns = Object.entries(getTableColumns(table));
  const keys = [...columns.filter(([, c]) => c.primary), ...columns.filter(([, c]) => c.isUnique)];
  const key = keys.find(([field]) => typeof row[field] === 'string' || typeof row[field] === 'number');
  return `row ${index + 1} of ${count}${key ? ` (${key[1].name} ${JSON.stringify(row[key[0]])})` : ''}`;
}

/** The server's words about a failed statement, without the statement or its parameters. */
function serverWords(e: PgError): string {
  const message = e.message ?? 'no message';
  const capped = message.length > MAX_SERVER_MESSAGE ? `${message.slice(0, MAX_SERVER_MESSAGE)} ...` : message;
  return `${capped}${e.constraint ? ` (constraint ${e.constraint})` : ''}`;
}

/** Errors the caller words itself (no answer, a lost connection, a role that may not seed) pass through. */
function passesThrough(error: unknown, who: SessionRole): boolean {
  const e = error as PgError;
  return error instanceof NoAnswer || connectionLost(e) || (e.code === INSUFFICIENT_PRIVILEGE && !who.mayMigrate);
}

const ROLLED_BACK = 'nothing was seeded (the seed runs in one transaction, rolled back)';

/**
 * Inserts what is missing and nothing else: a row that exists (by id or any unique key) is left
 * exactly as it is, so an operator's later change survives every re-run. One transaction. Rows go
 * one at a time, so that a failure names its row; a message never holds a row's values.
 */
export async function seed(client: Client, migrations: Migration[], options: SeedOptions = {}): Promise<SeedReport[]> {
  const bound = options.queryTimeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS;
  let who: SessionRole | undefined;
  try {
    who = await sessionRole(client, bound);
    const { pending } = await migrationStatus(client, migrations, bound);
    if (pending.length > 0) {
      throw new UserFacingError(
        `${pending.length} migration(s) not applied yet (${pending.map((m) => m.name).join(', ')}): run \`npm run db:migrate\` first.`,
      );
    }
    // Only to build the statements: they run through boundedQuery, each with its bound.
    const builder = drizzle(client, { schema });
    const sets = options.demo ? [...REFERENCE_SEEDS, ...DEMO_SEEDS] : REFERENCE_SEEDS;
    await boundedQuery(client, 'BEGIN', undefined, bound);
    try {
      const reports: SeedReport[] = [];
      for (const { table, rows } of sets) {
        let inserted = 0;
        for (const [index, row] of rows.entries()) {
          // toSQL() gives the parameters as the driver takes them (drizzle-orm sql/sql.js, mapToDriverValue), as its own execution does.
          const { sql, params } = builder.insert(table).values(row).onConflictDoNothing().toSQL();
          try {
            inserted += (await boundedQuery(client, sql, params, bound)).rowCount ?? 0;
          } catch (error) {
            if (passesThrough(error, who)) throw error;
            throw new MigrationError(`seeding table ${getTableName(table)} failed at ${rowKey(table, row, index, rows.length)}: ${serverWords(error as PgError)}; ${ROLLED_BACK}.`);
          }
        }
        reports.push({ table: getTableName(table), inserted, alreadyPresent: rows.length - inserted });
      }
      try {
        await boundedQuery(client, 'COMMIT', undefined, bound);
      } catch (error) {
        if (passesThrough(error, who)) throw error;
        // Deferred checks run at COMMIT: no single row to name.
        throw new MigrationError(`seeding failed at COMMIT, where the deferred checks run: ${serverWords(error as PgError)}; ${ROLLED_BACK}.`);
      }
      return reports;
    } catch (error) {
      if (!isClosed(client)) await boundedQuery(client, 'ROLLBACK', undefined, bound).catch(() => undefined);
      throw error;
    }
  } catch (error) {
    if (error instanceof NoAnswer) {
      throw new MigrationError(
        `${describeServer(client)} gave no answer within ${error.seconds} s while seeding (--query-timeout); the connection was closed, ` +
          "so nothing of the seed is committed. Check the server's load and logs, then run db:seed again.",
      );
    }
    const e = error as PgError;
    if (connectionLost(e)) {
      throw new MigrationError(
        `lost the connection to the server while seeding (${e.message ?? 'no message'}). Run db:seed again once the server is ` +
          'reachable: it inserts only what is missing.',
      );
    }
    if (e.code === INSUFFICIENT_PRIVILEGE && who && !who.mayMigrate) throw notMigrator(who, e.message ?? String(error), 'seeds', 'nothing was seeded');
    throw error;
  }
}
