import { renameDatabase, splitStatements } from '../lib/postgres/sql-script';

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
