/**
 * Non-transactional ("online") migrations (issue 14): a migration whose first line is
 * `-- pa-data: no-transaction` is applied one statement at a time, under the migration lock, and
 * recorded once. On the shared test PostgreSQL: a CREATE INDEX CONCURRENTLY on a table of a few
 * million rows, with writes going on, its runner killed with SIGKILL at random moments or its
 * backend terminated, then run again; ALTER TYPE ... ADD VALUE; a VALIDATE CONSTRAINT that fails.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { Client } from 'pg';
import { ROOT } from '../common/paths';
import { NO_TRANSACTION_MARKER, readMigrations } from '../lib/migrations/files';
import { migrate, MigrationError, PROGRESS_TABLE } from '../lib/migrations/runner';
import { UserFacingError } from '../lib/postgres/connection';
import { freshDatabase, type TestDatabase } from './helpers/db';
import { MigrationsCopy } from './helpers/migrations-copy';
import { mulberry32 } from './helpers/random';

const HISTORY = 'drizzle.__drizzle_migrations';
const BREAK = '\n--> statement-breakpoint\n';
const ROWS = Number(process.env.PA_TEST_ONLINE_ROWS ?? 2_000_000);

/** A marked migration of the given statements. */
const online = (...statements: string[]) => `${NO_TRANSACTION_MARKER}\n${statements.join(BREAK)}\n`;


/** The runner as a child process (tests/helpers/migrate-child.ts), to kill. */
function startRunner(dir: string, url: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tests/helpers/migrate-child.ts'), dir, url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

async function historyOf(client: Client, name: string): Promise<number> {
  return (await client.query(`SELECT count(*)::int AS n FROM ${HISTORY} WHERE name = $1`, [name])).rows[0].n as number;
}

async function progressRows(client: Client): Promise<number> {
  const exists = (await client.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [`drizzle.${PROGRESS_TABLE}`])).rows[0].e as boolean;
  return exists ? ((await client.query(`SELECT count(*)::int AS n FROM drizzle.${PROGRESS_TABLE}`)).rows[0].n as number) : 0;
}

/** 'valid', 'invalid' or undefined (no such index). */
async function indexState(client: Client, index: string): Promise<string | undefined> {
  const { rows } = await client.query(`SELECT indisvalid AND indisready AS v FROM pg_index WHERE indexrelid = to_regclass($1)`, [index]);
  return rows.length === 0 ? undefined : rows[0].v ? 'valid' : 'invalid';
}

