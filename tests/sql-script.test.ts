import { renameDatabase, splitStatements, transactionControl } from '../lib/postgres/sql-script';

describe('splitStatements', () => {
  test('leaves out comments and psql meta-commands, keeps a literal that spans lines or holds ; and --', () => {
    const script = [
      '--',
      '-- Name: src; Type: DATABASE',
      '\\connect src',
      "SET client_encoding = 'UTF8';",
      "COMMENT ON DATABASE src IS 'two; lines",
      '-- not a comment',
      "\\nor a command';",
      'GRANT CONNECT ON DATABASE src TO pa_app;',
      '',
    ].join('\n');
    expect(splitStatements(script)).toEqual([
      "SET client_encoding = 'UTF8'",
      "COMMENT ON DATABASE src IS 'two; lines\n-- not a comment\n\\nor a command'",
      'GRANT CONNECT ON DATABASE src TO pa_app',
    ]);
  });
});

describe('renameDatabase', () => {
  test('renames the database a statement is about, never inside a literal', () => {
    expect(renameDatabase("COMMENT ON DATABASE src IS 'my DATABASE src; x'", 'src', 'new')).toBe(`COMMENT ON DATABASE "new" IS 'my DATABASE src; x'`);
    expect(renameDatabase('ALTER DATABASE src OWNER TO pa_migrator', 'src', 'a"b')).toBe('ALTER DATABASE "a""b" OWNER TO pa_migrator');
    expect(renameDatabase('ALTER ROLE r IN DATABASE src SET work_mem TO \'8MB\'', 'src', 'n')).toBe('ALTER ROLE r IN DATABASE "n" SET work_mem TO \'8MB\'');
  });
  test('matches the whole identifier, quoted or not, and nothing else', () => {
    expect(renameDatabase('ALTER DATABASE src_old OWNER TO x', 'src', 'n')).toBeUndefined();
    expect(renameDatabase('ALTER DATABASE "My Db" OWNER TO x', '"My Db"', 'n')).toBe('ALTER DATABASE "n" OWNER TO x');
    expect(renameDatabase("SET client_encoding = 'UTF8'", 'src', 'n')).toBeUndefined();
    expect(renameDatabase("SELECT 'DATABASE src '", 'src', 'n')).toBeUndefined();
  });
});

describe('transactionControl', () => {
  const kinds = (sql: string) => transactionControl(sql).map((c) => c.statement);

  test.each([
    ['BEGIN', 'BEGIN'],
    ['begin work', 'BEGIN'],
    ['START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'START TRANSACTION'],
    ['COMMIT', 'COMMIT'],
    ['commit and chain', 'COMMIT'],
    ['END TRANSACTION', 'END'],
    ['ROLLBACK', 'ROLLBACK'],
    ['ABORT', 'ABORT'],
    ['SAVEPOINT before_backfill', 'SAVEPOINT'],
    ['RELEASE SAVEPOINT before_backfill', 'RELEASE SAVEPOINT'],
    ['ROLLBACK TO before_backfill', 'ROLLBACK TO SAVEPOINT'],
    ['rollback work to savepoint before_backfill', 'ROLLBACK TO SAVEPOINT'],
    ["PREPARE TRANSACTION 'x'", 'PREPARE TRANSACTION'],
    ["COMMIT PREPARED 'x'", 'COMMIT PREPARED'],
    ["ROLLBACK PREPARED 'x'", 'ROLLBACK PREPARED'],
    ['SET TRANSACTION READ ONLY', 'SET TRANSACTION'],
    ['SET LOCAL TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'SET TRANSACTION'],
    ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', 'SET SESSION CHARACTERISTICS AS TRANSACTION'],
    ["SET LOCAL transaction_read_only = on", 'SET transaction_read_only'],
    ['SET default_transaction_isolation TO serializable', 'SET default_transaction_isolation'],
  ])('finds %s', (sql, kind) => {
    expect(kinds(`CREATE TABLE a (id int);\n${sql};\nCREATE TABLE b (id int);`)).toEqual([kind]);
  });

  test('gives the offset of each command, several to a chunk', () => {
    const sql = 'INSERT INTO t VALUES (1); COMMIT;\nINSERT INTO t VALUES (2);\n  ROLLBACK';
    expect(transactionControl(sql)).toEqual([
      { statement: 'COMMIT', at: sql.indexOf('COMMIT') },
      { statement: 'ROLLBACK', at: sql.indexOf('ROLLBACK') },
    ]);
  });

  test.each([
    ['a DO block', "DO $$ BEGIN IF true THEN RAISE NOTICE 'x'; END IF; END $$;"],
    ['a DO block with a tagged quote holding COMMIT', 'DO $body$ BEGIN COMMIT; END $body$ LANGUAGE plpgsql;'],
    ['a plpgsql function', 'CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.x := 1;\n  RETURN NEW;\nEND;\n$$;'],
    ['a procedure that commits (it cannot inside the runner\'s transaction)', 'CREATE OR REPLACE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;'],
    ['a BEGIN ATOMIC body with CASE ... END', 'CREATE FUNCTION g(i int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN i > 0 THEN 1 END; SELECT 2; END;'],
    ['a body quoted with single quotes', "DO 'BEGIN PERFORM 1; END';"],
    ['literals', "SELECT 'COMMIT; BEGIN', E'it\\'s; ROLLBACK', U&'d\\0061t; END', $tag$; COMMIT;$tag$;"],
    ['comments', '-- COMMIT;\n/* ROLLBACK; /* nested */ COMMIT; */ SELECT 1;'],
    ['quoted identifiers', 'SELECT "commit", "end;" FROM "begin"; ALTER TABLE t RENAME COLUMN "x" TO "rollback";'],
    ['identifiers and keywords after the first word', 'SELECT a$b$ AS "end" FROM t WHERE x = $1; CREATE TABLE savepoints (begin_at timestamptz, "end" int);'],
    ['a rule whose actions are in parentheses', 'CREATE RULE r AS ON INSERT TO t DO INSTEAD (INSERT INTO u VALUES (1); INSERT INTO v VALUES (2));'],
    ['prepared statements and session settings', 'PREPARE q AS SELECT 1; SET search_path = app; SET SESSION AUTHORIZATION DEFAULT; SET LOCAL lock_timeout = 1000;'],
  ])('ignores %s', (_label, sql) => {
    expect(kinds(sql)).toEqual([]);
  });
});
