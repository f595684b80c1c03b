/**
 * The storage policies and lifecycle rules of stacks/inside/storage-policies.ts, applied to a real MinIO
 * (the release the stack runs) and exercised as anonymous, app and backup clients.
 */
import { Client } from 'minio';
import { AssumeRoleProvider } from 'minio/dist/main/AssumeRoleProvider.js';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AUDIO_RETENTION_DAYS } from '../schema/seeds/reference';
import { CONFIG_KEYS } from '../stacks/config';
import { BUCKETS, type BucketKey, STORAGE_USERS } from '../common/names';
import {
  anonymousDownloadPolicy,
  appPolicy,
  backupPolicy,
  lifecycleRules,
  NONCURRENT_DOCUMENT_DAYS,
  type PolicyDocument,
  VERSIONED_BUCKETS,
} from '../stacks/inside/storage-policies';
import { STALE_UPLOADS_ENV } from '../stacks/containers/minio';
import { startMinio, type MinioServer } from './helpers/minio';
import { createUser } from './helpers/minio-admin';
import { ilmConfiguration } from './helpers/minio-provider';

const buckets = Object.fromEntries(BUCKETS.map((b) => [b, `t1-${b}`])) as Record<BucketKey, string>;
const BACKUP_RETENTION_DAYS = CONFIG_KEYS.backupRetentionDays.default;
const rules = lifecycleRules(buckets, AUDIO_RETENTION_DAYS, BACKUP_RETENTION_DAYS);
const DAY_MS = 24 * 60 * 60 * 1000;
const MIB = 1024 * 1024;
/**
 * Who holds backupPolicy in the overwrite tests: an STS session, as elsewhere in this file, and a
 * MinIO user with the policy attached, which is what the stack creates.
 */
const BACKUP_HOLDERS = ['session', 'user'] as const;
const PRE_VERSIONING_BACKUP = 'a backup from before the bucket was versioned';

let server: MinioServer;
let root: Client;

function client(credentials: { accessKey: string; secretKey: string; sessionToken?: string }): Client {
  // A fixed region: otherwise minio-js first asks for the bucket's location, and a denial there would hide the one under test.
  return new Client({ endPoint: server.endPoint, port: server.port, useSSL: false, region: 'us-east-1', ...credentials });
}

