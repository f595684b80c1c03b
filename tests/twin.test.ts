import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { PGBOUNCER, POSTGRES, REDIS } from '../stacks/services';
import { DATABASE_NAME, ROLES } from '../common/names';
import { applyDeclaredDatabase } from './helpers/database-twin';
import { freePort, PG_BIN } from './helpers/postgres';
import { one, runProgram, type ProgramRun } from './helpers/program';
import { containerSpec, TwinHost, type ContainerSpec } from './helpers/twin';

/**
 * "Twin" tests: what the dev stack's PostgreSQL, PgBouncer and Redis containers would run, run
 * here by the same programs with the declared command lines, environment, uploaded files and
 * health checks. Docker's part (paths, aliases, ports) is translated by TwinHost.
 */

const CONTAINER = 'docker:index/container:Container';
jest.setTimeout(120_000);

let dev: ProgramRun;
beforeAll(async () => {
  dev = await runProgram('dev');
});

const spec = (service: string) => containerSpec(one(dev, CONTAINER, service));
const output = (name: string) => dev.outputs[name].value as string;

/** The output URL with its port moved to where the twin listens. */
function atPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

type Server = ReturnType<TwinHost['start']>;

/**
 * What the container runs: the program's step before the image's entrypoint (run as it is, the
 * uploaded script), then what the official postgres image's entrypoint does on an empty volume
 * (initdb with the password file and POSTGRES_INITDB_ARGS, its own eval line; a socket-only server
 * with the declared settings to create POSTGRES_DB; the pg_hba rule for TCP), and on any volume the
 * server itself, with the declared command line. Returns the step's output too.
 */
async function startPostgresTwin(host: TwinHost, s: ContainerSpec): Promise<{ port: number; server: Server; step: string }> {
  const port = host.mapPort(POSTGRES.port, await freePort());
  host.writeUploads(s);
  const pgdata = host.mapPath(s.envs.PGDATA);
  const socketDir = host.local('/var/run/postgresql/.keep');
  for (const dir of [pgdata, path.dirname(socketDir)]) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    host.chownTree(dir);
  }
  const env = host.env(Object.fromEntries(Object.entries(s.envs).map(([k, v]) => [k, host.translate(v)])));
  const [binary, ...args] = s.command;
  expect(binary).toBe('postgres');
  // The entrypoint as declared: the step, then the image's docker-entrypoint.sh with the command.
  expect(s.entrypoints).toEqual(['/bin/sh', '-c', `${POSTGRES.superuserPasswordStep} && exec docker-entrypoint.sh "$@"`, 'postgres-entrypoint']);
  const step = await runSuperuserPasswordStep(host, env);
  if (!fs.existsSync(path.join(pgdata, 'PG_VERSION'))) await initPostgresTwin(host, s, pgdata, path.dirname(socketDir), env);
  const server = host.start('postgres', path.join(PG_BIN, 'postgres'), [
    ...args, '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${path.dirname(socketDir)}`,
  ], env);
  return { port, server, step };
}

/**
 * The step as the container runs it: as root where the tests run as root (CI), so that it steps down
 * with gosu as in the image; else as the server's user, which needs no step down.
 */
async function runSuperuserPasswordStep(host: TwinHost, env: NodeJS.ProcessEnv): Promise<string> {
  const script = host.local(POSTGRES.superuserPasswordStep);
  if (process.getuid?.() !== 0) return host.exec('/bin/sh', [script], env);
  const { stdout } = await promisify(execFile)('/bin/sh', [script], { env, cwd: host.root });
  return stdout;
}

