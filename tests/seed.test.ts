import * as net from 'node:net';
import { eq } from 'drizzle-orm';
import { getTableName } from 'drizzle-orm';
import { readMigrations } from '../lib/migrations/files';
import { DEMO_SEEDS, REFERENCE_SEEDS } from '../lib/migrations/seeder';
import { aiProviderEnum, aiProviders, featureFlags, systemSettings, users } from '../schema';
import { DEMO_USER_ID } from '../schema/seeds/demo';
import { AUDIO_RETENTION_DAYS } from '../schema/seeds/reference';
import { freshDatabase, npmRun, tableContents, type TestDatabase } from './helpers/db';
import { sharedServer } from './helpers/shared-server';

const referenceTables = REFERENCE_SEEDS.map((s) => getTableName(s.table));
const demoTables = DEMO_SEEDS.map((s) => getTableName(s.table));

async function snapshot(t: TestDatabase, tables: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of tables) out[table] = await tableContents(t.client, table);
  return out;
}

describe('npm run db:seed', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await freshDatabase({ migrated: true });
  });
  afterEach(() => t.close());

  it('loads every AI provider, the seven settings and the four feature flags', async () => {
    const r = await npmRun('db:seed', [], { DATABASE_URL: t.url });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('16 rows inserted');

    const providers = await t.db.select().from(aiProviders).orderBy(aiProviders.name);
    expect(providers.map((p) => p.name).sort()).toEqual([...aiProviderEnum.enumValues].sort());
    for (const p of providers) {
      expect(p.displayName).not.toBe('');
      expect(p.apiEndpointBase).toMatch(/^https?:\/\//);
      expect(p.supportedFeatures?.length).toBeGreaterThan(0);
    }

    const settings = Object.fromEntries((await t.db.select().from(systemSettings)).map((s) => [s.key, s.value]));
    expect(settings).toEqual({
      max_file_size_mb: 50,
      allowed_file_types: ['pdf', 'docx', 'txt'],
      default_tts_provider: 'OPENAI',
      default_stt_provider: 'OPENAI',
      default_llm_provider: 'OPENAI',
      free_tier_quota_per_day: 10,
      audio_retention_days: AUDIO_RETENTION_DAYS,
    });
    const flags = await t.db.select().from(featureFlags).orderBy(featureFlags.name);
    expect(flags.map((f) => [f.name, f.isEnabled])).toEqual([
      ['advanced_feedback', false],
      ['offline_mode', false],
      ['real_time_processing', false],
      ['social_features', false],
    ]);
  });

  it('changes nothing when run again: same rows, same contents', async () => {
    await npmRun('db:seed', [], { DATABASE_URL: t.url });
    const first = await snapshot(t, referenceTables);
    const again = await npmRun('db:seed', [], { DATABASE_URL: t.url });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 rows inserted');
    expect(await snapshot(t, referenceTables)).toEqual(first);
  });

  it("never overwrites a value an operator has changed since", async () => {
    await npmRun('db:seed', [], { DATABASE_URL: t.url });
    await t.db.update(systemSettings).set({ value: 30 }).where(eq(systemSettings.key, 'audio_retention_days'));
    await t.db.update(featureFlags).set({ isEnabled: true, rolloutPercentage: 25 }).where(eq(featureFlags.name, 'offline_mode'));
    await t.db.update(aiProviders).set({ isConfigured: true, apiEndpointBase: 'https://proxy.internal/openai' }).where(eq(aiProviders.name, 'OPENAI'));
    const changed = await snapshot(t, referenceTables);

    expect((await npmRun('db:seed', [], { DATABASE_URL: t.url })).code).toBe(0);
    expect(await snapshot(t, referenceTables)).toEqual(changed);
    const [retention] = await t.db.select().from(systemSettings).where(eq(systemSettings.key, 'audio_retention_days'));
    expect(retention.value).toBe(30);
  });

  it('--demo loads a coherent demo data set, idempotently', async () => {
    const first = await npmRun('db:seed', ['--demo'], { DATABASE_URL: t.url });
    expect(first.code).toBe(0);
    const contents = await snapshot(t, [...referenceTables, ...demoTables]);
    for (const table of demoTables) expect(contents[table].length).toBeGreaterThan(0);

    // Coherent: the whole graph hangs together through the relations.
    const learner = await t.db.query.users.findFirst({
      where: eq(users.id, DEMO_USER_ID),
      with: {
        documents: true,
        progress: true,
        conversations: { with: { document: true, sessions: { with: { audioRecordings: { with: { feedback: true, processingResults: true } } } } } },
      },
    });
    expect(learner?.documents).toHaveLength(3);
    expect(learner?.progress.map((p) => p.skillArea).sort()).toEqual(['fluency', 'intonation', 'pronunciation', 'rhythm']);
    const conversation = learner!.conversations[0];
    expect(conversation.document?.title).toBe('At the coffee shop');
    expect(conversation.scriptContent.turns.length).toBe(conversation.totalTurns);
    const recordings = conversation.sessions[0].audioRecordings;
    expect(recordings).toHaveLength(2);
    for (const rec of recordings) {
      expect(conversation.scriptContent.turns.find((turn) => turn.turn === rec.turnNumber)?.text).toBe(rec.scriptLine);
      expect(rec.feedback).toHaveLength(1);
      expect(rec.processingResults).toHaveLength(1);
    }

    const second = await npmRun('db:seed', ['--demo'], { DATABASE_URL: t.url });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('0 rows inserted');
    expect(await snapshot(t, [...referenceTables, ...demoTables])).toEqual(contents);
  });
});

describe('npm run db:studio', () => {
  it('exits non-zero when studio cannot start', async () => {
    const t = await freshDatabase({ migrated: true });
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const r = await npmRun('db:studio', ['--port', String((busy.address() as net.AddressInfo).port)], { DATABASE_URL: t.url });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('is in use: choose another with --port.');
      expect(`${r.stdout}${r.stderr}`).not.toContain(sharedServer().password);
    } finally {
      busy.close();
      await t.close();
    }
  });
});

describe('seeding a database that is not migrated', () => {
  it('fails with the fix, inserting nothing', async () => {
    const t = await freshDatabase();
    try {
      const r = await npmRun('db:seed', [], { DATABASE_URL: t.url });
      expect(r.code).toBe(1);
      const names = readMigrations().map((m) => m.name);
      expect(r.stderr).toContain(`${names.length} migration(s) not applied yet (${names.join(', ')}): run \`npm run db:migrate\` first.`);
      expect(await t.client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'drizzle'`)).toMatchObject({ rowCount: 0 });
    } finally {
      await t.close();
    }
  });
});