/** Temporary credentials limited to `policy`: MinIO intersects it with root's rights, which are everything. */
async function credentialFor(policy: PolicyDocument): Promise<Client> {
  const provider = new AssumeRoleProvider({
    stsEndpoint: server.url,
    accessKey: server.rootUser,
    secretKey: server.rootPassword,
    policy: JSON.stringify(policy),
  });
  const { accessKey, secretKey, sessionToken } = await provider.getCredentials();
  return client({ accessKey, secretKey, sessionToken });
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function list(c: Client, bucket: string, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  for await (const item of c.listObjectsV2(bucket, prefix, true)) names.push((item as { name: string }).name);
  return names;
}

interface Version {
  name: string;
  versionId: string;
  isLatest: boolean;
  lastModified: Date;
}

/** Every version under `prefix` as root sees them, newest first within a name. */
async function versions(bucket: string, prefix: string): Promise<Version[]> {
  const found: Version[] = [];
  for await (const item of root.listObjects(bucket, prefix, true, { IncludeVersion: true })) {
    const { name, versionId, isLatest, lastModified } = item as Version;
    found.push({ name, versionId, isLatest, lastModified });
  }
  return found;
}

/** The S3 error code a call fails with, or 'ok'. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

/** S3's expiry date for an object: its creation plus `days`, rounded up to the next midnight UTC. */
function expiryDate(lastModified: Date, days: number): string {
  return new Date(Math.floor((lastModified.getTime() + (days + 1) * DAY_MS) / DAY_MS) * DAY_MS).toUTCString();
}

beforeAll(async () => {
  server = await startMinio();
  root = client({ accessKey: server.rootUser, secretKey: server.rootPassword });
  for (const name of Object.values(buckets)) await root.makeBucket(name);
  // Like the backups of a stack deployed before the bucket was versioned: their version id is "null".
  for (const holder of BACKUP_HOLDERS) await root.putObject(buckets.backups, `kept/${holder}/old.dump`, PRE_VERSIONING_BACKUP);
  for (const key of VERSIONED_BUCKETS) await root.setBucketVersioning(buckets[key], { Status: 'Enabled' });
  await root.setBucketPolicy(buckets.temp, JSON.stringify(anonymousDownloadPolicy(buckets.temp)));
  for (const [bucket, ilm] of Object.entries(rules)) await root.setBucketLifecycle(bucket, ilmConfiguration(ilm));
  await root.putObject(buckets.temp, 'shared/hello.txt', 'hello from temp');
  await root.putObject(buckets.documents, 'private/doc.txt', 'a learner document');
  await root.putObject(buckets.recordings, 'private/take.webm', 'a recording');
  await root.putObject(buckets.backups, 'db/existing.dump', 'an earlier backup');
});

afterAll(async () => {
  await server?.stop();
});

describe('as configured by root', () => {
  test('lifecycle and versioning read back as declared', async () => {
    for (const [bucket, ilm] of Object.entries(rules)) {
      const config = await root.getBucketLifecycle(bucket);
      // minio-js gives a lone rule as an object, several as an array.
      expect({ bucket, Rule: [config?.Rule ?? []].flat() }).toEqual({ bucket, Rule: ilmConfiguration(ilm).Rule });
    }
    // Every bucket has a rule; backups too, since the backup credential cannot delete and this is what prunes them.
    expect(Object.keys(rules).sort()).toEqual(Object.values(buckets).sort());
    for (const key of BUCKETS) {
      const enabled = (await root.getBucketVersioning(buckets[key]))?.Status === 'Enabled';
      expect({ key, enabled }).toEqual({ key, enabled: VERSIONED_BUCKETS.includes(key) });
    }
  });

  test('objects carry the expiry their bucket\'s rule gives them', async () => {
    for (const [bucket, key, days, rule] of [
      [buckets.temp, 'shared/hello.txt', 1, 'expire-temp'],
      [buckets.recordings, 'private/take.webm', AUDIO_RETENTION_DAYS, 'expire-recordings'],
      [buckets.backups, 'db/existing.dump', BACKUP_RETENTION_DAYS, 'expire-backups'],
    ] as const) {
      const { lastModified } = await root.statObject(bucket, key);
      const response = await fetch(await root.presignedUrl('HEAD', bucket, key, 60), { method: 'HEAD' });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-amz-expiration')).toBe(`expiry-date="${expiryDate(lastModified, days)}", rule-id="${rule}"`);
    }
    const first = await root.statObject(buckets.documents, 'private/doc.txt');
    await root.putObject(buckets.documents, 'private/doc.txt', 'a learner document, edited');
    const current = await root.statObject(buckets.documents, 'private/doc.txt');
    const head = async (versionId: string) =>
      fetch(await root.presignedUrl('HEAD', buckets.documents, 'private/doc.txt', 60, { versionId }), { method: 'HEAD' });
    // An old version expires counting from when the edit replaced it; the current version never does.
    expect((await head(first.versionId!)).headers.get('x-amz-expiration')).toBe(
      `expiry-date="${expiryDate(current.lastModified, NONCURRENT_DOCUMENT_DAYS)}", rule-id="expire-old-document-versions"`,
    );
    expect((await head(current.versionId!)).headers.get('x-amz-expiration')).toBeNull();
  });
});

describe('anonymous', () => {
  const anonymous = (method: string, path: string, body?: string) => fetch(`${server.url}${path}`, { method, body });

  test('can download from temp', async () => {
    const response = await anonymous('GET', `/${buckets.temp}/shared/hello.txt`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello from temp');
  });

  test.each([
    ['list temp', 'GET', () => `/${buckets.temp}/`],
    ['list temp (v2)', 'GET', () => `/${buckets.temp}?list-type=2`],
    ['upload into temp', 'PUT', () => `/${buckets.temp}/anonymous.txt`],
    ['download from documents', 'GET', () => `/${buckets.documents}/private/doc.txt`],
    ['list documents', 'GET', () => `/${buckets.documents}?list-type=2`],
    ['download from recordings', 'GET', () => `/${buckets.recordings}/private/take.webm`],
  ])('cannot %s', async (_what, method, path) => {
    const response = await anonymous(method, path(), method === 'PUT' ? 'not welcome' : undefined);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>AccessDenied</Code>');
  });

  test('left nothing behind in temp', async () => {
    expect(await outcome(root.statObject(buckets.temp, 'anonymous.txt'))).toBe('NotFound');
  });
});

describe('app credential (appPolicy)', () => {
  let app: Client;
  beforeAll(async () => {
    app = await credentialFor(appPolicy(buckets));
  });

  test.each(['documents', 'recordings', 'temp'] as const)('reads, writes, lists and deletes in %s', async (key) => {
    const bucket = buckets[key];
    await app.putObject(bucket, 'app/object.txt', `written by the app to ${key}`);
    expect(await text(await app.getObject(bucket, 'app/object.txt'))).toBe(`written by the app to ${key}`);
    expect(await list(app, bucket, 'app/')).toEqual(['app/object.txt']);
    await app.removeObject(bucket, 'app/object.txt');
    expect(await list(root, bucket, 'app/')).toEqual([]);
  });

  test('cannot touch backups', async () => {
    expect(await outcome(app.putObject(buckets.backups, 'app.dump', 'x'))).toBe('AccessDenied');
    expect(await outcome(app.getObject(buckets.backups, 'db/existing.dump'))).toBe('AccessDenied');
    expect(await outcome(list(app, buckets.backups))).toBe('AccessDenied');
  });

  test('cannot create or delete buckets, or change a policy', async () => {
    expect(await outcome(app.makeBucket('t1-app-made'))).toBe('AccessDenied');
    expect(await outcome(app.removeBucket(buckets.documents))).toBe('AccessDenied');
    expect(await outcome(app.setBucketPolicy(buckets.documents, JSON.stringify(anonymousDownloadPolicy(buckets.documents))))).toBe(
      'AccessDenied',
    );
    expect(await root.bucketExists('t1-app-made')).toBe(false);
  });
});

describe('backup credential (backupPolicy)', () => {
  let backup: Client;
  let backupUser: Client;
  beforeAll(async () => {
    backup = await credentialFor(backupPolicy(buckets.backups));
    const user = { accessKey: STORAGE_USERS.backup, secretKey: randomBytes(24).toString('base64url') };
    await createUser(server, { ...user, policyName: `${STORAGE_USERS.backup}-policy`, policy: backupPolicy(buckets.backups) });
    backupUser = client(user);
  });

  test('writes and lists backups', async () => {
    await backup.putObject(buckets.backups, 'db/small.dump', 'a small backup');
    expect((await root.statObject(buckets.backups, 'db/small.dump')).size).toBe('a small backup'.length);
    expect(await list(backup, buckets.backups, 'db/')).toEqual(['db/existing.dump', 'db/small.dump']);
  });

  test('uploads a large backup in parts, and can abort an upload', async () => {
    const uploadId = await backup.initiateNewMultipartUpload(buckets.backups, 'db/large.dump', {});
    const parts = [Buffer.alloc(5 * MIB, 1), Buffer.alloc(MIB, 2)];
    const etags = [];
    for (const [i, payload] of parts.entries()) {
      const part = await backup.uploadPart(
        { bucketName: buckets.backups, objectName: 'db/large.dump', uploadID: uploadId, partNumber: i + 1, headers: {} },
        payload,
      );
      etags.push({ part: part.part, etag: part.etag });
    }
    await backup.completeMultipartUpload(buckets.backups, 'db/large.dump', uploadId, etags);
    expect((await root.statObject(buckets.backups, 'db/large.dump')).size).toBe(6 * MIB);

    const abandoned = await backup.initiateNewMultipartUpload(buckets.backups, 'db/abandoned.dump', {});
    await backup.abortMultipartUpload(buckets.backups, 'db/abandoned.dump', abandoned);
    expect(await root.findUploadId(buckets.backups, 'db/abandoned.dump')).toBeUndefined();
  });

  test("a client's own large upload works: it lists unfinished uploads first (s3:ListBucketMultipartUploads)", async () => {
    // minio-js splits anything over its part size (64 MiB by default) and checks for an upload to resume first.
    const large = Buffer.alloc(65 * MIB, 3);
    await backup.putObject(buckets.backups, 'db/streamed.dump', large, large.length);
    expect((await root.statObject(buckets.backups, 'db/streamed.dump')).size).toBe(65 * MIB);
  });

  test('can neither read nor delete backups', async () => {
    expect(await outcome(backup.getObject(buckets.backups, 'db/existing.dump'))).toBe('AccessDenied');
    expect(await outcome(backup.removeObject(buckets.backups, 'db/existing.dump'))).toBe('AccessDenied');
    expect(await text(await root.getObject(buckets.backups, 'db/existing.dump'))).toBe('an earlier backup');
  });

  test('cannot write anywhere else', async () => {
    expect(await outcome(backup.putObject(buckets.documents, 'backup.txt', 'x'))).toBe('AccessDenied');
    expect(await outcome(backup.putObject(buckets.temp, 'backup.txt', 'x'))).toBe('AccessDenied');
  });

  test.each(BACKUP_HOLDERS)('an overwrite keeps the original as a version it can neither delete, replace nor stop keeping (as a %s)', async (holder) => {
    const leaked = holder === 'session' ? backup : backupUser;
    const bucket = buckets.backups;
    const garbage = 'garbage from a leaked key';
    const fresh = await root.putObject(bucket, `kept/${holder}/new.dump`, 'a backup from since');
    const originals = [
      { name: `kept/${holder}/old.dump`, versionId: 'null', content: PRE_VERSIONING_BACKUP },
      { name: `kept/${holder}/new.dump`, versionId: fresh.versionId!, content: 'a backup from since' },
    ];
    for (const { name } of originals) await leaked.putObject(bucket, name, garbage);

    for (const { name, versionId } of originals) {
      const attempts = {
        deleteVersion: await outcome(leaked.removeObject(bucket, name, { versionId })),
        // MinIO replaces a version that a PUT or a new multipart upload names (minio/minio#9854).
        putIntoVersion: await outcome(leaked.makeRequestAsync({ method: 'PUT', bucketName: bucket, objectName: name, query: `versionId=${versionId}` }, garbage)),
        uploadIntoVersion: await outcome(leaked.makeRequestAsync({ method: 'POST', bucketName: bucket, objectName: name, query: `uploads=&versionId=${versionId}` })),
      };
      expect({ name, attempts }).toEqual({ name, attempts: { deleteVersion: 'AccessDenied', putIntoVersion: 'AccessDenied', uploadIntoVersion: 'AccessDenied' } });
    }
    expect(await outcome(leaked.setBucketVersioning(bucket, { Status: 'Suspended' }))).toBe('AccessDenied');
    const shortened = ilmConfiguration([{ id: 'expire-backups', expiration: '1d', noncurrentVersionExpirationDays: 1 }]);
    expect(await outcome(leaked.setBucketLifecycle(bucket, shortened))).toBe('AccessDenied');
    expect(await root.getBucketVersioning(bucket)).toEqual({ Status: 'Enabled' });

    const kept = await versions(bucket, `kept/${holder}/`);
    for (const { name, versionId, content } of originals) {
      const [latest, ...older] = kept.filter((v) => v.name === name);
      expect({ name, latest: latest.isLatest, older: older.map((v) => v.versionId) }).toEqual({ name, latest: true, older: [versionId] });
      expect(await text(await root.getObject(bucket, name, { versionId: latest.versionId }))).toBe(garbage);
      expect(await text(await root.getObject(bucket, name, { versionId }))).toBe(content);
      // The original outlives the overwrite by backupRetentionDays, counted from the overwrite.
      const head = await fetch(await root.presignedUrl('HEAD', bucket, name, 60, { versionId }), { method: 'HEAD' });
      expect(head.headers.get('x-amz-expiration')).toBe(`expiry-date="${expiryDate(latest.lastModified, BACKUP_RETENTION_DAYS)}", rule-id="expire-backups"`);
    }
  });
});

describe('STALE_UPLOADS_ENV', () => {
  /** MinIO reads these variables while loading its config, and logs this when it cannot use a value. */
  const REJECTED = /Invalid api configuration/;

  /** Starts MinIO with `env`, waits for the banner it prints once its config is loaded, returns the log. */
  async function startupLog(env: Record<string, string>): Promise<string> {
    const s = await startMinio({ env });
    try {
      const deadline = Date.now() + 10_000;
      while (!/S3-API:/.test(s.logs()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(s.logs()).toMatch(/S3-API:/);
      return s.logs();
    } finally {
      await s.stop();
    }
  }

  test('MinIO reads both variable names, and accepts the values the container gets', async () => {
    const names = Object.keys(STALE_UPLOADS_ENV);
    const [accepted, ...probes] = await Promise.all([
      startupLog({ ...STALE_UPLOADS_ENV }),
      ...names.map((name) => startupLog({ [name]: 'not-a-duration' })),
      // The same probe under a misspelt name must go unnoticed, or the probe proves nothing.
      ...names.map((name) => startupLog({ [`X_${name}`]: 'not-a-duration' })),
    ]);
    expect(accepted).not.toMatch(REJECTED);
    expect(probes.map((log) => REJECTED.test(log))).toEqual([true, true, false, false]);
  });
});
