import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { READ_ALL_DATA_ROLE, SEQUENCE_PRIVILEGES, TABLE_PRIVILEGES } from '../stacks/database';
import { postDeployScript, schemaInputsHash, SCHEMA_INPUTS } from '../stacks/postdeploy';
import { DATABASE_NAME, MINIO, POSTGRES, ROLES, STORAGE_USERS } from '../stacks/services';
import { anonymousDownloadPolicy, appPolicy, backupPolicy, lifecycleRules } from '../stacks/storage-policies';
import { AUDIO_RETENTION_DAYS } from '../schema/seeds/reference';
import { plain, walk } from './helpers/pulumi-mocks';
import { byType, one, ROOT, runCommittedStacks, STACK_SECRETS, STACKS, type ProgramRun } from './helpers/program';

/** What `pulumi up` declares inside PostgreSQL and MinIO, and the post-deploy step, per committed stack. */

const PG = 'postgresql:index';
let runs: Awaited<ReturnType<typeof runCommittedStacks>>;

beforeAll(async () => {
  runs = await runCommittedStacks();
});

const get = (stack: string) => runs.get(stack)!;
/** Each resource's inputs as the provider sees them; `name` is the input's if it has one, else the resource's. */
const inputsOf = (run: ProgramRun, type: string) => byType(run, type).map((d) => ({ name: d.name, ...plain(d.raw) }));

