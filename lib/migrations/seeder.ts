import { getTableName } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Client } from 'pg';
import * as schema from '../../schema';
import * as demo from '../../schema/seeds/demo';
import { AI_PROVIDERS, FEATURE_FLAGS, SYSTEM_SETTINGS } from '../../schema/seeds/reference';
import { UserFacingError } from '../postgres/connection';
import type { Migration } from './files';
import { migrationStatus } from './runner';

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

/**
 * Inserts what is missing and nothing else: a row that exists (by id or any unique key) is left
 * exactly as it is, so an operator's later change survives every re-run. One transaction.
 */
export async function seed(client: Client, migrations: Migration[], options: { demo?: boolean } = {}): Promise<SeedReport[]> {
  const { pending } = await migrationStatus(client, migrations);
  if (pending.length > 0) {
    throw new UserFacingError(
      `${pending.length} migration(s) not applied yet (${pending.map((m) => m.name).join(', ')}): run \`npm run db:migrate\` first.`,
    );
  }
  const db = drizzle(client, { schema });
  const sets = options.demo ? [...REFERENCE_SEEDS, ...DEMO_SEEDS] : REFERENCE_SEEDS;
  return db.transaction(async (tx) => {
    const reports: SeedReport[] = [];
    for (const { table, rows } of sets) {
      const inserted = await tx.insert(table).values(rows).onConflictDoNothing().returning();
      reports.push({ table: getTableName(table), inserted: inserted.length, alreadyPresent: rows.length - inserted.length });
    }
    return reports;
  });
}