/** Waits (bounded) until no backend of a runner (application_name db:migrate...) is left in the database: a killed runner's server process ends once it notices. */
async function runnerBackendsGone(client: Client, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'db:migrate%'`);
    if (rows[0].n === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Inserts into `big` on a connection of its own until stopped, counting what succeeded and what failed. */
function writer(url: string) {
  const client = new Client({ connectionString: url, application_name: 'online-writer' });
  let stop = false;
  const done = (async () => {
    await client.connect();
    let ok = 0;
    const errors: string[] = [];
    let i = 0;
    while (!stop) {
      i++;
      try {
        await client.query('INSERT INTO big (n, payload) VALUES ($1, $2)', [i % 1000, i]);
        if (i % 5 === 0) await client.query('UPDATE big SET payload = payload + 1 WHERE id = $1', [1 + (i % 1000)]);
        ok++;
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    await client.end();
    return { ok, errors };
  })();
  return {
    stop: async () => {
      stop = true;
      return done;
    },
  };
}

describe('a CREATE INDEX CONCURRENTLY migration on a large table under writes', () => {
  let t: TestDatabase;
  let copy: MigrationsCopy;
  let buildMs = 0;
  beforeAll(async () => {
    t = await freshDatabase({ migrated: true });
    copy = new MigrationsCopy();
    await t.client.query('CREATE TABLE big (id bigserial PRIMARY KEY, n integer NOT NULL, payload integer NOT NULL)');
    await t.client.query(`INSERT INTO big (n, payload) SELECT g % 1000, (g::bigint * 7919 % 1000003)::int FROM generate_series(1, ${ROWS}) g`);
    await t.client.query('VACUUM ANALYZE big');
    const started = Date.now();
    await t.client.query('CREATE INDEX CONCURRENTLY probe_idx ON big (payload, n)');
    buildMs = Date.now() - started;
    await t.client.query('DROP INDEX probe_idx');
    console.log(`online migrations: ${ROWS} rows, a concurrent build takes ${buildMs} ms`);
  }, 120_000);
  afterAll(async () => {
    await t.close();
    copy.cleanup();
  });

  it('is applied outside a transaction, under writes that all succeed, and recorded once', async () => {
    copy.add('9001_big_payload_index', online('CREATE INDEX CONCURRENTLY IF NOT EXISTS "big_payload_idx" ON "big" ("payload", "n");'));
    const writes = writer(t.url);
    const r = startRunner(copy.dir, t.url);
    const { code } = await r.exited;
    const { ok, errors } = await writes.stop();
    expect(r.output()).toContain('applied 9001_big_payload_index');
    expect(code).toBe(0);
    expect(errors).toEqual([]);
    expect(ok).toBeGreaterThan(10);
    expect(await indexState(t.client, 'big_payload_idx')).toBe('valid');
    expect(await historyOf(t.client, '9001_big_payload_index')).toBe(1);
    expect(await progressRows(t.client)).toBe(0);
    await t.client.query('DROP INDEX big_payload_idx');
  }, 60_000);

  it('killed with SIGKILL at random moments, a rerun finishes it: recorded once, the index valid, every write done', async () => {
    const seed = Number(process.env.PA_TEST_SEED ?? Date.now() % 1_000_000);
    console.log(`online migrations: SIGKILL moments from seed ${seed} (PA_TEST_SEED=${seed} replays them)`);
    const next = mulberry32(seed); // a failing run's moments can be replayed (PA_TEST_SEED)
    const writes = writer(t.url);
    const outcomes: string[] = [];
    try {
      for (let k = 0; k < 4; k++) {
        const name = `90${10 + k}_big_index_${k}`;
        const index = `big_idx_${k}`;
        copy.add(name, online(`CREATE INDEX CONCURRENTLY IF NOT EXISTS "${index}" ON "big" ("payload", "n", "id");`));
        const first = startRunner(copy.dir, t.url);
        // From the child's start-up (about a second of it is loading TypeScript) to past the build's end.
        const delay = Math.round(300 + next() * (1500 + buildMs * 1.3));
        const timer = setTimeout(() => first.child.kill('SIGKILL'), delay);
        const ended = await first.exited;
        clearTimeout(timer);
        // The killed run's server process builds on until it notices its client is gone
        // (client_connection_check_interval) or the build ends: its state is final once it has left.
        expect(await runnerBackendsGone(t.client, 30)).toBe(true);
        const state = await indexState(t.client, index);
        outcomes.push(`${name}: killed after ${delay} ms: ${ended.signal ?? `exit ${ended.code}`}, index ${state ?? 'absent'}, history ${await historyOf(t.client, name)}`);
        // Never counted as applied with its index unfinished.
        if ((await historyOf(t.client, name)) > 0) expect(state).toBe('valid');
        const rerun = startRunner(copy.dir, t.url);
        const again = await rerun.exited;
        expect(rerun.output()).not.toMatch(/error|refusing/i);
        expect(again.code).toBe(0);
        // The killed run's backend is gone, so what the rerun finds is what was read: an INVALID index
        // (the build cut short) is rebuilt, and said so; a valid one or none is not.
        const rebuilt = rerun.output().includes(`index "${index}" is INVALID (an interrupted build); dropping it and building it again`);
        expect(rebuilt).toBe(state === 'invalid');
        outcomes.push(`  rerun: ${rebuilt ? 'found it INVALID, rebuilt it' : ended.code === 0 ? 'nothing left to do' : 'resumed'}`);
        expect(await historyOf(t.client, name)).toBe(1);
        expect(await indexState(t.client, index)).toBe('valid');
        expect(await progressRows(t.client)).toBe(0);
        await t.client.query(`DROP INDEX ${index}`);
      }
    } finally {
      console.log(`online migrations:\n  ${outcomes.join('\n  ')}`);
      const { ok, errors } = await writes.stop();
      expect(errors).toEqual([]);
      expect(ok).toBeGreaterThan(10);
    }
  }, 90_000);

  it('a second run waiting for the lock during a concurrent build does not deadlock it: it waits, then finds nothing to do', async () => {
    const name = '9030_big_index_waited_for';
    copy.add(name, online('CREATE INDEX CONCURRENTLY IF NOT EXISTS "big_idx_w" ON "big" ("payload", "id");'));
    const first = new Client({ connectionString: t.url, application_name: 'online-runner-first' });
    const second = new Client({ connectionString: t.url, application_name: 'online-runner-second' });
    // A transaction with a snapshot older than the build, which the build's last phase waits for: it
    // keeps the build going, whatever the machine's speed, until the second run is seen waiting.
    const older = new Client({ connectionString: t.url, application_name: 'online-older-snapshot' });
    await first.connect();
    await second.connect();
    await older.connect();
    await older.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await older.query('SELECT count(*) FROM pg_class');
    try {
      const firstRun = migrate(first, readMigrations(copy.dir)).then(
        (r) => r.appliedNow.map((m) => m.name),
        (e: unknown) => e as Error,
      );
      let building = false;
      for (let i = 0; i < 400 && !building; i++) {
        await new Promise((r) => setTimeout(r, 10));
        building =
          (await t.client.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'online-runner-first' AND backend_type = 'client backend' AND query LIKE '%CREATE INDEX CONCURRENTLY%' AND state = 'active'`))
            .rowCount === 1;
      }
      expect(building).toBe(true);
      const lines: string[] = [];
      const secondRun = migrate(second, readMigrations(copy.dir), { log: (l) => lines.push(l) }).then(
        (r) => r.appliedNow.map((m) => m.name),
        (e: unknown) => e as Error,
      );
      for (let i = 0; i < 1000 && !lines.some((l) => l.startsWith('waiting up to')); i++) await new Promise((r) => setTimeout(r, 10));
      // Both still going: the build waits for the older snapshot, the second run for the lock.
      const stillBuilding = await t.client.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'online-runner-first' AND backend_type = 'client backend' AND query LIKE '%CREATE INDEX CONCURRENTLY%' AND state = 'active'`);
      expect(stillBuilding.rowCount).toBe(1);
      await older.query('COMMIT');
      expect(await firstRun).toEqual([name]);
      expect(await secondRun).toEqual([]);
      expect(lines.join('\n')).toMatch(/waiting up to \d+ s for another migration run to finish: its PostgreSQL session \(backend pid \d+.*application_name "online-runner-first"/);
      expect(await indexState(t.client, 'big_idx_w')).toBe('valid');
      expect(await historyOf(t.client, name)).toBe(1);
    } finally {
      await older.query('ROLLBACK').catch(() => undefined);
      await older.end();
      await first.end();
      await second.end();
    }
    await t.client.query('DROP INDEX big_idx_w');
  }, 60_000);

  it('with its connection terminated during the build, says so; the rerun drops the INVALID index and builds it again', async () => {
    const name = '9020_big_index_terminated';
    copy.add(name, online('CREATE INDEX CONCURRENTLY IF NOT EXISTS "big_idx_t" ON "big" ("n", "payload");'));
    const runner = new Client({ connectionString: t.url, application_name: 'doomed-online-runner' });
    runner.on('error', () => undefined);
    await runner.connect();
    const running = migrate(runner, readMigrations(copy.dir)).catch((e: unknown) => e);
    let terminated = 0;
    for (let i = 0; i < 200 && terminated === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      ({ rowCount: terminated } = (await t.client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doomed-online-runner' AND query LIKE '%CREATE INDEX CONCURRENTLY%' AND state = 'active' AND backend_type = 'client backend'`,
      )) as { rowCount: number });
    }
    const error = await running;
    await runner.end().catch(() => undefined);
    expect(terminated).toBe(1);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/lost the connection to the server while applying \S*9020_big_index_terminated\.sql .*not recorded as applied/);
    expect(await historyOf(t.client, name)).toBe(0);
    expect(await indexState(t.client, 'big_idx_t')).toBe('invalid');
    const lines: string[] = [];
    const result = await migrate(t.client, readMigrations(copy.dir), { log: (l) => lines.push(l) });
    expect(result.appliedNow.map((m) => m.name)).toEqual([name]);
    expect(lines.join('\n')).toContain('index "big_idx_t" is INVALID (an interrupted build); dropping it and building it again');
    expect(await indexState(t.client, 'big_idx_t')).toBe('valid');
    expect(await historyOf(t.client, name)).toBe(1);
    expect(await progressRows(t.client)).toBe(0);
  }, 60_000);
});

