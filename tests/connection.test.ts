import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from '../common/paths';
import { describeConnectError, parseDatabaseUrl, redact } from '../lib/postgres/connection';
import { libpqConnection } from '../lib/postgres/pg-tools';
import { freePort } from './helpers/postgres';

describe('connect() loading pg', () => {
  // In a fresh process: this one (jest) may have loaded undici already.
  it("leaves Node.js's fetch implementation unloaded, and the global Response as it was", async () => {
    const port = await freePort();
    const script = `
      const { connect, parseDatabaseUrl } = require('./lib/postgres/connection');
      const undici = () => process.moduleLoadList.some((m) => m.includes('undici'));
      const before = { undici: undici(), descriptor: Object.getOwnPropertyDescriptor(globalThis, 'Response') };
      connect(parseDatabaseUrl('postgres://u:p@127.0.0.1:${port}/db'), 'test').then(
        () => { throw new Error('connected to a closed port'); },
        async (error) => {
          const after = Object.getOwnPropertyDescriptor(globalThis, 'Response');
          const loadedByPg = undici();
          const usable = await new Response('still here').text();
          console.log(JSON.stringify({ before: before.undici, hasNavigator: 'navigator' in globalThis, loadedByPg, same: after.get === before.descriptor.get && after.set === before.descriptor.set, usable, error: error.message }));
        });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT });
    const seen = JSON.parse(stdout) as Record<string, unknown>;
    expect(seen).toMatchObject({ before: false, loadedByPg: false, same: true, usable: 'still here' });
    expect(seen.error).toContain('cannot connect to');
  });
});

describe('parseDatabaseUrl', () => {
  it('reads host, port, database, user and a percent-encoded password, and displays no password', () => {
    const t = parseDatabaseUrl('postgresql://app%40x:p%40ss%2Fw0rd@db.internal:6432/pronunciation_assistant?sslmode=require');
    expect(t).toMatchObject({ host: 'db.internal', port: 6432, database: 'pronunciation_assistant', user: 'app@x', password: 'p@ss/w0rd', connectTimeoutMs: 5000 });
    expect(t.display).toBe('postgresql://app%40x@db.internal:6432/pronunciation_assistant');
  });

  it('defaults the port to 5432 and takes connect_timeout in seconds, as libpq does', () => {
    expect(parseDatabaseUrl('postgres://u:p@h/db?connect_timeout=2.5')).toMatchObject({ port: 5432, connectTimeoutMs: 2500 });
  });

  it('names the variable it was given', () => {
    expect(() => parseDatabaseUrl(undefined, 'MIGRATOR_DATABASE_URL')).toThrow('MIGRATOR_DATABASE_URL is not set');
  });
});

describe('a password given as a query parameter', () => {
  it('is known, so it is redacted, and reaches pg_dump and pg_restore only through PGPASSWORD, never their arguments', () => {
    const target = parseDatabaseUrl('postgres://u@h:5432/db?sslmode=require&password=s3cr%40t');
    expect(target.password).toBe('s3cr@t');
    expect(redact('text with s3cr@t', target)).toBe('text with ***');
    const conn = libpqConnection(target);
    expect(conn.dbname).toBe('postgres://u@h:5432/db?sslmode=require');
    expect(conn.env).toEqual({ PGPASSWORD: 's3cr@t' });
  });
});

describe('redact', () => {
  it('removes the password in plain and percent-encoded form', () => {
    const target = parseDatabaseUrl('postgres://u:p%40ss@h/db');
    expect(redact('failed for p@ss and p%40ss', target)).toBe('failed for *** and ***');
  });
});

describe('describeConnectError', () => {
  const target = parseDatabaseUrl('postgres://app:hunter22@db:5432/pa');
  it.each([
    [{ code: '3D000', message: 'database "pa" does not exist' }, 'database "pa" does not exist: create it or fix the database name in DATABASE_URL'],
    [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND db' }, 'host "db" not found'],
    [{ code: '57P03', message: 'the database system is starting up' }, 'starting up or shutting down'],
    [{ message: 'The server does not support SSL connections' }, 'TLS failed (The server does not support SSL connections): check sslmode'],
    [{ message: 'weird failure with hunter22 inside' }, 'weird failure with *** inside'],
  ])('%j', (error, expected) => {
    const message = describeConnectError(error, target).message;
    expect(message).toContain('cannot connect to PostgreSQL at postgres://app@db:5432/pa (from DATABASE_URL): ');
    expect(message).toContain(expected);
    expect(message).not.toContain('hunter22');
  });
});
