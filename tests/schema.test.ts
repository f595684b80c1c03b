import { createTableRelationsHelpers, extractTablesRelationalConfig, One } from 'drizzle-orm';
import * as schema from '../schema';
import { demoId } from '../schema/seeds/demo';
import { freshDatabase, type TestDatabase } from './helpers/db';

let t: TestDatabase;
beforeAll(async () => {
  t = await freshDatabase({ migrated: true });
});
afterAll(() => t.close());

const q = (sql: string, params: unknown[] = []) => t.client.query(sql, params);
const count = async (table: string, where = 'true', params: unknown[] = []) =>
  Number((await q(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params)).rows[0].n);

/** One learner with a row in every table that hangs off users, numbered from `base`. */
async function learnerWithEverything(base: number) {
  const id = (n: number) => demoId(base + n);
  await q(`INSERT INTO users (id, email, name) VALUES ($1, $2, 'Learner')`, [id(0), `learner${base}@example.com`]);
  await q(`INSERT INTO user_sessions (user_id, token, expires_at) VALUES ($1, $2, now() + interval '1 day')`, [id(0), `tok-${base}`]);
  await q(`INSERT INTO documents (id, user_id, title, content) VALUES ($1, $2, 'Doc', 'Some text')`, [id(1), id(0)]);
  await q(`INSERT INTO document_versions (document_id, version_number, created_by) VALUES ($1, 1, $2)`, [id(1), id(0)]);
  await q(`INSERT INTO conversations (id, user_id, document_id, title, script_content) VALUES ($1, $2, $3, 'Talk', '{"roles":[],"turns":[]}')`, [id(2), id(0), id(1)]);
  await q(`INSERT INTO conversation_sessions (id, conversation_id, user_id) VALUES ($1, $2, $3)`, [id(3), id(2), id(0)]);
  await q(`INSERT INTO audio_recordings (id, user_id, conversation_session_id, conversation_id, turn_number, script_line) VALUES ($1, $2, $3, $4, 1, 'Hello')`, [id(4), id(0), id(3), id(2)]);
  await q(`INSERT INTO audio_processing_results (id, audio_recording_id) VALUES ($1, $2)`, [id(5), id(4)]);
  await q(`INSERT INTO pronunciation_feedback (id, audio_recording_id, user_id, feedback_type) VALUES ($1, $2, $3, 'FLUENCY')`, [id(6), id(4), id(0)]);
  await q(`INSERT INTO user_progress (id, user_id, skill_area) VALUES ($1, $2, 'fluency')`, [id(7), id(0)]);
  await q(`INSERT INTO ai_providers (id, name, display_name) VALUES ($1, 'LOCAL', 'Local') ON CONFLICT (name) DO NOTHING`, [demoId(9999)]);
  const provider = (await q(`SELECT id FROM ai_providers WHERE name = 'LOCAL'`)).rows[0].id;
  await q(`INSERT INTO ai_provider_configs (provider_id, user_id, service_type, configuration) VALUES ($1, $2, 'STT', '{}')`, [provider, id(0)]);
  await q(`INSERT INTO api_usage_logs (user_id, provider_id, service_type) VALUES ($1, $2, 'STT')`, [id(0), provider]);
  return id;
}

