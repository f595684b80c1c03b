import { MAX_CONNECTIONS, postgresCommand, postgresSettings, POSTGRES_MIN_MEMORY_MB } from '../stacks/containers/postgres-settings';
import { pgbouncerIni, pgbouncerUserlist } from '../stacks/containers/pgbouncer-settings';
import { redisAcl, redisCommand } from '../stacks/containers/redis-settings';
import { scramSha256Secret } from '../stacks/scram';

describe('PostgreSQL settings from the memory limit', () => {
  test("at 1 GiB they are the spec's, but for effective_cache_size (three quarters of the limit)", () => {
    expect(postgresSettings(1024)).toMatchObject({
      max_connections: '200',
      shared_buffers: '256MB',
      effective_cache_size: '768MB',
      maintenance_work_mem: '64MB',
      checkpoint_completion_target: '0.9',
      wal_buffers: '16MB',
      default_statistics_target: '100',
      work_mem: '1310kB',
    });
  });

  test.each([
    [256, { shared_buffers: '64MB', effective_cache_size: '192MB', maintenance_work_mem: '16MB', wal_buffers: '4MB', work_mem: '327kB' }],
    [512, { shared_buffers: '128MB', effective_cache_size: '384MB', maintenance_work_mem: '32MB', wal_buffers: '8MB', work_mem: '655kB' }],
    [4096, { shared_buffers: '1024MB', effective_cache_size: '3072MB', maintenance_work_mem: '256MB', wal_buffers: '16MB', work_mem: '5242kB' }],
    [65536, { shared_buffers: '16384MB', maintenance_work_mem: '2048MB', wal_buffers: '16MB' }],
  ])('%i MiB', (memoryMb, expected) => {
    expect(postgresSettings(memoryMb)).toMatchObject({ ...expected, max_connections: String(MAX_CONNECTIONS) });
  });

  test('memory below the minimum is refused', () => {
    expect(() => postgresSettings(POSTGRES_MIN_MEMORY_MB - 1)).toThrow(RangeError);
  });

  test('the command line passes each setting as -c name=value', () => {
    expect(postgresCommand({ a: '1', b: 'x y' })).toEqual(['postgres', '-c', 'a=1', '-c', 'b=x y']);
  });
});

describe('PgBouncer files', () => {
  test('pgbouncer.ini pools transactions against the postgres alias, with SCRAM and the configured sizes', () => {
    const ini = pgbouncerIni({ poolSize: 15, maxClientConnections: 300 });
    expect(ini).toMatch(/^\[databases\]\npronunciation_assistant = host=postgres port=5432 dbname=pronunciation_assistant\n/);
    for (const line of ['pool_mode = transaction', 'auth_type = scram-sha-256', 'default_pool_size = 15', 'max_client_conn = 300', 'listen_port = 6432']) {
      expect(ini.split('\n')).toContain(line);
    }
    expect(ini).not.toMatch(/auth_user|password/);
  });

  test('userlist.txt holds SCRAM secrets, and refuses a role name that would need quoting', () => {
    expect(pgbouncerUserlist([{ user: 'app', scramSecret: 'SCRAM-SHA-256$4096:c2FsdA==$a:b' }])).toBe('"app" "SCRAM-SHA-256$4096:c2FsdA==$a:b"\n');
    expect(() => pgbouncerUserlist([{ user: 'a"b', scramSecret: 'x' }])).toThrow(/not a plain role name/);
  });
});

describe('Redis', () => {
  test('the ACL file holds a SHA-256 of the password, never the password', () => {
    const acl = redisAcl('s3cret-password');
    expect(acl).not.toContain('s3cret-password');
    expect(acl).toMatch(/^user app on #[0-9a-f]{64} ~\* &\* \+@all -@admin -@dangerous \+info$/m);
  });

  test('command line', () => {
    expect(redisCommand({ maxmemoryMb: 100, maxmemoryPolicy: 'volatile-lru' }).join(' ')).toBe(
      'redis-server --port 6379 --dir /data --aclfile /etc/redis/users.acl --protected-mode no --appendonly yes --appendfsync everysec --maxmemory 100mb --maxmemory-policy volatile-lru',
    );
  });
});

describe('SCRAM secrets', () => {
  test('same password and salt give the same secret; another salt another', () => {
    const salt = Buffer.alloc(16, 7).toString('base64');
    const a = scramSha256Secret('password1', salt);
    expect(a).toBe(scramSha256Secret('password1', salt));
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:BwcHBwcHBwcHBwcHBwcHBw==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(scramSha256Secret('password1', Buffer.alloc(16, 8).toString('base64'))).not.toBe(a);
  });

  test('refuses non-ASCII passwords (SASLprep would change them) and short salts', () => {
    expect(() => scramSha256Secret('pässword', Buffer.alloc(16).toString('base64'))).toThrow(/ASCII/);
    expect(() => scramSha256Secret('password', Buffer.alloc(8).toString('base64'))).toThrow(/16 bytes/);
  });
});
