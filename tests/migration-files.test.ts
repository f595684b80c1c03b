import { readMigrations, splitStatements, STATEMENT_BREAKPOINT } from '../lib/migrations/files';
import { UserFacingError } from '../lib/postgres/connection';
import { transactionControl } from '../lib/postgres/sql-script';
import { MigrationsCopy } from './helpers/migrations-copy';

describe('splitStatements', () => {
  it('splits on drizzle-kit breakpoints and keeps the line each statement starts on', () => {
    const text = `-- comment\nCREATE TABLE a (id int);\n${STATEMENT_BREAKPOINT}\n\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;${STATEMENT_BREAKPOINT}\nDROP TABLE a;\n`;
    expect(splitStatements(text)).toEqual([
      { sql: '-- comment\nCREATE TABLE a (id int);', line: 1 },
      { sql: 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;', line: 5 },
      { sql: 'DROP TABLE a;', line: 6 },
    ]);
  });
});

describe('readMigrations', () => {
  let copy: MigrationsCopy;
  beforeEach(() => (copy = new MigrationsCopy()));
  afterEach(() => copy.cleanup());

  it('reads the committed migrations in journal order, with drizzle-compatible hashes', () => {
    const migrations = readMigrations(copy.dir);
    expect(migrations.map((m) => m.name)).toEqual(copy.journal().entries.map((e) => e.tag));
    for (const m of migrations) expect(m.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses an SQL file that is not in the journal', () => {
    require('node:fs').writeFileSync(`${copy.dir}/0099_by_hand.sql`, 'SELECT 1;');
    expect(() => readMigrations(copy.dir)).toThrow(/0099_by_hand\.sql is not in .*_journal\.json, so no migrator would run it/);
  });

  it('refuses a custom migration still holding only drizzle-kit\'s template', () => {
    copy.add('0099_todo', '-- Custom SQL migration file, put your code below! --');
    expect(() => readMigrations(copy.dir)).toThrow(/0099_todo\.sql holds no SQL yet/);
  });

  it('refuses a migration with a COMMIT in the middle, naming the file and the line, and lists every such statement', () => {
    copy.add(
      '0099_commits',
      [
        'CREATE TABLE lessons (id uuid PRIMARY KEY);',
        "INSERT INTO feature_flags (name) VALUES ('half_done');\nCOMMIT;",
        "-- a second transaction\nBEGIN;\nSAVEPOINT s;\nUPDATE feature_flags SET is_enabled = true;\nROLLBACK TO s;",
      ].join('\n--> statement-breakpoint\n'),
    );
    let error: unknown;
    try {
      readMigrations(copy.dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserFacingError);
    const message = (error as Error).message;
    expect(message).toMatch(/^refusing the migrations, nothing was run:\n/);
    expect(message).toMatch(/\S*0099_commits\.sql line 4: COMMIT ends the transaction the migration runs in: a later failure/);
    expect(message).toMatch(/\S*0099_commits\.sql line 7: BEGIN starts a transaction inside the one the migration runs in/);
    expect(message).toMatch(/\S*0099_commits\.sql line 8: SAVEPOINT manages a savepoint/);
    expect(message).toMatch(/\S*0099_commits\.sql line 10: ROLLBACK TO SAVEPOINT manages a savepoint/);
    expect(message).toContain('npm run db:generate -- --custom --name <name>');
  });

  it('accepts BEGIN and END inside a DO block and a function body', () => {
    copy.add(
      '0099_bodies',
      [
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nobody_here') THEN RAISE NOTICE 'none'; END IF; END $$;",
        'CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$fn$;',
        "COMMENT ON FUNCTION touch() IS 'BEGIN; COMMIT;';",
      ].join('\n--> statement-breakpoint\n'),
    );
    expect(readMigrations(copy.dir).at(-1)?.statements).toHaveLength(3);
  });

  it('accepts every committed migration', () => {
    const migrations = readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    for (const m of migrations) for (const s of m.statements) expect(transactionControl(s.sql)).toEqual([]);
  });

  it('refuses a missing journal', () => {
    expect(() => readMigrations(`${copy.dir}/nowhere`)).toThrow(/cannot read the migration journal .*nowhere\/meta\/_journal\.json/);
  });
});
