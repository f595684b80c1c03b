import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { readMigrations } from '../lib/migrations/files';
import { seed } from '../lib/migrations/seeder';
import { freshDatabase, type TestDatabase } from './helpers/db';

/**
 * The specification's SQL in database A, our migrations and seeds in database B. B must hold
 * everything A holds with the same meaning; it may be stricter (NOT NULL, more CHECKs, more
 * indexes) and may add the columns listed in EXTRA_COLUMNS.
 */
const SPEC_SQL = fs.readFileSync(path.join(__dirname, 'fixtures', 'spec-schema.sql'), 'utf8');
const EXTRA_COLUMNS = ['documents.search_vector'];

let spec: TestDatabase;
let ours: TestDatabase;
beforeAll(async () => {
  [spec, ours] = await Promise.all([freshDatabase(), freshDatabase({ migrated: true })]);
  await spec.client.query(SPEC_SQL);
  await seed(ours.client, readMigrations());
});
afterAll(async () => {
  await Promise.all([spec?.close(), ours?.close()]);
});

async function rows<T>(client: Client, sql: string): Promise<T[]> {
  return (await client.query(sql)).rows as T[];
}

interface Column {
  key: string;
  type: string;
  notnull: boolean;
  def: string | null;
}

const columns = (c: Client) =>
  rows<Column>(c, `
    SELECT a.attrelid::regclass::text || '.' || a.attname AS key, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS def
      FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid AND t.relkind = 'r' AND t.relnamespace = 'public'::regnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped ORDER BY 1`);

/** Both spellings of a random UUID default, and the spec's bare literals, mean the same. */
function normaliseDefault(def: string | null): string | null {
  if (def === null) return null;
  return def
    .replace(/^uuid_generate_v4\(\)$/, 'gen_random_uuid()')
    .replace(/::character varying$/, '')
    .replace(/^'(.*)'::jsonb$/, (_m, v: string) => `json:${JSON.stringify(JSON.parse(v))}`);
}

describe('the migrated database against the specification', () => {
  it('has exactly the tables of the specification', async () => {
    const tables = (c: Client) => rows<{ t: string }>(c, `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    const expected = await tables(spec.client);
    expect(expected).toHaveLength(15);
    expect(await tables(ours.client)).toEqual(expected);
  });

  it('has every enum with all its labels, in order', async () => {
    const enums = (c: Client) =>
      rows(c, `SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels FROM pg_type t
                JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY 1`);
    const expected = await enums(spec.client);
    expect(expected).toHaveLength(7);
    expect(await enums(ours.client)).toEqual(expected);
  });

  it('has the four extensions', async () => {
    const ext = (c: Client) => rows<{ extname: string }>(c, `SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`);
    expect(await ext(ours.client)).toEqual(await ext(spec.client));
  });

  it('has every column with the same type, a default of the same meaning, and NOT NULL where the spec has it', async () => {
    const theirs = await columns(spec.client);
    const mine = new Map((await columns(ours.client)).map((c) => [c.key, c]));
    const problems: string[] = [];
    for (const col of theirs) {
      const m = mine.get(col.key);
      if (!m) {
        problems.push(`${col.key}: missing`);
        continue;
      }
      if (m.type !== col.type) problems.push(`${col.key}: type ${m.type}, spec ${col.type}`);
      if (col.notnull && !m.notnull) problems.push(`${col.key}: nullable, spec NOT NULL`);
      if (normaliseDefault(m.def) !== normaliseDefault(col.def)) problems.push(`${col.key}: default ${m.def}, spec ${col.def}`);
    }
    expect(problems).toEqual([]);
    const extra = [...mine.keys()].filter((k) => !theirs.some((c) => c.key === k));
    expect(extra).toEqual(EXTRA_COLUMNS);
  });

  it('has every index of the specification, by name, with the same definition', async () => {
    const indexes = (c: Client) =>
      rows<{ name: string; def: string }>(c, `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`);
    const mine = new Map((await indexes(ours.client)).map((i) => [i.name, i.def]));
    const theirs = await indexes(spec.client);
    expect(theirs.length).toBeGreaterThanOrEqual(38);
    // Primary keys, UNIQUE constraints and the spec's own indexes.
    expect(theirs.filter((i) => mine.get(i.name) !== i.def).map((i) => `${i.name}: ours ${mine.get(i.name)}, spec ${i.def}`)).toEqual([]);
  });

  it('has every primary key, unique constraint and CHECK of the specification', async () => {
    const constraints = (c: Client) =>
      rows<{ c: string }>(c, `SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS c
                              FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u', 'c') ORDER BY 1`);
    const mine = new Set((await constraints(ours.client)).map((r) => r.c));
    expect((await constraints(spec.client)).map((r) => r.c).filter((c) => !mine.has(c))).toEqual([]);
  });

  it('has every foreign key with the same columns, target and ON DELETE action', async () => {
    const fks = (c: Client) =>
      rows<{ fk: string }>(c, `SELECT conrelid::regclass::text || ' ' || regexp_replace(pg_get_constraintdef(oid), ' DEFERRABLE INITIALLY DEFERRED$', '') AS fk
                               FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f' ORDER BY 1`);
    const theirs = (await fks(spec.client)).map((r) => r.fk);
    expect(theirs).toHaveLength(20);
    expect((await fks(ours.client)).map((r) => r.fk)).toEqual(theirs);
  });

  it("seeds the spec's system settings and feature flags with the same values", async () => {
    const settings = (c: Client) => rows(c, `SELECT key, value, description, category FROM system_settings ORDER BY key`);
    const flags = (c: Client) => rows(c, `SELECT name, is_enabled, description FROM feature_flags ORDER BY name`);
    expect(await settings(ours.client)).toEqual(await settings(spec.client));
    expect(await flags(ours.client)).toEqual(await flags(spec.client));
  });
});