describe.each(STACKS)('stack %s', (stack) => {
  test('every resource inside PostgreSQL or MinIO uses the explicit provider; one for a container waits for it to be healthy', () => {
    const { run, config } = get(stack);
    for (const [pkg, container, external] of [['postgresql', 'postgres', config.external.postgres], ['minio', 'minio', config.external.storage]] as const) {
      const provider = one(run, `pulumi:providers:${pkg}`, pkg);
      const inside = run.declared.filter((d) => d.type.startsWith(`${pkg}:`));
      expect(inside.length).toBeGreaterThan(5);
      for (const d of inside) expect([d.name, d.provider]).toEqual([d.name, `${provider.urn}::${provider.name}-id`]);
      if (!external) expect(provider.dependencies).toContain(one(run, 'docker:index/container:Container', container).urn);
    }
    const p = plain(one(run, 'pulumi:providers:postgresql', 'postgresql').raw);
    const m = plain(one(run, 'pulumi:providers:minio', 'minio').raw);
    if (config.external.postgres) {
      expect(p).toMatchObject({
        host: config.externalPostgresHost,
        port: String(config.externalPostgresPort),
        username: config.externalPostgresAdminUser,
        sslmode: config.externalPostgresSslMode,
        superuser: String(config.externalPostgresSuperuser),
        password: STACK_SECRETS[stack].externalPostgresAdminPassword,
      });
    } else {
      expect(p).toMatchObject({ host: '127.0.0.1', port: String(config.postgresPort), username: POSTGRES.superuser, sslmode: 'disable', superuser: 'true' });
      expect(run.generated).toContain(p.password);
    }
    if (config.external.storage) {
      expect(m).toMatchObject({
        minioServer: config.externalS3Endpoint,
        minioUser: STACK_SECRETS[stack].externalS3AccessKey,
        minioPassword: STACK_SECRETS[stack].externalS3SecretKey,
        minioSsl: 'true',
        minioRegion: config.externalS3Region,
      });
    } else {
      expect(m).toMatchObject({ minioServer: `127.0.0.1:${config.minioApiPort}`, minioUser: MINIO.rootUser, minioSsl: 'false' });
    }
  });

  test('roles: migrator, app, read-only and backup, logins with SCRAM secrets, none a superuser or able to create roles or databases', () => {
    const { run } = get(stack);
    const roles = inputsOf(run, `${PG}/role:Role`);
    expect(roles.map((r) => r.name).sort()).toEqual(Object.values(ROLES).sort());
    for (const r of roles) {
      expect(r).toMatchObject({ login: true, superuser: false, createDatabase: false, createRole: false, replication: false, bypassRowLevelSecurity: false });
      expect(r.password).toMatch(/^SCRAM-SHA-256\$4096:/);
    }
  });

  test('the database: owned by the migrator, UTF-8 and C collation, never dropped, protected where the stack says so', () => {
    const { run, config } = get(stack);
    const d = one(run, `${PG}/database:Database`, 'database');
    expect(plain(d.raw)).toMatchObject({ name: DATABASE_NAME, owner: ROLES.migrator, template: 'template0', encoding: 'UTF8', lcCollate: 'C', lcCtype: 'C' });
    expect({ retainOnDelete: d.retainOnDelete, protect: d.protect }).toEqual({ retainOnDelete: true, protect: config.protectData });
  });

  test('privileges: connect and schema usage for app and read-only; default privileges of the migrator for their tables and sequences; connect and pg_read_all_data for backup; nothing for the migrator', () => {
    const { run } = get(stack);
    const grants = inputsOf(run, `${PG}/grant:Grant`).map(({ database, role, objectType, schema, privileges }) => ({ database, role, objectType, schema, privileges }));
    expect(grants).toEqual(
      expect.arrayContaining(
        [ROLES.app, ROLES.readonly].flatMap((role) => [
          { database: DATABASE_NAME, role, objectType: 'database', schema: undefined, privileges: ['CONNECT'] },
          { database: DATABASE_NAME, role, objectType: 'schema', schema: 'public', privileges: ['USAGE'] },
        ]),
      ),
    );
    expect(grants).toContainEqual({ database: DATABASE_NAME, role: ROLES.backup, objectType: 'database', schema: undefined, privileges: ['CONNECT'] });
    expect(grants).toHaveLength(5);
    // The backup role reads everything through PostgreSQL's predefined role, and holds nothing else.
    expect(inputsOf(run, `${PG}/grantRole:GrantRole`).map(({ role, grantRole, withAdminOption }) => ({ role, grantRole, withAdminOption }))).toEqual([
      { role: ROLES.backup, grantRole: READ_ALL_DATA_ROLE, withAdminOption: undefined },
    ]);
    expect(READ_ALL_DATA_ROLE).toBe('pg_read_all_data');
    const defaults = inputsOf(run, `${PG}/defaultPrivileges:DefaultPrivileges`).map(({ database, role, owner, objectType, schema, privileges }) => ({
      database, role, owner, objectType, schema, privileges,
    }));
    const expected = (['app', 'readonly'] as const).flatMap((key) => [
      { database: DATABASE_NAME, role: ROLES[key], owner: ROLES.migrator, objectType: 'table', schema: 'public', privileges: [...TABLE_PRIVILEGES[key]] },
      { database: DATABASE_NAME, role: ROLES[key], owner: ROLES.migrator, objectType: 'sequence', schema: 'public', privileges: [...SEQUENCE_PRIVILEGES[key]] },
    ]);
    expect(defaults).toEqual(expect.arrayContaining(expected));
    expect(defaults).toHaveLength(expected.length);
    // Read-only means no writing privilege anywhere; the app has no DDL (no CREATE, TRUNCATE, REFERENCES or TRIGGER).
    expect(TABLE_PRIVILEGES.readonly).toEqual(['SELECT']);
    for (const p of ['CREATE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) expect(TABLE_PRIVILEGES.app).not.toContain(p);
    // Extensions are the first migration's, not Pulumi's: one owner for each object.
    expect(byType(run, `${PG}/extension:Extension`)).toEqual([]);
  });

  test('buckets: the four, named with the stack prefix, private, never emptied or deleted with the stack', () => {
    const { run, config } = get(stack);
    const buckets = byType(run, 'minio:index/s3Bucket:S3Bucket');
    expect(buckets.map((b) => plain(b.raw).bucket).sort()).toEqual(Object.values(config.buckets).sort());
    for (const b of buckets) {
      expect(plain(b.raw)).toMatchObject({ acl: 'private', forceDestroy: false });
      expect({ retainOnDelete: b.retainOnDelete, protect: b.protect }).toEqual({ retainOnDelete: true, protect: config.protectData });
    }
    if (stack === 'staging') expect(config.buckets.documents).toBe('staging-documents');
  });

  test('temp: anonymous download only; documents and backups: versioned; lifecycle from the retention settings', () => {
    const { run, config } = get(stack);
    const policies = inputsOf(run, 'minio:index/s3BucketPolicy:S3BucketPolicy');
    expect(policies).toEqual([expect.objectContaining({ bucket: config.buckets.temp })]);
    expect(JSON.parse(policies[0].policy)).toEqual(anonymousDownloadPolicy(config.buckets.temp));
    // Named per bucket key: documents' resource kept its name when backups' was added, so deployed stacks only gain one.
    expect(inputsOf(run, 'minio:index/s3BucketVersioning:S3BucketVersioning')).toEqual(
      (['documents', 'backups'] as const).map((key) =>
        expect.objectContaining({ name: `${key}-versioning`, bucket: config.buckets[key], versioningConfiguration: { status: 'Enabled' } }),
      ),
    );
    const lifecycle = Object.fromEntries(inputsOf(run, 'minio:index/ilmPolicy:IlmPolicy').map((p) => [p.bucket, p.rules]));
    expect(lifecycle).toEqual(lifecycleRules(config.buckets, AUDIO_RETENTION_DAYS, config.backupRetentionDays));
    // An overwritten backup stays as a noncurrent version for as long as a backup is kept.
    expect(lifecycle[config.buckets.backups]).toEqual([
      { id: 'expire-backups', expiration: `${config.backupRetentionDays}d`, noncurrentVersionExpirationDays: config.backupRetentionDays },
    ]);
    expect(JSON.stringify(lifecycle[config.buckets.recordings])).toContain(`"${AUDIO_RETENTION_DAYS}d"`);
  });

  test('storage users: the app and backups, each with its own generated secret and exactly its policy; no root credential handed out', () => {
    const { run, config } = get(stack);
    const users = inputsOf(run, 'minio:index/iamUser:IamUser');
    expect(users.map((u) => u.name).sort()).toEqual([STORAGE_USERS.app, STORAGE_USERS.backup].sort());
    for (const u of users) expect(run.generated).toContain(u.secret);
    const policies = Object.fromEntries(inputsOf(run, 'minio:index/iamPolicy:IamPolicy').map((p) => [p.name, JSON.parse(p.policy)]));
    expect(policies).toEqual({
      [`${STORAGE_USERS.app}-policy`]: appPolicy(config.buckets),
      [`${STORAGE_USERS.backup}-policy`]: backupPolicy(config.buckets.backups),
    });
    const attachments = inputsOf(run, 'minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment').map((a) => `${a.userName}->${a.policyName}`);
    expect(attachments.sort()).toEqual([STORAGE_USERS.app, STORAGE_USERS.backup].map((u) => `${u}->${u}-policy`).sort());
  });

  test('post-deploy: the project\'s own migrate and seed, as the migrator, after the database, roles and grants', () => {
    const { run, config } = get(stack);
    const d = one(run, 'command:local:Command', 'migrate-and-seed');
    const c = plain(d.raw);
    expect(c.create).toBe(postDeployScript(config.demoData));
    expect(c.create).toBe(`npm run --silent db:migrate && npm run --silent db:seed${stack === 'dev' ? ' -- --demo' : ''}`);
    expect(c.interpreter).toEqual(['/bin/sh', '-c']);
    expect(c.dir).toBe(ROOT);
    expect(c.triggers).toEqual([schemaInputsHash()]);
    expect(Object.keys(c.environment)).toEqual(['DATABASE_URL']);
    expect(c.environment.DATABASE_URL).toBe(run.outputs.migratorDatabaseUrl.value);
    // The URL is a secret input; stdout and stderr are kept secret in state too.
    let secretUrl = false;
    walk(d.raw, (text, inSecret) => (secretUrl ||= inSecret && text === c.environment.DATABASE_URL));
    expect(secretUrl).toBe(true);
    expect(d.additionalSecretOutputs.sort()).toEqual(['stderr', 'stdout']);
    const mustPrecede = [
      one(run, `${PG}/database:Database`, 'database'),
      ...byType(run, `${PG}/role:Role`),
      ...byType(run, `${PG}/grant:Grant`),
      ...byType(run, `${PG}/defaultPrivileges:DefaultPrivileges`),
    ];
    for (const r of mustPrecede) expect([r.name, d.dependencies.includes(r.urn)]).toEqual([r.name, true]);
  });
});

describe('the post-deploy trigger', () => {
  const copy = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-hash-'));
    for (const sub of SCHEMA_INPUTS) fs.cpSync(path.join(ROOT, sub), path.join(dir, sub), { recursive: true });
    return dir;
  };

  test('an unchanged tree gives the same hash; a changed, added or renamed migration or seed changes it', () => {
    const dir = copy();
    try {
      const base = schemaInputsHash(dir);
      expect(schemaInputsHash(copy())).toBe(base);
      expect(base).toBe(schemaInputsHash(ROOT));
      const migration = path.join(dir, 'schema/migrations/0001_schema.sql');
      const original = fs.readFileSync(migration);
      fs.appendFileSync(migration, '\n-- a comment is a change too\n');
      expect(schemaInputsHash(dir)).not.toBe(base);
      fs.writeFileSync(migration, original);
      expect(schemaInputsHash(dir)).toBe(base);
      fs.writeFileSync(path.join(dir, 'schema/migrations/0099_new.sql'), 'SELECT 1;');
      const added = schemaInputsHash(dir);
      expect(added).not.toBe(base);
      fs.renameSync(path.join(dir, 'schema/migrations/0099_new.sql'), path.join(dir, 'schema/migrations/0098_new.sql'));
      expect(schemaInputsHash(dir)).not.toBe(added);
      fs.rmSync(path.join(dir, 'schema/migrations/0098_new.sql'));
      fs.appendFileSync(path.join(dir, 'schema/seeds/reference.ts'), '\n');
      expect(schemaInputsHash(dir)).not.toBe(base);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a tree without migrations is an error, not an empty hash', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-hash-'));
    expect(() => schemaInputsHash(dir)).toThrow(/no migration or seed files/);
  });
});
