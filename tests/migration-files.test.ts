import { readMigrations, splitStatements, STATEMENT_BREAKPOINT } from '../lib/migrations/files';
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

  it('refuses a missing journal', () => {
    expect(() => readMigrations(`${copy.dir}/nowhere`)).toThrow(/cannot read the migration journal .*nowhere\/meta\/_journal\.json/);
  });
});