async function initPostgresTwin(host: TwinHost, s: ContainerSpec, pgdata: string, socketDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const [, ...args] = s.command;
  const initdb = `set -e
POSTGRES_PASSWORD="$(< "$POSTGRES_PASSWORD_FILE")"
eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'`;
  await host.exec('/bin/bash', ['-c', initdb, 'bash'], env);
  const socketOnly = [...args, '-c', "listen_addresses=''", '-p', String(POSTGRES.port), '-k', socketDir];
  const initLog = host.local('/init.log');
  fs.writeFileSync(initLog, '');
  host.chown(initLog);
  // -l: the temporary server must not hold on to our stdout, or pg_ctl would never seem to finish.
  await host.exec(path.join(PG_BIN, 'pg_ctl'), ['-D', pgdata, '-o', socketOnly.join(' '), '-l', initLog, '-w', 'start'], env).catch((error) => {
    throw new Error(`${String(error)}\n${fs.readFileSync(initLog, 'utf8')}`);
  });
  try {
    // The entrypoint creates POSTGRES_DB (default: POSTGRES_USER) unless that is `postgres`.
    const database = s.envs.POSTGRES_DB ?? s.envs.POSTGRES_USER;
    if (database !== 'postgres') {
      await host.exec(
        path.join(PG_BIN, 'psql'),
        ['-v', 'ON_ERROR_STOP=1', '--no-psqlrc', '--no-password', '-h', socketDir, '-p', String(POSTGRES.port),
          '-U', s.envs.POSTGRES_USER, '-d', 'postgres', '-c', `CREATE DATABASE "${database}"`],
        env,
      );
    }
  } finally {
    await host.exec(path.join(PG_BIN, 'pg_ctl'), ['-D', pgdata, '-m', 'fast', '-w', 'stop'], env);
  }
  const method = (await host.exec(path.join(PG_BIN, 'postgres'), ['-C', 'password_encryption', ...args], env)).trim();
  fs.appendFileSync(path.join(pgdata, 'pg_hba.conf'), `\nhost all all all ${method}\n`);
}

async function startPgbouncerTwin(host: TwinHost, s: ContainerSpec): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  host.mapPort(PGBOUNCER.port, port);
  host.mapAlias(POSTGRES.alias);
  host.mapListenAll();
  host.writeUploads(s, [PGBOUNCER.configFile]);
  const [binary, ...args] = s.command;
  return { port, server: host.start('pgbouncer', binary, args.map((a) => host.translate(a))) };
}

async function startRedisTwin(host: TwinHost, s: ContainerSpec): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  host.mapPort(REDIS.port, port);
  const dataDir = host.mapPath(REDIS.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  host.chownTree(dataDir);
  host.writeUploads(s);
  const [binary, ...args] = s.command;
  const server = host.start('redis', binary, [...args.map((a) => host.translate(a)), '--bind', '127.0.0.1', '--daemonize', 'no']);
  return { port, server };
}

/** One Redis command over RESP; returns the reply line(s) as text. */
async function redis(port: number, commands: string[][]): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  const replies: string[] = [];
  let buffer = '';
  const encode = (cmd: string[]) => `*${cmd.length}\r\n${cmd.map((c) => `$${Buffer.byteLength(c)}\r\n${c}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      // Replies here are simple strings, errors, integers or one bulk string.
      for (;;) {
        const m = /^([+\-:])([^\r]*)\r\n|^\$(-?\d+)\r\n/.exec(buffer);
        if (!m) break;
        if (m[1]) {
          replies.push(`${m[1]}${m[2]}`);
          buffer = buffer.slice(m[0].length);
        } else {
          const len = Number(m[3]);
          if (len < 0) {
            replies.push('$nil');
            buffer = buffer.slice(m[0].length);
          } else {
            const body = Buffer.from(buffer.slice(m[0].length));
            if (body.length < len + 2) break;
            replies.push(body.subarray(0, len).toString());
            buffer = body.subarray(len + 2).toString();
          }
        }
      }
      if (replies.length === commands.length) {
        socket.end();
        resolve(replies);
      }
    });
    socket.write(commands.map(encode).join(''));
  });
}

