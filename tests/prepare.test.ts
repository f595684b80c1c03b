import { Client } from 'pg';
import { MARK_TAG, RELEASED_TAG } from '../lib/storage/prepare';
import { scramSha256Secret } from '../stacks/scram';
import { npmRun, withClient } from './helpers/db';
import { startMinio, type MinioServer } from './helpers/minio';
import { adminQuery } from './helpers/postgres';
import { sharedServer } from './helpers/shared-server';
import { storageClient } from '../lib/storage/object-store';
import { policyCreate, userCreate } from './helpers/minio-provider';

/**
 * `npm run db:prepare` and `npm run storage:prepare`, what `pulumi up` runs before the roles,
 * grants, policies and lifecycle rules: the stack's database, its owner and its buckets created,
 * taken back after a destroy, and refused, with what to run, when they are not the stack's. On the
 * shared PostgreSQL 15 and a real MinIO.
 */

jest.setTimeout(120_000);
const server = sharedServer();
let n = 0;
/** Names no other test uses: roles are the whole server's. */
const unique = () => `prep_${process.pid}_${Date.now().toString(36)}_${n++}`;
const MARK = 'pulumi:pronunciation-assistant/test';

const query = <T extends object>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> =>
  withClient(server.url(database), async (c) => (await c.query<T>(sql, params)).rows);

