import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { READ_ALL_DATA_ROLE, SEQUENCE_PRIVILEGES, TABLE_PRIVILEGES } from '../stacks/inside/database';
import { postDeployScript, schemaInputsHash, SCHEMA_INPUTS } from '../stacks/postdeploy';
import { MINIO, POSTGRES } from '../stacks/services';
import { STORAGE_USERS } from '../common/names';
import { anonymousDownloadPolicy, appPolicy, backupPolicy, lifecycleRules } from '../stacks/inside/storage-policies';
import { AUDIO_RETENTION_DAYS } from '../schema/seeds/reference';
import { type Declared, plain, walk } from './helpers/pulumi-mocks';
import { byType, one, PROJECT, ROOT, runCommittedStacks, STACK_SECRETS, STACKS, type ProgramRun } from './helpers/program';

/** What `pulumi up` declares inside PostgreSQL and MinIO, and the post-deploy step, per committed stack. */

const PG = 'postgresql:index';
let runs: Awaited<ReturnType<typeof runCommittedStacks>>;

beforeAll(async () => {
  runs = await runCommittedStacks();
});

const get = (stack: string) => runs.get(stack)!;
/** A component's prepare step (Database or Storage). */
const prepareOf = (run: ProgramRun, component: 'Database' | 'Storage'): Declared =>
  run.declared.find((d) => d.name === 'prepare' && d.parent.endsWith(`pronunciation:stack:${component}::${component.toLowerCase()}`))!;
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
      // PostgreSQL's provider waits for its container through the prepare step (the next test).
      const waitsFor = pkg === 'minio' ? provider : prepareOf(run, 'Database');
      if (!external) expect(waitsFor.dependencies).toContain(one(run, 'docker:index/container:Container', container).urn);
    }
    const p = plain(one(run, 'pulumi:providers:postgresql', 'postgresql').raw);
    const m = plain(one(run, 'pulumi:providers:minio', 'minio').raw);
    // The PostgreSQL provider works in the stack's database: a role it deletes is cleared there (REASSIGN/DROP OWNED).
    expect(p.database).toBe(config.names.postgres.database);
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

  test("the database's prepare step: npm run db:prepare as the server's admin, before the provider; kept and locked on destroy; protected where the data is", () => {
    const { run, config } = get(stack);
    const d = prepareOf(run, 'Database');
    const c = plain(d.raw);
    const { database, roles } = config.names.postgres;
    const base = `'npm' 'run' '--silent' 'db:prepare' '--' '--database' '${database}' '--owner' '${roles.migrator}' '--mark' 'pulumi:${PROJECT}/${stack}'`;
    const others = `'--roles' '${roles.app},${roles.readonly},${roles.backup}'`;
    // On its own container, what a destroy keeps is the volume: the release says to remove it, for good.
    const volume = config.external.postgres ? '' : ` '--volume' '${PROJECT}-${stack}-postgres-data'`;
    expect({ create: c.create, update: c.update, delete: c.delete }).toEqual({ create: `${base} ${others} '--fresh'`, update: `${base} ${others}`, delete: `${base} '--release'${volume}` });
    expect(c.interpreter).toEqual(['/bin/sh', '-c']);
    expect(c.dir).toBeUndefined();
    const admin = new URL(c.environment.DATABASE_URL);
    expect([admin.pathname, admin.username]).toEqual(['/postgres', config.external.postgres ? config.externalPostgresAdminUser : POSTGRES.superuser]);
    expect(admin.searchParams.get('sslmode')).toBe(config.external.postgres ? config.externalPostgresSslMode : 'disable');
    expect(c.environment.OWNER_PASSWORD).toMatch(/^SCRAM-SHA-256\$4096:/);
    const secrets: string[] = [];
    walk(d.raw, (text, inSecret) => inSecret && secrets.push(text));
    expect(secrets).toEqual(expect.arrayContaining([c.environment.DATABASE_URL, c.environment.OWNER_PASSWORD]));
    expect({ protect: d.protect, deleteBeforeReplace: d.deleteBeforeReplace }).toEqual({ protect: config.protectData, deleteBeforeReplace: true });
    if (!config.external.postgres) expect(d.dependencies).toContain(one(run, 'docker:index/container:Container', 'postgres').urn);
    expect(one(run, 'pulumi:providers:postgresql', 'postgresql').dependencies).toContain(d.urn);
  });

  test('`pulumi destroy` first checks that every role can be dropped: a step that runs nothing on up and is deleted before anything inside PostgreSQL', () => {
    const { run, config } = get(stack);
    const d = one(run, 'command:local:Command', 'destroy-check');
    const c = plain(d.raw);
    const { database, roles } = config.names.postgres;
    expect([c.create, c.update]).toEqual([undefined, undefined]);
    expect(c.delete).toBe(
      `'npm' 'run' '--silent' 'db:prepare' '--' '--database' '${database}' '--owner' '${roles.migrator}' '--mark' 'pulumi:${PROJECT}/${stack}' ` +
        `'--roles' '${roles.app},${roles.readonly},${roles.backup}' '--before-destroy'`,
    );
    expect(c.environment.DATABASE_URL).toBe(plain(prepareOf(run, 'Database').raw).environment.DATABASE_URL);
    const byUrn = new Map(run.declared.map((r) => [r.urn, r]));
    const reaches = (from: Declared, urn: string): boolean => from.dependencies.some((u) => u === urn || reaches(byUrn.get(u)!, urn));
    for (const r of run.declared.filter((x) => x.type.startsWith(`${PG}/`))) expect([r.name, reaches(d, r.urn)]).toEqual([r.name, true]);
  });

  test('roles: app, read-only and backup, logins with SCRAM secrets, none a superuser or able to create roles or databases; the owner is no provider resource, nor the database', () => {
    const { run, config } = get(stack);
    const { roles: names } = config.names.postgres;
    const roles = inputsOf(run, `${PG}/role:Role`);
    expect(roles.map((r) => r.name).sort()).toEqual([names.app, names.readonly, names.backup].sort());
    for (const r of roles) {
      expect(r).toMatchObject({ login: true, superuser: false, createDatabase: false, createRole: false, replication: false, bypassRowLevelSecurity: false });
      expect(r.password).toMatch(/^SCRAM-SHA-256\$4096:/);
    }
    // The backup role's membership is declared on the role, whose update revokes and grants memberships anew.
    expect(roles.find((r) => r.name === names.backup)!.roles).toEqual([READ_ALL_DATA_ROLE]);
    expect(roles.filter((r) => r.roles !== undefined)).toHaveLength(1);
    expect(byType(run, `${PG}/grantRole:GrantRole`)).toEqual([]);
    expect(byType(run, `${PG}/database:Database`)).toEqual([]);
  });

  test('privileges: connect, schema usage and the tables and sequences there are for app and read-only; default privileges of the migrator for later ones; connect and pg_read_all_data for backup', () => {
    const { run, config } = get(stack);
    const { database, roles } = config.names.postgres;
    const grants = inputsOf(run, `${PG}/grant:Grant`).map(({ database: db, role, objectType, schema, privileges, objects }) => ({ database: db, role, objectType, schema, privileges, objects }));
    const expected = (['app', 'readonly'] as const).flatMap((key) => [
      { database, role: roles[key], objectType: 'database', schema: undefined, privileges: ['CONNECT'], objects: undefined },
      { database, role: roles[key], objectType: 'schema', schema: 'public', privileges: ['USAGE'], objects: undefined },
      // No objects: every table (sequence) in the schema, those a kept database already has.
      { database, role: roles[key], objectType: 'table', schema: 'public', privileges: [...TABLE_PRIVILEGES[key]], objects: undefined },
      { database, role: roles[key], objectType: 'sequence', schema: 'public', privileges: [...SEQUENCE_PRIVILEGES[key]], objects: undefined },
    ]);
    expected.push({ database, role: roles.backup, objectType: 'database', schema: undefined, privileges: ['CONNECT'], objects: undefined });
    expect(grants).toEqual(expect.arrayContaining(expected));
    expect(grants).toHaveLength(expected.length);
    expect(READ_ALL_DATA_ROLE).toBe('pg_read_all_data');
    const defaults = inputsOf(run, `${PG}/defaultPrivileges:DefaultPrivileges`).map(({ database: db, role, owner, objectType, schema, privileges }) => ({
      database: db, role, owner, objectType, schema, privileges,
    }));
    const expectedDefaults = (['app', 'readonly'] as const).flatMap((key) => [
      { database, role: roles[key], owner: roles.migrator, objectType: 'table', schema: 'public', privileges: [...TABLE_PRIVILEGES[key]] },
      { database, role: roles[key], owner: roles.migrator, objectType: 'sequence', schema: 'public', privileges: [...SEQUENCE_PRIVILEGES[key]] },
    ]);
    expect(defaults).toEqual(expect.arrayContaining(expectedDefaults));
    expect(defaults).toHaveLength(expectedDefaults.length);
    // Read-only means no writing privilege anywhere; the app has no DDL (no CREATE, TRUNCATE, REFERENCES or TRIGGER).
    expect(TABLE_PRIVILEGES.readonly).toEqual(['SELECT']);
    for (const priv of ['CREATE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) expect(TABLE_PRIVILEGES.app).not.toContain(priv);
    // Extensions are the first migration's, not Pulumi's: one owner for each object.
    expect(byType(run, `${PG}/extension:Extension`)).toEqual([]);
  });

  test('inside PostgreSQL nothing runs at once: every resource is ordered after another, so the engine runs them one by one, and deletes them one by one', () => {
    const { run } = get(stack);
    const inside = run.declared.filter((d) => d.type.startsWith(`${PG}/`));
    const byUrn = new Map(run.declared.map((d) => [d.urn, d]));
    const reaches = (from: Declared, to: Declared): boolean => {
      const seen = new Set<string>();
      const stack = [...from.dependencies];
      while (stack.length > 0) {
        const urn = stack.pop()!;
        if (urn === to.urn) return true;
        if (seen.has(urn)) continue;
        seen.add(urn);
        stack.push(...(byUrn.get(urn)?.dependencies ?? []));
      }
      return false;
    };
    for (const a of inside) for (const b of inside) if (a !== b) expect([a.name, b.name, reaches(a, b) || reaches(b, a)]).toEqual([a.name, b.name, true]);
  });

  test("the buckets' prepare step: npm run storage:prepare as the store's admin, before their policy, versioning and lifecycle; no bucket resource", () => {
    const { run, config } = get(stack);
    const d = prepareOf(run, 'Storage');
    const c = plain(d.raw);
    const flags = (['documents', 'recordings', 'temp', 'backups'] as const).map((key) => `'--bucket' '${key}=${config.buckets[key]}'`).join(' ');
    const base = `'npm' 'run' '--silent' 'storage:prepare' '--' ${flags} '--mark' 'pulumi:${PROJECT}/${stack}'`;
    const { users, policies } = config.names.storage;
    // A first deployment also checks that the users and policies it is about to create are not there.
    expect(c.create).toBe(`${base} '--fresh' '--user' '${users.app}' '--user' '${users.backup}' '--policy' '${policies.app}' '--policy' '${policies.backup}'`);
    expect(c.update).toBe(base);
    expect(c.delete).toBe(`${base} '--release'${config.external.storage ? '' : ` '--volume' '${PROJECT}-${stack}-minio-data'`}`);
    expect(c.environment).toMatchObject({
      S3_ENDPOINT: config.external.storage ? `https://${config.externalS3Endpoint}` : `http://127.0.0.1:${config.minioApiPort}`,
      S3_ADMIN_ACCESS_KEY: config.external.storage ? STACK_SECRETS[stack].externalS3AccessKey : MINIO.rootUser,
    });
    const secrets: string[] = [];
    walk(d.raw, (text, inSecret) => inSecret && secrets.push(text));
    expect(secrets).toEqual(expect.arrayContaining([c.environment.S3_ADMIN_ACCESS_KEY, c.environment.S3_ADMIN_SECRET_KEY]));
    expect({ protect: d.protect, deleteBeforeReplace: d.deleteBeforeReplace }).toEqual({ protect: config.protectData, deleteBeforeReplace: true });
    if (!config.external.storage) expect(d.dependencies).toContain(one(run, 'docker:index/container:Container', 'minio').urn);
    expect(byType(run, 'minio:index/s3Bucket:S3Bucket')).toEqual([]);
    if (stack === 'staging') expect(config.buckets.documents).toBe('staging-documents');
  });

  test('temp: anonymous download only; documents and backups: versioned; lifecycle from the retention settings; all kept with the buckets on destroy', () => {
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
    for (const type of ['s3BucketPolicy:S3BucketPolicy', 's3BucketVersioning:S3BucketVersioning', 'ilmPolicy:IlmPolicy']) {
      for (const d of byType(run, `minio:index/${type}`)) expect([d.name, d.retainOnDelete]).toEqual([d.name, true]);
    }
    // Every resource inside the store waits for the prepare step: its first run checks that the users and
    // policies are not there yet, which it could not if the provider were creating them at the same time.
    const prepare = prepareOf(run, 'Storage');
    for (const d of run.declared.filter((r) => r.type.startsWith('minio:'))) expect([d.name, d.dependencies.includes(prepare.urn)]).toEqual([d.name, true]);
  });

  test('storage users: the app and backups, each with its own generated secret and exactly its policy, named for the stack on a shared store; no root credential handed out', () => {
    const { run, config } = get(stack);
    const { users, policies: policyNames } = config.names.storage;
    const declared = inputsOf(run, 'minio:index/iamUser:IamUser');
    expect(declared.map((u) => u.name).sort()).toEqual([users.app, users.backup].sort());
    if (config.external.storage) expect(users).toEqual({ app: `pa-${stack}-app`, backup: `pa-${stack}-backup` });
    else expect(users).toEqual(STORAGE_USERS);
    for (const u of declared) expect(run.generated).toContain(u.secret);
    const policies = Object.fromEntries(inputsOf(run, 'minio:index/iamPolicy:IamPolicy').map((p) => [p.name, JSON.parse(p.policy)]));
    expect(policies).toEqual({ [policyNames.app]: appPolicy(config.buckets), [policyNames.backup]: backupPolicy(config.buckets.backups) });
    const attachments = inputsOf(run, 'minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment').map((a) => `${a.userName}->${a.policyName}`);
    expect(attachments.sort()).toEqual([`${users.app}->${policyNames.app}`, `${users.backup}->${policyNames.backup}`].sort());
  });

  test('`pulumi destroy` meets the destroy guard first: it depends on every resource of the stack and is protected where the data is, so a protected stack loses nothing', () => {
    const { run, config } = get(stack);
    const guard = one(run, 'command:local:Command', 'destroy-guard');
    expect(plain(guard.raw)).toEqual({});
    expect(guard.protect).toBe(config.protectData);
    for (const d of run.declared.filter((r) => r.custom && r !== guard && !r.type.startsWith('pulumi:providers:'))) {
      expect([d.type, d.name, guard.dependencies.includes(d.urn)]).toEqual([d.type, d.name, true]);
    }
  });

  test("post-deploy: the project's own migrate and seed, as the migrator, after the database, roles and grants; again for a new database", () => {
    const { run, config } = get(stack);
    const d = one(run, 'command:local:Command', 'migrate-and-seed');
    const c = plain(d.raw);
    expect(c.create).toBe(postDeployScript(config.demoData, config.backupBeforeMigrate ? stack : undefined));
    const migrate = config.backupBeforeMigrate ? `npm run --silent db:migrate -- --backup-first --stack ${stack}` : 'npm run --silent db:migrate';
    expect(c.create).toBe(`${migrate} && npm run --silent db:seed${stack === 'dev' ? ' -- --demo' : ''}`);
    expect(c.interpreter).toEqual(['/bin/sh', '-c']);
    // No folder: the checkout's path is no input, so another checkout changes nothing.
    expect(c.dir).toBeUndefined();
    // The schema files' hash and the database's identity as its prepare step reports it (Pulumi's mocks report none).
    expect(c.triggers).toEqual([schemaInputsHash(), '']);
    // The backup role's login only where the stack backs up before migrating (config backupBeforeMigrate).
    // Both migrator variables: the step inherits the deployer's environment, whose MIGRATOR_DATABASE_URL would win (stacks/postdeploy.ts).
    expect(Object.keys(c.environment).sort()).toEqual(config.backupBeforeMigrate ? ['BACKUP_DATABASE_URL', 'DATABASE_URL', 'MIGRATOR_DATABASE_URL'] : ['DATABASE_URL', 'MIGRATOR_DATABASE_URL']);
    expect(c.environment.DATABASE_URL).toBe(run.outputs.migratorDatabaseUrl.value);
    expect(c.environment.MIGRATOR_DATABASE_URL).toBe(run.outputs.migratorDatabaseUrl.value);
    if (config.backupBeforeMigrate) expect(c.environment.BACKUP_DATABASE_URL).toBe(run.outputs.backupDatabaseUrl.value);
    // The URL is a secret input; stdout and stderr are kept secret in state too.
    let secretUrl = false;
    walk(d.raw, (text, inSecret) => (secretUrl ||= inSecret && text === c.environment.DATABASE_URL));
    expect(secretUrl).toBe(true);
    if (config.backupBeforeMigrate) {
      let secretBackupUrl = false;
      walk(d.raw, (text, inSecret) => (secretBackupUrl ||= inSecret && text === c.environment.BACKUP_DATABASE_URL));
      expect(secretBackupUrl).toBe(true);
    }
    expect(d.additionalSecretOutputs.sort()).toEqual(['stderr', 'stdout']);
    const mustPrecede = [prepareOf(run, 'Database'), ...byType(run, `${PG}/role:Role`), ...byType(run, `${PG}/grant:Grant`), ...byType(run, `${PG}/defaultPrivileges:DefaultPrivileges`)];
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