describe('the dev stack\'s containers, run here', () => {
  let host: TwinHost;
  let pg: { port: number; server: Server };
  let bouncer: { port: number; server: Server };
  let cache: { port: number; server: Server };

  beforeAll(async () => {
    host = await new TwinHost().init();
    pg = await startPostgresTwin(host, spec('postgres'));
    await host.healthy(spec('postgres').healthcheck, pg.server);
    // What `pulumi up` then creates inside it: the database, the roles, their privileges.
    await applyDeclaredDatabase(dev, (database) => atPort(output('postgresAdminUrl'), pg.port).replace(/\/[^/]*$/, `/${database}`));
    bouncer = await startPgbouncerTwin(host, spec('pgbouncer'));
    cache = await startRedisTwin(host, spec('redis'));
  });
  afterAll(async () => host?.stop());

  test('PostgreSQL passes its declared health check and takes the superuser\'s generated password over TCP', async () => {
    await host.healthy(spec('postgres').healthcheck, pg.server);
    const client = new Client({ connectionString: atPort(output('postgresAdminUrl'), pg.port) });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT current_user AS "user", current_database() AS db, pg_encoding_to_char(encoding) AS encoding, datcollate, datctype
           FROM pg_database WHERE datname = current_database()`,
      );
      expect(rows[0]).toEqual({ user: POSTGRES.superuser, db: DATABASE_NAME, encoding: 'UTF8', datcollate: 'C', datctype: 'C' });
      // Every -c setting of the declared command line is in effect, as declared.
      const declared = spec('postgres').command.filter((_, i, all) => all[i - 1] === '-c').map((kv) => kv.split('='));
      expect(declared.length).toBeGreaterThan(10);
      for (const [name, value] of declared) {
        const { rows: shown } = await client.query('SELECT current_setting($1) AS v', [name]);
        expect([name, shown[0].v]).toEqual([name, value]);
      }
      const { rows: auth } = await client.query(`SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = $1`, [
        POSTGRES.superuser,
      ]);
      expect(auth[0].scram).toBe(true);
    } finally {
      await client.end();
    }
  });

  test('PostgreSQL refuses a wrong password over TCP', async () => {
    const url = new URL(atPort(output('postgresAdminUrl'), pg.port));
    url.password = 'not-the-password';
    const client = new Client({ connectionString: url.toString() });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });

  test.each([
    ['databaseUrl', ROLES.app],
    ['readonlyDatabaseUrl', ROLES.readonly],
  ])('PgBouncer passes its health check and passes the SCRAM login of %s through to PostgreSQL', async (name, role) => {
    await host.healthy(spec('pgbouncer').healthcheck, bouncer.server);
    const client = new Client({ connectionString: atPort(output(name), bouncer.port) });
    await client.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query('SELECT current_user AS "user", inet_server_port() AS port');
      await client.query('COMMIT');
      expect(rows[0]).toEqual({ user: role, port: pg.port });
    } finally {
      await client.end();
    }
    const url = new URL(atPort(output(name), bouncer.port));
    url.password = 'not-the-password';
    await expect(new Client({ connectionString: url.toString() }).connect()).rejects.toThrow(/SASL authentication failed/);
  });

  test('PgBouncer admits no one it has no SCRAM secret for, the superuser included', async () => {
    const client = new Client({ connectionString: atPort(output('postgresAdminUrl'), bouncer.port) });
    await expect(client.connect()).rejects.toThrow(/SASL authentication failed|no such user|not allowed/);
  });

  test('Redis passes its health check; the app user logs in, anyone else may only PING', async () => {
    await host.healthy(spec('redis').healthcheck, cache.server);
    const url = new URL(atPort(output('redisUrl'), cache.port));
    const [auth, set, get, memory, persistence] = await redis(cache.port, [
      ['AUTH', url.username, url.password],
      ['SET', 'twin:key', 'value'],
      ['GET', 'twin:key'],
      ['INFO', 'memory'],
      ['INFO', 'persistence'],
    ]);
    expect([auth, set, get]).toEqual(['+OK', '+OK', 'value']);
    expect(memory).toContain(`maxmemory:${96 * 1024 * 1024}\r\n`);
    expect(memory).toContain('maxmemory_policy:allkeys-lru\r\n');
    expect(persistence).toContain('aof_enabled:1\r\n');
    const [ping, anonymousGet, wrongPassword] = await redis(cache.port, [['PING'], ['GET', 'twin:key'], ['AUTH', url.username, 'wrong']]);
    expect(ping).toBe('+PONG');
    expect(anonymousGet).toMatch(/^-NOPERM/);
    expect(wrongPassword).toMatch(/^-WRONGPASS/);
  });
});

/** Stops a server the way `docker stop` does for PostgreSQL (its stop signal), and waits for it. */
async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGINT');
  });
}

describe('a volume kept by `pulumi destroy`, under the next deployment', () => {
  test("the step before the image's entrypoint gives the superuser the new deployment's password; the data stays", async () => {
    const host = await new TwinHost().init();
    try {
      const first = await startPostgresTwin(host, spec('postgres'));
      expect(first.step).toBe(''); // an empty volume: nothing to do, the image initialises it
      await host.healthy(spec('postgres').healthcheck, first.server);
      // The server's own database: the stack's is the prepare step's, not the container's.
      const admin = (url: string, port: number) => atPort(url, port).replace(/\/[^/?]*(\?|$)/, '/postgres$1');
      const before = new Client({ connectionString: admin(output('postgresAdminUrl'), first.port) });
      await before.connect();
      await before.query('CREATE TABLE kept (note text)');
      await before.query("INSERT INTO kept VALUES ('from the first deployment')");
      await before.end();
      await stopServer(first.server);

      // A statement that fails is a failed start, said without the secret (single-user mode itself exits 0).
      const pgdata = host.local(POSTGRES.dataDir);
      const failing = host.env({ PGDATA: pgdata, POSTGRES_USER: 'no_such_role', POSTGRES_PASSWORD_FILE: host.local(POSTGRES.passwordFile) });
      const failure = await runSuperuserPasswordStep(host, failing).then(() => '', (error: { stderr: string }) => error.stderr);
      expect(failure).toMatch(/^pronunciation-assistant: could not give the superuser this deployment's password .*role "no_such_role" does not exist/s);
      expect(failure).not.toMatch(/SCRAM-SHA-256/);

      // `pulumi destroy`, then `pulumi up`: new generated passwords, the same volume.
      const next = await runProgram('dev');
      const nextUrl = next.outputs.postgresAdminUrl.value as string;
      expect(new URL(nextUrl).password).not.toBe(new URL(output('postgresAdminUrl')).password);
      const again = await startPostgresTwin(host, containerSpec(one(next, CONTAINER, 'postgres')));
      expect(again.step).toMatch(/the superuser of the existing data directory .* has this deployment's password\.\n$/);
      expect(again.step).not.toMatch(/SCRAM-SHA-256/);
      await host.healthy(spec('postgres').healthcheck, again.server);
      const after = new Client({ connectionString: admin(nextUrl, again.port) });
      await after.connect();
      try {
        expect((await after.query('SELECT note FROM kept')).rows).toEqual([{ note: 'from the first deployment' }]);
      } finally {
        await after.end();
      }
      await expect(new Client({ connectionString: admin(output('postgresAdminUrl'), again.port) }).connect()).rejects.toThrow(/password authentication failed/);
    } finally {
      await host.stop();
    }
  });
});

describe('a misspelt setting fails the twin', () => {
  let host: TwinHost;
  beforeEach(async () => {
    host = await new TwinHost().init();
  });
  afterEach(async () => host.stop());

  const misspell = (s: ContainerSpec, from: string, to: string): ContainerSpec => {
    const text = JSON.stringify(s);
    expect(text).toContain(from);
    return JSON.parse(text.split(from).join(to));
  };

  test('PostgreSQL: -c shared_bufers', async () => {
    await expect(startPostgresTwin(host, misspell(spec('postgres'), 'shared_buffers=', 'shared_bufers='))).rejects.toThrow(
      /unrecognized configuration parameter "shared_bufers"/,
    );
  });

  test('PgBouncer: pool_mod in pgbouncer.ini', async () => {
    const pg = await startPostgresTwin(host, spec('postgres'));
    await host.healthy(spec('postgres').healthcheck, pg.server);
    const bouncer = await startPgbouncerTwin(host, misspell(spec('pgbouncer'), 'pool_mode =', 'pool_mod ='));
    await expect(host.healthy(spec('pgbouncer').healthcheck, bouncer.server, 5000)).rejects.toThrow(/pool_mod/);
  });

  test('Redis: --maxmemory-polcy', async () => {
    const cache = await startRedisTwin(host, misspell(spec('redis'), '--maxmemory-policy', '--maxmemory-polcy'));
    await expect(host.healthy(spec('redis').healthcheck, cache.server, 5000)).rejects.toThrow(/maxmemory-polcy/);
  });
});