describe('other online migrations', () => {
  let t: TestDatabase;
  let copy: MigrationsCopy;
  beforeEach(async () => {
    t = await freshDatabase({ migrated: true });
    copy = new MigrationsCopy();
  });
  afterEach(async () => {
    await t.close();
    copy.cleanup();
  });

  it('adds an enum value and uses it in the same migration, which a transaction could not', async () => {
    copy.add('9001_moods', "CREATE TYPE mood AS ENUM ('happy', 'sad');\n--> statement-breakpoint\nCREATE TABLE moods (id serial PRIMARY KEY, m mood NOT NULL);");
    copy.add('9002_calm', online("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'calm' AFTER 'happy';", "INSERT INTO moods (m) VALUES ('calm');"));
    const result = await migrate(t.client, readMigrations(copy.dir));
    expect(result.appliedNow.map((m) => m.name)).toEqual(['9001_moods', '9002_calm']);
    expect((await t.client.query('SELECT enum_range(NULL::mood)::text AS r')).rows[0].r).toBe('{happy,calm,sad}');
    expect(await historyOf(t.client, '9002_calm')).toBe(1);

    // The same in a transactional migration fails: the value is not usable before it commits.
    copy.add('9003_excited', "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'excited';\n--> statement-breakpoint\nINSERT INTO moods (m) VALUES ('excited');");
    const error = await migrate(t.client, readMigrations(copy.dir)).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toContain('unsafe use of new value "excited" of enum type mood');
  });

  it('refuses, before anything runs, a bare statement a rerun could not repeat, one that cannot run bare, SET LOCAL, two commands in one statement, a misplaced marker', () => {
    // Run in a transaction of its own with its progress: no IF NOT EXISTS needed.
    copy.add(
      '9000_ok',
      online(
        "ALTER TYPE mood ADD VALUE 'calm';",
        'CREATE INDEX "y_idx" ON "users" ("email");',
        'DROP INDEX "y_idx";',
        "DO $$ BEGIN PERFORM 1; -- no COMMIT here\n RAISE NOTICE 'rollback'; END $$;",
        'RESET search_path;',
        'RESET ROLE;',
        'REINDEX INDEX "users_pkey";',
        'ALTER SUBSCRIPTION "s" SET PUBLICATION "p" WITH (refresh = false);',
        'ALTER TABLE "parted" DETACH PARTITION "parted_1";',
        'DISCARD PLANS;',
      ),
    );
    copy.add('9001_a', online('DROP INDEX CONCURRENTLY "x_idx";', 'VACUUM "users";', "SET LOCAL lock_timeout = '1s';"));
    copy.add('9002_b', online('CREATE INDEX CONCURRENTLY "x_idx" ON "users" ("email");'));
    copy.add('9003_c', online('SELECT 1; SELECT 2;'));
    copy.add('9004_d', `SELECT 1;\n${NO_TRANSACTION_MARKER}\n`);
    copy.add(
      '9005_e',
      online(
        'REINDEX SCHEMA "public";',
        'REINDEX (VERBOSE) INDEX CONCURRENTLY "users_pkey";',
        'ALTER TABLE "parted" DETACH PARTITION "parted_1" CONCURRENTLY;',
        'ALTER DATABASE "app" SET TABLESPACE "fast";',
        'ALTER SUBSCRIPTION "s" REFRESH PUBLICATION;',
        'DISCARD ALL;',
        'DO LANGUAGE plpgsql $body$ BEGIN FOR i IN 1..3 LOOP UPDATE "users" SET "email" = "email"; COMMIT; END LOOP; END $body$;',
        'RESET ALL;',
        'SET ROLE "app";',
        'SET SESSION AUTHORIZATION "app";',
        'RESET lock_timeout;',
      ),
    );
    let error: Error | undefined;
    try {
      readMigrations(copy.dir);
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error?.message).not.toContain('9000_ok');
    expect(error?.message).toMatch(/9001_a\.sql line 2: DROP INDEX CONCURRENTLY must say IF EXISTS/);
    expect(error?.message).toMatch(/9001_a\.sql line 4: VACUUM cannot run in a transaction block, and a marked migration runs bare only CREATE INDEX CONCURRENTLY IF NOT EXISTS and DROP INDEX CONCURRENTLY IF EXISTS .*Run it by hand/);
    expect(error?.message).toMatch(/9001_a\.sql line 6: SET LOCAL ends with its statement.*Write SET/);
    expect(error?.message).toMatch(/9002_b\.sql line 2: CREATE INDEX CONCURRENTLY must name its index and say IF NOT EXISTS/);
    expect(error?.message).toMatch(/9003_c\.sql line 2: a migration marked `-- pa-data: no-transaction` holds one command per statement/);
    expect(error?.message).toMatch(/9004_d\.sql line 2: `-- pa-data: no-transaction` is read on the first line of a migration only/);
    const e = (line: number) => `9005_e\\.sql line ${line}: `;
    expect(error?.message).toMatch(new RegExp(`${e(2)}REINDEX SCHEMA cannot run in a transaction block.*Run it by hand`));
    expect(error?.message).toMatch(new RegExp(`${e(4)}REINDEX \\.\\.\\. CONCURRENTLY is refused .*_ccnew.*CREATE INDEX CONCURRENTLY IF NOT EXISTS under a new name, then DROP INDEX CONCURRENTLY`));
    expect(error?.message).toMatch(new RegExp(`${e(6)}ALTER TABLE \\.\\.\\. DETACH PARTITION \\.\\.\\. CONCURRENTLY cannot run in a transaction block`));
    expect(error?.message).toMatch(new RegExp(`${e(8)}ALTER DATABASE \\.\\.\\. SET TABLESPACE cannot run in a transaction block`));
    expect(error?.message).toMatch(new RegExp(`${e(10)}ALTER SUBSCRIPTION \\.\\.\\. REFRESH PUBLICATION cannot run in a transaction block`));
    expect(error?.message).toMatch(new RegExp(`${e(12)}DISCARD ALL cannot run in a transaction block`));
    expect(error?.message).toMatch(new RegExp(`${e(14)}this DO block COMMITs or ROLLBACKs.*split its batches into statements of their own`));
    expect(error?.message).toMatch(new RegExp(`${e(16)}RESET ALL would also reset the runner's own session settings \\(lock_timeout`));
    expect(error?.message).toMatch(new RegExp(`${e(18)}SET ROLE would hold for the rest of the migration`));
    expect(error?.message).toMatch(new RegExp(`${e(20)}SET SESSION AUTHORIZATION would hold`));
    expect(error?.message).toMatch(new RegExp(`${e(22)}RESET lock_timeout would undo the runner's own lock_timeout`));
  });

  it('a statement that fails because it ends or cannot run in a transaction says how to run it by hand and mark it done', async () => {
    await t.client.query('CREATE TABLE batches (n integer NOT NULL)');
    // A procedure that commits between batches: CALL in a transaction block fails with 2D000 (not seen when the files are read).
    await t.client.query(`CREATE PROCEDURE fill_batches() LANGUAGE plpgsql AS $$ BEGIN FOR i IN 1..3 LOOP INSERT INTO batches VALUES (i); COMMIT; END LOOP; END $$`);
    const name = '9001_fill_batches';
    copy.add(name, online('INSERT INTO "batches" VALUES (0);', 'CALL fill_batches();', 'INSERT INTO "batches" VALUES (4);'));
    const [m] = readMigrations(copy.dir).filter((x) => x.name === name);
    const error = await migrate(t.client, readMigrations(copy.dir)).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(MigrationError);
    const update = `UPDATE "drizzle"."${PROGRESS_TABLE}" SET done = 2, updated_at = now() WHERE hash = '${m.hash}' AND done = 1;`;
    expect(error?.message).toContain('failed at statement 2 of 3');
    expect(error?.message).toContain('split its batches into statements of their own instead. Or run it by hand as the migrator');
    expect(error?.message).toContain(update);
    // By hand, outside a transaction, then marked done as the message says: the rerun resumes after it.
    await t.client.query('CALL fill_batches()');
    await t.client.query(update);
    const result = await migrate(t.client, readMigrations(copy.dir));
    expect(result.appliedNow.map((x) => x.name)).toEqual([name]);
    expect((await t.client.query('SELECT n FROM batches ORDER BY n')).rows.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
    expect(await progressRows(t.client)).toBe(0);
  });

  it('a VALIDATE that fails names the constraint, the table and the rows; with nothing before its ADD CONSTRAINT, leaves the database as it was', async () => {
    await t.client.query('CREATE TABLE scores (id integer PRIMARY KEY, points integer NOT NULL)');
    await t.client.query('INSERT INTO scores SELECT g, CASE WHEN g IN (7, 70, 700) THEN -g ELSE g END FROM generate_series(1, 10000) g');
    const snapshot = async () =>
      (await t.client.query(
        `SELECT (SELECT count(*) FROM pg_constraint WHERE conrelid = 'scores'::regclass)::int AS constraints,
                (SELECT count(*) FROM ${HISTORY})::int AS history, (SELECT md5(string_agg(s::text, ',' ORDER BY id)) FROM scores s) AS rows`,
      )).rows[0];
    const before = await snapshot();
    copy.add(
      '9001_points_not_negative',
      online(
        'ALTER TABLE "scores" ADD CONSTRAINT "scores_points_not_negative" CHECK ("points" >= 0) NOT VALID;',
        'ALTER TABLE "scores" VALIDATE CONSTRAINT "scores_points_not_negative";',
      ),
    );
    const error = await migrate(t.client, readMigrations(copy.dir)).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error?.message).toMatch(
      /9001_points_not_negative\.sql failed at statement 2 of 2 \(line 4\), VALIDATE CONSTRAINT: constraint "scores_points_not_negative" on table scores: 3 rows break it \(e\.g\. id 7; id 70; id 700\)\. The VALIDATE was rolled back, and the constraint, which statement 1 of 9001_points_not_negative added NOT VALID, was dropped again; nothing of 9001_points_not_negative stays: the database is as it was before it/,
    );
    expect(await snapshot()).toEqual(before);
    expect(await progressRows(t.client)).toBe(0);

    await t.client.query('UPDATE scores SET points = -points WHERE points < 0');
    const result = await migrate(t.client, readMigrations(copy.dir));
    expect(result.appliedNow.map((m) => m.name)).toEqual(['9001_points_not_negative']);
    const c = await t.client.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'scores_points_not_negative'`);
    expect(c.rows).toEqual([{ convalidated: true }]);
  });

  it('a VALIDATE that fails after other statements committed says which stay; the rerun resumes without repeating them', async () => {
    await t.client.query('CREATE TABLE scores (id integer PRIMARY KEY, points integer NOT NULL)');
    await t.client.query('INSERT INTO scores SELECT g, CASE WHEN g IN (7, 70, 700) THEN -g ELSE g END FROM generate_series(1, 1000) g');
    await t.client.query('CREATE TABLE tally (n integer NOT NULL)');
    await t.client.query('INSERT INTO tally VALUES (0)');
    const name = '9001_tally_then_check';
    copy.add(
      name,
      online(
        'UPDATE "tally" SET "n" = "n" + 1;',
        'ALTER TABLE "scores" ADD CONSTRAINT "scores_points_not_negative" CHECK ("points" >= 0) NOT VALID;',
        'ALTER TABLE "scores" VALIDATE CONSTRAINT "scores_points_not_negative";',
      ),
    );
    const error = await migrate(t.client, readMigrations(copy.dir)).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error?.message).toMatch(
      /9001_tally_then_check\.sql failed at statement 3 of 3 \(line 6\), VALIDATE CONSTRAINT: constraint "scores_points_not_negative" on table scores: 3 rows break it \(e\.g\. id 7; id 70; id 700\)\. The VALIDATE was rolled back, and the constraint, which statement 2 of 9001_tally_then_check added NOT VALID, was dropped again; its statement 1 committed and stays, and it was not recorded as applied\. Fix those rows, then run db:migrate again: it resumes at statement 2/,
    );
    expect(error?.message).not.toContain('as it was');
    expect((await t.client.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'scores_points_not_negative'`)).rows[0].n).toBe(0);
    expect((await t.client.query('SELECT n FROM tally')).rows[0].n).toBe(1);
    expect(await progressRows(t.client)).toBe(1);

    await t.client.query('UPDATE scores SET points = -points WHERE points < 0');
    const lines: string[] = [];
    const result = await migrate(t.client, readMigrations(copy.dir), { log: (l) => lines.push(l) });
    expect(result.appliedNow.map((m) => m.name)).toEqual([name]);
    expect(lines.join('\n')).toContain(`resuming ${name} at statement 2 of 3`);
    expect((await t.client.query('SELECT n FROM tally')).rows[0].n).toBe(1);
    expect((await t.client.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'scores_points_not_negative'`)).rows).toEqual([{ convalidated: true }]);
    expect(await progressRows(t.client)).toBe(0);
  });

  it('applies each statement that may run in a transaction together with its record: a run stopped between the two repeats nothing', async () => {
    await t.client.query('CREATE TABLE prices (id integer PRIMARY KEY, cents integer NOT NULL)');
    await t.client.query('INSERT INTO prices VALUES (1, 5), (2, 7)');
    // The progress table as the runner creates it (already there if a committed migration is an
    // online one), with a trigger that fails the record of a chosen statement: a run stopped right
    // after that statement, before its record.
    await t.client.query('CREATE SCHEMA IF NOT EXISTS drizzle');
    await t.client.query(
      `CREATE TABLE IF NOT EXISTS drizzle.${PROGRESS_TABLE} (hash text PRIMARY KEY, created_at bigint NOT NULL, name text NOT NULL, done integer NOT NULL, ` +
        'statements integer NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await t.client.query('CREATE TABLE public.fail_record_of (done integer NOT NULL)');
    await t.client.query(
      `CREATE FUNCTION public.fail_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         IF NEW.done IN (SELECT done FROM public.fail_record_of) THEN RAISE EXCEPTION 'the record of statement % was lost', NEW.done; END IF;
         RETURN NEW; END $$`,
    );
    await t.client.query(`CREATE TRIGGER fail_record BEFORE UPDATE ON drizzle.${PROGRESS_TABLE} FOR EACH ROW EXECUTE FUNCTION public.fail_record()`);
    const name = '9001_prices_in_tenths';
    copy.add(name, online('UPDATE "prices" SET "cents" = "cents" * 10;', 'ALTER TABLE "prices" ADD COLUMN "note" text;', 'CREATE INDEX "prices_note_idx" ON "prices" ("note");'));
    for (const failAt of [1, 2, 3]) {
      await t.client.query('DELETE FROM public.fail_record_of');
      await t.client.query('INSERT INTO public.fail_record_of VALUES ($1)', [failAt]);
      const error = await migrate(t.client, readMigrations(copy.dir)).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toContain(`the record of statement ${failAt} was lost`);
      expect(await historyOf(t.client, name)).toBe(0);
    }
    await t.client.query('DELETE FROM public.fail_record_of');
    const result = await migrate(t.client, readMigrations(copy.dir));
    expect(result.appliedNow.map((m) => m.name)).toEqual([name]);
    expect((await t.client.query('SELECT cents FROM prices ORDER BY id')).rows).toEqual([{ cents: 50 }, { cents: 70 }]);
    expect(await indexState(t.client, 'prices_note_idx')).toBe('valid');
    expect(await historyOf(t.client, name)).toBe(1);
    expect(await progressRows(t.client)).toBe(0);
  });

  it('a CONCURRENTLY build waits for an older transaction beyond --ddl-lock-timeout; past --migration-query-timeout the message names it', async () => {
    // No autovacuum: an autoanalyze of the freshly filled table would take locks the CONCURRENTLY statements wait for.
    await t.client.query('CREATE TABLE items (id integer PRIMARY KEY, n integer NOT NULL) WITH (autovacuum_enabled = off)');
    await t.client.query('INSERT INTO items SELECT g, g % 10 FROM generate_series(1, 1000) g');
    const old = new Client({ connectionString: t.url, application_name: 'long-report' });
    await old.connect();
    try {
      // A transaction with a snapshot, on no table of the migration (a pg_dump, a report).
      await old.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await old.query('SELECT count(*) FROM pg_class');
      copy.add('9001_items_n', online('CREATE INDEX CONCURRENTLY IF NOT EXISTS "items_n_idx" ON "items" ("n");'));
      const ending = setTimeout(() => void old.query('COMMIT'), 2500);
      const started = Date.now();
      const result = await migrate(t.client, readMigrations(copy.dir), { ddlLockTimeoutSeconds: 1, migrationQueryTimeoutSeconds: 30 }).finally(() => clearTimeout(ending));
      expect(result.appliedNow.map((m) => m.name)).toEqual(['9001_items_n']);
      expect(Date.now() - started).toBeGreaterThan(2000);
      expect(await indexState(t.client, 'items_n_idx')).toBe('valid');

      await old.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await old.query('SELECT count(*) FROM pg_class');
      copy.add('9002_items_n_id', online('CREATE INDEX CONCURRENTLY IF NOT EXISTS "items_n_id_idx" ON "items" ("n", "id");'));
      const error = await migrate(t.client, readMigrations(copy.dir), { ddlLockTimeoutSeconds: 1, migrationQueryTimeoutSeconds: 2 }).then(() => undefined, (e: unknown) => e as Error);
      expect(error).toBeInstanceOf(MigrationError);
      expect(error?.message).toMatch(/9002_items_n_id\.sql failed at statement 1 of 1 \(line 1\): canceling statement due to statement timeout\./);
      expect(error?.message).toMatch(/older than itself to end, and these were still open: backend pid \d+ \([^)]*application_name "long-report", idle in transaction, in a transaction since /);
      expect(error?.message).not.toContain('a long query or transaction on the table');
      expect(error?.message).toContain('The INVALID index "items_n_id_idx" it left was dropped.');
      expect(await indexState(t.client, 'items_n_id_idx')).toBeUndefined();
      expect(await historyOf(t.client, '9002_items_n_id')).toBe(0);
    } finally {
      await old.query('ROLLBACK').catch(() => undefined);
      await old.end();
    }
  }, 30_000);
});