describe('foreign keys', () => {
  it('deleting a user cascades to everything they own', async () => {
    const id = await learnerWithEverything(10_000);
    await q(`DELETE FROM users WHERE id = $1`, [id(0)]);
    for (const table of ['user_sessions', 'documents', 'conversations', 'conversation_sessions', 'audio_recordings', 'pronunciation_feedback', 'user_progress', 'ai_provider_configs', 'api_usage_logs']) {
      expect([table, await count(table, 'user_id = $1', [id(0)])]).toEqual([table, 0]);
    }
    expect(await count('document_versions', 'document_id = $1', [id(1)])).toBe(0);
    expect(await count('audio_processing_results', 'id = $1', [id(5)])).toBe(0);
  });

  it('deleting a user who reviewed their own feedback cascades too', async () => {
    const id = await learnerWithEverything(15_000);
    await q(`UPDATE pronunciation_feedback SET reviewed_by = $1 WHERE id = $2`, [id(0), id(6)]);
    await q(`DELETE FROM users WHERE id = $1`, [id(0)]);
    expect(await count('pronunciation_feedback', 'id = $1', [id(6)])).toBe(0);
  });

  it('deleting a document keeps its conversations (document_id set to NULL) and drops its versions', async () => {
    const id = await learnerWithEverything(20_000);
    await q(`DELETE FROM documents WHERE id = $1`, [id(1)]);
    expect((await q(`SELECT document_id FROM conversations WHERE id = $1`, [id(2)])).rows).toEqual([{ document_id: null }]);
    expect(await count('document_versions', 'document_id = $1', [id(1)])).toBe(0);
  });

  it('deleting a practice session deletes its recordings and their results', async () => {
    const id = await learnerWithEverything(30_000);
    await q(`DELETE FROM conversation_sessions WHERE id = $1`, [id(3)]);
    expect(await count('audio_recordings', 'id = $1', [id(4)])).toBe(0);
    expect(await count('pronunciation_feedback', 'id = $1', [id(6)])).toBe(0);
    expect(await count('conversations', 'id = $1', [id(2)])).toBe(1);
  });

  it("keeps the spec's NO ACTION on authorship: a user who reviewed someone else's feedback cannot be deleted", async () => {
    const id = await learnerWithEverything(40_000);
    const reviewer = demoId(40_100);
    await q(`INSERT INTO users (id, email, name) VALUES ($1, 'reviewer40@example.com', 'Reviewer')`, [reviewer]);
    await q(`UPDATE pronunciation_feedback SET reviewed_by = $1 WHERE id = $2`, [reviewer, id(6)]);
    await expect(q(`DELETE FROM users WHERE id = $1`, [reviewer])).rejects.toMatchObject({ code: '23503' });
    const author = demoId(40_200);
    await q(`INSERT INTO users (id, email, name) VALUES ($1, 'author40@example.com', 'Author')`, [author]);
    await q(`INSERT INTO document_versions (document_id, version_number, created_by) VALUES ($1, 2, $2)`, [id(1), author]);
    await expect(q(`DELETE FROM users WHERE id = $1`, [author])).rejects.toMatchObject({ code: '23503' });
  });

  it('has a Drizzle relation for every foreign key', async () => {
    const { tables } = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
    const declared = new Set<string>();
    for (const table of Object.values(tables)) {
      for (const relation of Object.values(table.relations)) {
        if (relation instanceof One && relation.config) {
          declared.add(`${table.dbName}(${relation.config.fields.map((f) => f.name).join(',')})`);
        }
      }
    }
    const { rows } = await q(`
      SELECT c.conrelid::regclass::text AS tbl, string_agg(a.attname, ',' ORDER BY k.i) AS cols
        FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, i)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
       WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace GROUP BY c.oid, c.conrelid`);
    expect(rows.length).toBe(20);
    expect(rows.map((r) => `${r.tbl}(${r.cols})`).filter((fk) => !declared.has(fk))).toEqual([]);
  });
});