async function canLogIn(user: string, password: string, database: string): Promise<boolean> {
  const client = new Client({ host: server.host, port: server.port, user, password, database });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

describe('db:prepare', () => {
  const prepare = (names: { database: string; owner: string }, password: string, extra: string[] = [], env: Record<string, string> = {}) =>
    npmRun('db:prepare', ['--database', names.database, '--owner', names.owner, '--mark', MARK, ...extra], {
      DATABASE_URL: server.url('postgres'),
      OWNER_PASSWORD: password,
      ...env,
    });

  test('creates the owner and the database, marked; a rerun takes them back with a new password; release stops the owner logging in', async () => {
    const names = { database: unique(), owner: unique() };
    const created = await prepare(names, scramSha256Secret('first-password', Buffer.alloc(16, 1).toString('base64')), ['--fresh', '--roles', `${names.owner}_x`]);
    expect([created.code, created.stderr]).toEqual([0, '']);
    expect(created.stdout).toContain(`role ${names.owner}: created.`);
    expect(created.stdout).toContain(`database ${names.database}: created, owned by ${names.owner}`);
    const prepared = JSON.parse(created.stdout.trim().split('\n').pop()!.replace(/^prepared: /, ''));
    const [db] = await query<{ oid: number; owner: string; comment: string; enc: string; coll: string }>(
      "SELECT oid::int, pg_get_userbyid(datdba) AS owner, shobj_description(oid, 'pg_database') AS comment, pg_encoding_to_char(encoding) AS enc, datcollate AS coll FROM pg_database WHERE datname = $1",
      [names.database],
    );
    expect(prepared).toEqual({ database: names.database, owner: names.owner, oid: db.oid, mark: MARK });
    expect(db).toMatchObject({ owner: names.owner, comment: MARK, enc: 'UTF8', coll: 'C' });
    const [role] = await query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; comment: string; rolpassword: string }>(
      "SELECT rolsuper, rolcreatedb, rolcreaterole, shobj_description(oid, 'pg_authid') AS comment, (SELECT rolpassword FROM pg_authid a WHERE a.oid = r.oid) FROM pg_roles r WHERE rolname = $1",
      [names.owner],
    );
    expect(role).toMatchObject({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, comment: MARK });
    // The SCRAM secret stored as given: the plain password never reached the server.
    expect(role.rolpassword).toBe(scramSha256Secret('first-password', Buffer.alloc(16, 1).toString('base64')));
    expect(await canLogIn(names.owner, 'first-password', names.database)).toBe(true);

    await query(`CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)`, [], names.database).catch(() => undefined);
    await adminQuery(server, `ALTER TABLE IF EXISTS kept OWNER TO "${names.owner}"`);
    const released = await npmRun('db:prepare', ['--database', names.database, '--owner', names.owner, '--mark', MARK, '--release'], { DATABASE_URL: server.url('postgres') });
    expect([released.code, released.stderr]).toEqual([0, '']);
    expect(released.stdout).toMatch(/^kept: database .* can no longer log in/);
    expect(await canLogIn(names.owner, 'first-password', names.database)).toBe(false);

    const again = await prepare(names, 'second-password', ['--fresh']);
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(again.stdout).toContain(`role ${names.owner}: kept from an earlier deployment of this stack`);
    expect(again.stdout).toMatch(new RegExp(`database ${names.database}: kept from an earlier deployment of this stack \\(\\d+ table\\(s\\)\\), data as it was`));
    expect(await canLogIn(names.owner, 'second-password', names.database)).toBe(true);
    expect(await canLogIn(names.owner, 'first-password', names.database)).toBe(false);
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!.replace(/^prepared: /, '')).oid).toBe(db.oid);
    expect(`${created.stdout}${again.stdout}${released.stdout}`).not.toMatch(/first-password|second-password|SCRAM-SHA-256\$/);
  });

  test("a database or role of the stack's names that is not the stack's is refused, naming it and what to run, and nothing is changed", async () => {
    const names = { database: unique(), owner: unique() };
    await adminQuery(server, `CREATE DATABASE "${names.database}"`);
    const refused = await prepare(names, 'a-password', ['--fresh']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: nothing was changed:');
    expect(refused.stderr).toContain(`database ${names.database} exists and is not this stack's (it has no comment;`);
    expect(refused.stderr).toContain(`COMMENT ON DATABASE "${names.database}" IS '${MARK}'`);
    expect(await query('SELECT 1 FROM pg_roles WHERE rolname = $1', [names.owner])).toEqual([]);

    const other = { database: unique(), owner: unique() };
    await adminQuery(server, `CREATE ROLE "${other.owner}"; COMMENT ON ROLE "${other.owner}" IS 'pulumi:pronunciation-assistant/another-stack'`);
    const taken = await prepare(other, 'a-password', ['--fresh']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`role ${other.owner} exists and is not this stack's (its comment is "pulumi:pronunciation-assistant/another-stack"`);
    expect(taken.stderr).toContain('pulumi config set externalNamespace');
    expect(await query('SELECT 1 FROM pg_database WHERE datname = $1', [other.database])).toEqual([]);
  });

  test("a first deployment that finds the stack's other roles (an unfinished destroy) is refused with the statements that clear them", async () => {
    const names = { database: unique(), owner: unique() };
    const leftover = unique();
    await adminQuery(server, `CREATE ROLE "${leftover}"`);
    const refused = await prepare(names, 'a-password', ['--fresh', '--roles', `${leftover},${unique()}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`role ${leftover} exists, but this stack has not created it yet`);
    expect(refused.stderr).toContain(`DROP OWNED BY "${leftover}"; DROP ROLE "${leftover}";`);
    // An update (not --fresh) does not look: the roles are the stack's by then.
    expect((await prepare(names, 'a-password', ['--fresh'])).code).toBe(0);
    expect((await prepare(names, 'a-password', ['--roles', leftover])).code).toBe(0);
  });

  test("a released owner (the first half of a replaced step) lets the next first deployment meet the stack's own roles", async () => {
    const names = { database: unique(), owner: unique() };
    const role = unique();
    expect((await prepare(names, 'a-password', ['--fresh', '--roles', role])).code).toBe(0);
    await adminQuery(server, `CREATE ROLE "${role}"`); // as the provider creates it after the step
    expect((await npmRun('db:prepare', ['--database', names.database, '--owner', names.owner, '--mark', MARK, '--release'], { DATABASE_URL: server.url('postgres') })).code).toBe(0);
    const again = await prepare(names, 'a-password', ['--fresh', '--roles', role]);
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(await canLogIn(names.owner, 'a-password', names.database)).toBe(true);
  });

  test("an update never creates the database: the stack's data not on this server (dropped, or another server or names) is refused, with the restore to run", async () => {
    const names = { database: unique(), owner: unique() };
    const first = await prepare(names, 'a-password', ['--fresh']);
    expect(first.code).toBe(0);
    await adminQuery(server, `DROP DATABASE "${names.database}"`);
    const refused = await prepare(names, 'a-password', [], { PULUMI_COMMAND_STDOUT: first.stdout });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the stack's data is in database ${names.database}, which is not on this server`);
    expect(refused.stderr).toContain(`npm run db:restore -- --database ${names.database}`);
    expect(await query('SELECT 1 FROM pg_database WHERE datname = $1', [names.database])).toEqual([]);
    // Another server under other names (a container stack switched to an external server, say): its previous database is not here either.
    const elsewhere = first.stdout.split(names.database).join('a_database_on_another_server');
    const moved = await prepare({ database: unique(), owner: unique() }, 'a-password', [], { PULUMI_COMMAND_STDOUT: elsewhere });
    expect([moved.code, moved.stderr]).toEqual([1, expect.stringContaining("the stack's data is in database a_database_on_another_server, which is not on this server")]);
  });

  test('a renamed stack takes back what bears its earlier mark, and marks it anew', async () => {
    const names = { database: unique(), owner: unique() };
    const first = await prepare(names, 'a-password', ['--fresh']);
    const renamed = await npmRun('db:prepare', ['--database', names.database, '--owner', names.owner, '--mark', 'pulumi:pronunciation-assistant/renamed'], {
      DATABASE_URL: server.url('postgres'),
      OWNER_PASSWORD: 'a-password',
      PULUMI_COMMAND_STDOUT: first.stdout,
    });
    expect([renamed.code, renamed.stderr]).toEqual([0, '']);
    expect(await query("SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1", [names.database])).toEqual([{ c: 'pulumi:pronunciation-assistant/renamed' }]);
  });

  test('a run stopped after CREATE DATABASE, before its mark: the rerun recognises it by its owner and marks it', async () => {
    const names = { database: unique(), owner: unique() };
    await adminQuery(server, `CREATE ROLE "${names.owner}"; COMMENT ON ROLE "${names.owner}" IS '${MARK}'`);
    await adminQuery(server, `CREATE DATABASE "${names.database}" OWNER "${names.owner}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
    const rerun = await prepare(names, 'a-password', ['--fresh']);
    expect([rerun.code, rerun.stderr]).toEqual([0, '']);
    expect(await query("SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1", [names.database])).toEqual([{ c: MARK }]);
  });

  test("changed names (another namespace), with the stack's data in the database of the old ones, are refused: set the namespace back", async () => {
    const old = { database: unique(), owner: unique() };
    const first = await prepare(old, 'a-password', ['--fresh']);
    expect(first.code).toBe(0);
    const renamed = { database: unique(), owner: unique() };
    const refused = await prepare(renamed, 'a-password', [], { PULUMI_COMMAND_STDOUT: first.stdout });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the stack's names changed (\`externalNamespace\`, or a renamed stack): its data is in database ${old.database}, owned by ${old.owner}`);
    expect(refused.stderr).toContain('pulumi config set externalNamespace');
    expect(await query('SELECT 1 FROM pg_database WHERE datname = $1', [renamed.database])).toEqual([]);
  });

  test('as an administrator that is no superuser (CREATEDB, CREATEROLE), as on a managed service: created, and the admin keeps no membership in the owner', async () => {
    const admin = unique();
    await adminQuery(server, `CREATE ROLE "${admin}" LOGIN CREATEDB CREATEROLE PASSWORD 'admin-password'`);
    const names = { database: unique(), owner: unique() };
    const url = `postgres://${admin}:admin-password@${server.host}:${server.port}/postgres`;
    const created = await npmRun('db:prepare', ['--database', names.database, '--owner', names.owner, '--mark', MARK, '--fresh'], { DATABASE_URL: url, OWNER_PASSWORD: 'owner-password' });
    expect([created.code, created.stderr]).toEqual([0, '']);
    expect(await canLogIn(names.owner, 'owner-password', names.database)).toBe(true);
    expect(await query("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [admin, names.owner])).toEqual([{ m: false }]);
    const again = await npmRun('db:prepare', ['--database', names.database, '--owner', names.owner, '--mark', MARK], { DATABASE_URL: url, OWNER_PASSWORD: 'owner-password-2' });
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(await canLogIn(names.owner, 'owner-password-2', names.database)).toBe(true);
  });

  test('bad input: a missing flag or password is a usage error; an unreachable server is named, within its connect timeout', async () => {
    const usage = await npmRun('db:prepare', ['--database', 'x'], { DATABASE_URL: server.url() });
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringMatching(/^error: required option '--owner <role>' not specified/)]);
    const nopass = await npmRun('db:prepare', ['--database', 'x', '--owner', 'y', '--mark', MARK], { DATABASE_URL: server.url() });
    expect([nopass.code, nopass.stderr]).toEqual([1, expect.stringMatching(/^error: OWNER_PASSWORD is not set/)]);
    const down = await npmRun('db:prepare', ['--database', 'x', '--owner', 'y', '--mark', MARK], {
      DATABASE_URL: 'postgres://postgres:secret-pw@127.0.0.1:1/postgres?connect_timeout=2',
      OWNER_PASSWORD: 'owner-secret',
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/postgres \(from DATABASE_URL\): connection refused/);
    expect(down.stderr).not.toMatch(/secret-pw|owner-secret/);
    // During a destroy, a server gone for good: what to do instead.
    const gone = await npmRun('db:prepare', ['--database', 'x', '--owner', 'y', '--mark', MARK, '--release'], { DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:1/postgres?connect_timeout=2' });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/connection refused.*If that server is gone for good, take what the stack had on it out of its state instead: pulumi state delete --force --target-dependents/s);
  });
});

describe('storage:prepare', () => {
  let minio: MinioServer;
  beforeAll(async () => {
    minio = await startMinio();
  });
  afterAll(async () => {
    await minio?.stop();
  });

  const admin = () => ({ S3_ENDPOINT: minio.url, S3_REGION: 'us-east-1', S3_ADMIN_ACCESS_KEY: minio.rootUser, S3_ADMIN_SECRET_KEY: minio.rootPassword });
  const bucketFlags = (prefix: string) => ['documents', 'temp'].flatMap((key) => ['--bucket', `${key}=${prefix}${key}`]);
  const prepare = (prefix: string, env: Record<string, string> = {}) => npmRun('storage:prepare', [...bucketFlags(prefix), '--mark', MARK], { ...admin(), ...env });
  const client = () => storageClient({ url: new URL(minio.url), host: '127.0.0.1', port: minio.port, source: 'test' }, 'us-east-1', { accessKey: minio.rootUser, secretKey: minio.rootPassword });

  test('creates the buckets, tagged with the mark; a rerun takes them back with their objects', async () => {
    const created = await prepare('a-');
    expect([created.code, created.stderr]).toEqual([0, '']);
    expect(created.stdout).toContain('created bucket(s): a-documents, a-temp.');
    expect(await client().getBucketTagging('a-documents')).toEqual([{ Key: MARK_TAG, Value: MARK }]);
    await client().putObject('a-documents', 'kept.txt', Buffer.from('kept'));
    const again = await prepare('a-');
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(again.stdout).toContain('kept from an earlier deployment of this stack, with their objects: a-documents, a-temp.');
    expect(again.stdout.trim().split('\n').pop()).toBe(`prepared: {"buckets":{"documents":"a-documents","temp":"a-temp"},"mark":"${MARK}"}`);
  });

  test("a bucket of the stack's names that is not the stack's is refused, and nothing is created", async () => {
    await client().makeBucket('b-temp', 'us-east-1');
    const refused = await prepare('b-');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`bucket b-temp (temp) exists and is not this stack's (it has no ${MARK_TAG} tag`);
    expect(refused.stderr).toContain(`mc tag set ALIAS/b-temp "${MARK_TAG}=${MARK}"`);
    expect(await client().bucketExists('b-documents')).toBe(false);
  });

  test('a changed bucketPrefix is refused while an old bucket holds objects (S3 cannot rename one); the move the message gives goes through, and so does one with empty old buckets', async () => {
    const first = await prepare('c-');
    expect(first.code).toBe(0);
    await client().putObject('c-documents', 'doc.txt', Buffer.from('a document'));
    const refused = await prepare('d-', { PULUMI_COMMAND_STDOUT: first.stdout });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the documents bucket is now d-documents, but the stack\'s documents are in c-documents (bucketPrefix changed)');
    expect(refused.stderr).toContain(`mc mb ALIAS/d-documents && mc tag set ALIAS/d-documents "${MARK_TAG}=${MARK}" && mc mirror --preserve ALIAS/c-documents ALIAS/d-documents && mc rb --force ALIAS/c-documents`);
    expect(refused.stderr).not.toContain('c-temp'); // empty: nothing to lose
    expect(await client().bucketExists('d-documents')).toBe(false);
    // The move as the message gives it, with minio-js in place of mc.
    await client().makeBucket('d-documents', 'us-east-1');
    await client().setBucketTagging('d-documents', { [MARK_TAG]: MARK });
    await client().copyObject('d-documents', 'doc.txt', '/c-documents/doc.txt');
    await client().removeObject('c-documents', 'doc.txt');
    await client().removeBucket('c-documents');
    const moved = await prepare('d-', { PULUMI_COMMAND_STDOUT: first.stdout });
    expect([moved.code, moved.stderr]).toEqual([0, '']);
    expect(moved.stdout).toContain('created bucket(s): d-temp.');
    expect(moved.stdout).toContain('kept from an earlier deployment of this stack, with their objects: d-documents.');
  });

  test("a released stack's buckets (its destroy, or the first half of a replaced step) let its next first deployment meet its own users, and lose the released tag", async () => {
    const names = ['--user', 'h-app', '--policy', 'h-app-policy'];
    const first = await npmRun('storage:prepare', [...bucketFlags('h-'), '--mark', MARK, '--fresh', ...names], admin());
    expect(first.code).toBe(0);
    await userCreate(minio, 'h-app', 'the-stacks-own-secret'); // as the provider creates it after the step
    const released = await npmRun('storage:prepare', [...bucketFlags('h-'), '--mark', MARK, '--release', '--volume', 'pronunciation-assistant-test-minio-data'], admin());
    expect([released.code, released.stderr]).toEqual([0, '']);
    expect(released.stdout).toMatch(/^kept: buckets h-documents, h-temp, with their objects.*docker volume rm pronunciation-assistant-test-minio-data/);
    expect(await client().getBucketTagging('h-documents')).toEqual(expect.arrayContaining([{ Key: RELEASED_TAG, Value: MARK }]));
    // `pulumi up --replace` of the step: its create runs with --fresh, and the stack's user is there, alive.
    const again = await npmRun('storage:prepare', [...bucketFlags('h-'), '--mark', MARK, '--fresh', ...names], admin());
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(await client().getBucketTagging('h-documents')).toEqual([{ Key: MARK_TAG, Value: MARK }]);
  });

  test("a first deployment that finds a user or policy of the stack's names (an unfinished destroy, another deployment) is refused, naming it and what to run", async () => {
    await userCreate(minio, 'f-app', 'a-leftover-secret');
    await policyCreate(minio, 'f-app-policy', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::x'] }] }));
    const names = ['--user', 'f-app', '--user', 'f-backup', '--policy', 'f-app-policy', '--policy', 'f-backup-policy'];
    const refused = await npmRun('storage:prepare', [...bucketFlags('f-'), '--mark', MARK, '--fresh', ...names], admin());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('user f-app exists, but this stack has not created it yet');
    expect(refused.stderr).toContain('mc admin user rm ALIAS f-app');
    expect(refused.stderr).toContain('mc admin policy remove ALIAS f-app-policy');
    expect(refused.stderr).not.toMatch(/f-backup/);
    expect(await client().bucketExists('f-documents')).toBe(false);
    // An update (not --fresh) does not look: by then they are the stack's.
    expect((await npmRun('storage:prepare', [...bucketFlags('f-'), '--mark', MARK], admin())).code).toBe(0);
  });

  test("an update never creates a bucket of the stack's names: one missing where the stack had it is refused", async () => {
    const first = await prepare('g-');
    expect(first.code).toBe(0);
    await client().removeBucket('g-temp');
    const refused = await prepare('g-', { PULUMI_COMMAND_STDOUT: first.stdout });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the stack's temp are in bucket g-temp, which is not on this store");
    expect(await client().bucketExists('g-temp')).toBe(false);
  });

  test('a wrong secret key is named, and never printed', async () => {
    const wrong = await prepare('e-', { S3_ADMIN_SECRET_KEY: 'not-the-secret-key' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: the object store at http:\/\/127\.0\.0\.1:\d+ \(from S3_ENDPOINT\) refused S3_ADMIN_ACCESS_KEY and S3_ADMIN_SECRET_KEY \(AccessDenied\)/);
    expect(wrong.stderr).not.toContain('not-the-secret-key');
  });
});
