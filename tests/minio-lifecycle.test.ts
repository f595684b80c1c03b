import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'minio';
import { loadConfig } from '../stacks/config';
import { startMinio, type MinioServer } from './helpers/minio';
import {
  applyDeclaredStorage,
  bucketPolicyDelete,
  ilmDelete,
  ilmRead,
  policyRead,
  replayStorageDestroy,
  userCreate,
  userPolicies,
  versioningDelete,
} from './helpers/minio-provider';
import { policiesAreEquivalent } from './helpers/policy-equivalence';
import { byType, runProgram, type ProgramRun } from './helpers/program';
import { plain } from './helpers/pulumi-mocks';

/**
 * What @pulumi/minio does beyond create (aminueza/terraform-provider-minio v1.20.1, helpers/
 * minio-provider.ts names each call's source), replayed on a real MinIO (the release the stack
 * runs) against what the staging stack declares: what it reads back on the next `up`, what
 * `pulumi destroy` does, `pulumi up` after it on the kept volume (a new container, so a new root
 * password), and why a shared store needs names of the stack's own.
 */

jest.setTimeout(180_000);
const STACK = 'staging';
let dataDir: string;
let minio: MinioServer;
let staging: ProgramRun;

const rootClient = (server = minio) =>
  new Client({ endPoint: server.endPoint, port: server.port, useSSL: false, region: 'us-east-1', accessKey: server.rootUser, secretKey: server.rootPassword });
const userClient = (run: ProgramRun, key: 'app' | 'backup') => {
  const user = plain(byType(run, 'minio:index/iamUser:IamUser').find((d) => d.name === `${key}-user`)!.raw);
  return new Client({ endPoint: minio.endPoint, port: minio.port, useSSL: false, region: 'us-east-1', accessKey: user.name, secretKey: user.secret });
};
const inputs = (run: ProgramRun, type: string) => byType(run, `minio:index/${type}`).map((d) => plain(d.raw));
const bucket = (key: string) => `staging-${key}`;
/** An unsigned GET, as a browser following a link. */
const anonymous = async (name: string, key: string) => (await fetch(`${minio.url}/${name}/${key}`)).status;
async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-minio-volume-'));
  [minio, staging] = await Promise.all([startMinio({ dataDir }), runProgram(STACK)]);
  await applyDeclaredStorage(staging, minio, rootClient());
});
afterAll(async () => {
  await minio?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the next `up` reads back what was declared: the bucket policy and user policies equivalent (no diff), the lifecycle rules and versioning as they are', async () => {
  const root = rootClient();
  for (const p of inputs(staging, 's3BucketPolicy:S3BucketPolicy')) {
    // resource_minio_s3_bucket_policy.go, minioReadBucketPolicy: GetBucketPolicy, kept as declared when equivalent.
    expect(policiesAreEquivalent(await root.getBucketPolicy(p.bucket), p.policy)).toBe(true);
  }
  for (const p of inputs(staging, 'iamPolicy:IamPolicy')) {
    // resource_minio_iam_policy.go: InfoCannedPolicy; the plan suppresses an equivalent text.
    expect([p.name, policiesAreEquivalent(await policyRead(minio, p.name), p.policy)]).toEqual([p.name, true]);
  }
  for (const p of inputs(staging, 'ilmPolicy:IlmPolicy')) expect(await ilmRead(root, p.bucket)).toEqual(p.rules);
  for (const v of inputs(staging, 's3BucketVersioning:S3BucketVersioning')) expect((await root.getBucketVersioning(v.bucket)).Status).toBe(v.versioningConfiguration.status);
  // The check can fail: another principal, or a missing action, is a diff.
  const declared = JSON.parse(inputs(staging, 's3BucketPolicy:S3BucketPolicy')[0].policy);
  expect(policiesAreEquivalent(JSON.stringify({ ...declared, Statement: [{ ...declared.Statement[0], Principal: '*' }] }), JSON.stringify(declared))).toBe(false);
  expect(policiesAreEquivalent(JSON.stringify({ ...declared, Statement: [{ ...declared.Statement[0], Action: [] }] }), JSON.stringify(declared))).toBe(false);
});