describe('CHECK constraints', () => {
  let id: (n: number) => string;
  beforeAll(async () => {
    id = await learnerWithEverything(50_000);
    await q(`INSERT INTO feature_flags (id, name) VALUES ($1, 'check_test')`, [demoId(50_050)]);
  });

  // [table, row id offset (or the flag), column, accepted boundary values, rejected values]
  const cases: [string, number, string, unknown[], unknown[]][] = [
    ['documents', 1, 'processing_progress', [0, 100], [-1, 101]],
    ['conversations', 2, 'rating', [1, 5], [0, 6]],
    ['conversation_sessions', 3, 'completion_percentage', [0, 100], [-1, 101]],
    ['conversation_sessions', 3, 'overall_score', [0, 100], [-0.01, 100.01]],
    ['conversation_sessions', 3, 'device_type', ['DESKTOP', 'MOBILE', 'TABLET'], ['WATCH', 'desktop']],
    ['audio_recordings', 4, 'recording_quality', ['LOW', 'STANDARD', 'HIGH'], ['ULTRA']],
    ['audio_processing_results', 5, 'confidence_score', [0, 1], [-0.01, 1.01]],
    ['pronunciation_feedback', 6, 'overall_score', [0, 100], [-0.01, 100.01]],
    ['pronunciation_feedback', 6, 'confidence_level', [0, 1], [1.5]],
    ['user_progress', 7, 'skill_area', ['pronunciation', 'fluency', 'rhythm', 'intonation'], ['grammar', 'Fluency']],
    ['user_progress', 7, 'current_level', [0, 100], [-1, 100.5]],
    ['user_progress', 7, 'target_level', [0, 100], [101]],
    ['user_progress', 7, 'average_session_score', [0, 100], [-5]],
    ['feature_flags', 50, 'rollout_percentage', [0, 100], [-1, 101]],
  ];

  it.each(cases)('%s: %s accepts the boundaries and rejects values outside', async (table, row, column, good, bad) => {
    const rowId = id(row);
    for (const value of good) {
      await q(`UPDATE ${table} SET ${column} = $1 WHERE id = $2`, [value, rowId]);
      expect((await q(`SELECT ${column}::text AS v FROM ${table} WHERE id = $1`, [rowId])).rows[0].v).toBe(String(value).replace(/^(\d+)$/, (m) => (['overall_score', 'confidence_score', 'confidence_level', 'current_level', 'target_level', 'average_session_score'].includes(column) ? `${m}.00` : m)));
    }
    for (const value of bad) {
      await expect(q(`UPDATE ${table} SET ${column} = $1 WHERE id = $2`, [value, rowId])).rejects.toMatchObject({ code: '23514' });
    }
  });

  it('every CHECK is exercised above or is the rating check of the spec', async () => {
    const { rows } = await q(`SELECT conrelid::regclass::text AS tbl, conname FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace`);
    const exercised = new Set(cases.map(([table, , column]) => `${table}.${column}`));
    const unexercised = rows.filter((r) => ![...exercised].some((key) => key.startsWith(`${r.tbl}.`) && r.conname.includes(key.split('.')[1])));
    expect(unexercised).toEqual([]);
    expect(rows.length).toBe(cases.length);
  });
});

describe('updated_at', () => {
  it('is set by the database on every UPDATE, whoever issues it', async () => {
    const userId = demoId(60_000);
    await q(`INSERT INTO users (id, email, name, created_at, updated_at) VALUES ($1, 'u60@example.com', 'A', '2001-01-01', '2001-01-01')`, [userId]);
    await q(`UPDATE users SET name = 'B' WHERE id = $1`, [userId]);
    const { rows } = await q(`SELECT created_at, updated_at, now() - updated_at < interval '1 minute' AS fresh FROM users WHERE id = $1`, [userId]);
    expect(rows[0].fresh).toBe(true);
    expect(rows[0].created_at.toISOString()).toBe(new Date('2001-01-01T00:00:00Z').toISOString());
  });

  it('has a trigger on every table with an updated_at column', async () => {
    const { rows } = await q(`
      SELECT c.table_name FROM information_schema.columns c
       WHERE c.table_schema = 'public' AND c.column_name = 'updated_at'
         AND NOT EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = ('public.' || c.table_name)::regclass
                          AND NOT tg.tgisinternal AND tg.tgfoid = 'set_updated_at'::regproc)`);
    expect(rows).toEqual([]);
    const withColumn = await count('information_schema.columns', `table_schema = 'public' AND column_name = 'updated_at'`);
    expect(withColumn).toBe(9);
  });
});

describe('types', () => {
  it('stores every timestamp with its time zone', async () => {
    const { rows } = await q(`SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'`);
    expect(rows).toEqual([]);
  });
});