test('`pulumi destroy`: the users and their policies go; the buckets stay with their objects, versions, lifecycle and policy', async () => {
  const root = rootClient();
  await root.putObject(bucket('documents'), 'doc.txt', 'first version');
  await root.putObject(bucket('documents'), 'doc.txt', 'second version');
  await root.putObject(bucket('temp'), 'shared.txt', 'shared by link');
  expect(await text(await userClient(staging, 'app').getObject(bucket('documents'), 'doc.txt'))).toBe('second version');

  const released = await replayStorageDestroy(staging, minio);
  expect(released.stdout).toMatch(/^kept: buckets staging-documents, staging-recordings, staging-temp, staging-backups, with their objects.*docker volume rm pronunciation-assistant-staging-minio-data/);

  for (const u of inputs(staging, 'iamUser:IamUser')) await expect(userPolicies(minio, u.name)).rejects.toThrow(/XMinioAdminNoSuchUser|404/);
  await expect(userClient(staging, 'app').getObject(bucket('documents'), 'doc.txt')).rejects.toMatchObject({ code: 'InvalidAccessKeyId' });
  const versions: string[] = [];
  for await (const v of root.listObjects(bucket('documents'), '', true, { IncludeVersion: true })) versions.push((v as { versionId: string }).versionId);
  expect(versions).toHaveLength(2);
  expect((await root.getBucketVersioning(bucket('backups'))).Status).toBe('Enabled');
  for (const p of inputs(staging, 'ilmPolicy:IlmPolicy')) expect(await ilmRead(root, p.bucket)).toEqual(p.rules);
  expect(await anonymous(bucket('temp'), 'shared.txt')).toBe(200);
});

test("what the provider's delete does to a bucket's policy, versioning and lifecycle, which is why the program keeps them with the buckets", async () => {
  const root = rootClient();
  const scratch = 'scratch-weakened';
  await root.makeBucket(scratch, 'us-east-1');
  const [policy] = inputs(staging, 's3BucketPolicy:S3BucketPolicy');
  await root.setBucketPolicy(scratch, policy.policy.split(policy.bucket).join(scratch));
  await root.setBucketVersioning(scratch, { Status: 'Enabled' });
  await root.setBucketLifecycle(scratch, { Rule: [{ ID: 'expire-backups', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 30 } }] });
  await root.putObject(scratch, 'linked.txt', 'linked');
  expect(await anonymous(scratch, 'linked.txt')).toBe(200);

  await bucketPolicyDelete(root, scratch);
  await versioningDelete(root, scratch);
  await ilmDelete(root, scratch);

  expect(await anonymous(scratch, 'linked.txt')).toBe(403);
  expect((await root.getBucketVersioning(scratch)).Status).toBe('Suspended');
  await expect(root.getBucketLifecycle(scratch)).rejects.toMatchObject({ code: 'NoSuchLifecycleConfiguration' });
  for (const type of ['s3BucketPolicy:S3BucketPolicy', 's3BucketVersioning:S3BucketVersioning', 'ilmPolicy:IlmPolicy']) {
    for (const d of byType(staging, `minio:index/${type}`)) expect([d.name, d.retainOnDelete]).toEqual([d.name, true]);
  }
});

test('`pulumi up` after destroy, on the kept volume under a new root password: the buckets are taken back and the new app credential reads what was kept', async () => {
  await minio.stop();
  minio = await startMinio({ dataDir }); // the next container: same volume, the deployment's new root password
  const next = await runProgram(STACK);
  const prepared = await applyDeclaredStorage(next, minio, rootClient());
  expect(prepared.stdout).toContain('kept from an earlier deployment of this stack, with their objects: staging-documents, staging-recordings, staging-temp, staging-backups.');
  expect(await text(await userClient(next, 'app').getObject(bucket('documents'), 'doc.txt'))).toBe('second version');
  expect((await rootClient().getBucketVersioning(bucket('documents'))).Status).toBe('Enabled');
});

test('a user created under a name that exists takes it over: the earlier secret stops working, so stacks sharing a store need names of their own', async () => {
  await userCreate(minio, 'shared-name', 'the-first-stacks-secret');
  const first = new Client({ endPoint: minio.endPoint, port: minio.port, useSSL: false, region: 'us-east-1', accessKey: 'shared-name', secretKey: 'the-first-stacks-secret' });
  // Its secret is accepted (a user with no policy may do nothing: AccessDenied, not a bad signature).
  await expect(first.listBuckets()).rejects.toMatchObject({ code: 'AccessDenied' });
  await userCreate(minio, 'shared-name', 'the-second-stacks-secret');
  await expect(first.listBuckets()).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });

  const external = { externalS3Endpoint: 'minio.example.com:9000', externalS3AccessKey: 'a', externalS3SecretKey: 'b', allowDevState: 'true' };
  const names = (stack: string, bucketPrefix: string) => {
    const n = loadConfig(stack, { ...external, bucketPrefix }, {}, ['externalS3AccessKey', 'externalS3SecretKey']).names.storage;
    return [...Object.values(n.users), ...Object.values(n.policies), ...Object.values(n.buckets)];
  };
  const [a, b] = [names('staging', 'staging-'), names('qa', 'qa-')];
  expect(a.filter((n) => b.includes(n))).toEqual([]);
});
