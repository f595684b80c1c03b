import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { adminObjectExists, adminRequest, type AdminLogin } from '../lib/storage/minio-admin';
import { parseEndpoint } from '../lib/storage/object-store';
import { UserFacingError } from '../lib/postgres/connection';
import { S3_REGION } from '../stacks/services';
import { startMinio, type MinioServer } from './helpers/minio';
import { createUser } from './helpers/minio-admin';

/**
 * lib/storage/minio-admin.ts's signed admin requests (minio-js's signV4: tests/minio-signing.test.ts)
 * against a real MinIO: accepted with the right secret, refused with a wrong one, and never a
 * secret in a message.
 */

let minio: MinioServer;
let admin: AdminLogin;

beforeAll(async () => {
  minio = await startMinio();
  admin = { endpoint: parseEndpoint(minio.url, 'S3_ENDPOINT'), region: S3_REGION, accessKey: minio.rootUser, secretKey: minio.rootPassword };
});
afterAll(async () => minio?.stop());

test('MinIO accepts the signature: a user and a policy are found once they exist, and not before', async () => {
  const name = `signed-${randomBytes(4).toString('hex')}`;
  expect(await adminObjectExists(admin, 'user-info', name)).toBe(false);
  expect(await adminObjectExists(admin, 'info-canned-policy', name)).toBe(false);
  const policy = { Version: '2012-10-17' as const, Statement: [{ Sid: 'List', Effect: 'Allow' as const, Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::nothing'] }] };
  await createUser(minio, { accessKey: name, secretKey: randomBytes(18).toString('hex'), policyName: name, policy });
  expect(await adminObjectExists(admin, 'user-info', name)).toBe(true);
  expect(await adminObjectExists(admin, 'info-canned-policy', name)).toBe(true);
});

test('a request with a query string and a body is signed as MinIO computes it', async () => {
  // add-canned-policy: PUT with the payload's sha256 signed, the name in the query.
  const name = `signed-body-${randomBytes(4).toString('hex')}`;
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::nothing/*'] }] });
  const response = await adminRequest(admin, 'PUT', 'add-canned-policy', { name }, Buffer.from(policy));
  expect(response.status).toBe(200);
  expect(await adminObjectExists(admin, 'info-canned-policy', name)).toBe(true);
});

test('a wrong secret key is refused by MinIO, named by its code, without the secret in the message', async () => {
  const wrong = `Wrong${randomBytes(12).toString('hex')}`;
  const error = await adminObjectExists({ ...admin, secretKey: wrong }, 'user-info', 'anyone').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserFacingError);
  expect((error as Error).message).toMatch(/answered HTTP 403 SignatureDoesNotMatch to user-info: S3_ADMIN_ACCESS_KEY must be an administrator/);
  expect((error as Error).message).not.toContain(wrong);
  expect((error as Error).message).not.toContain(minio.rootPassword);
});

test('a MinIO that answers "Server not initialized" just after it is ready is asked again (its IAM loads after the health check passes)', async () => {
  // MinIO's own answers, recorded from RELEASE.2024-01-01T16-36-33Z a few ms after /minio/health/ready:
  // it has said it both ways.
  const notInitialized = JSON.stringify({ Code: 'InternalError', Message: 'We encountered an internal error, please try again. (Server not initialized, please try again)' });
  const unavailable = JSON.stringify({ Code: 'XMinioServerNotInitialized', Message: 'Server not initialized, please try again.' });
  let calls = 0;
  const server = http.createServer((_req, res) => {
    calls++;
    if (calls === 1) return res.writeHead(500, { 'content-type': 'application/json' }).end(notInitialized);
    if (calls === 2) return res.writeHead(503, { 'content-type': 'application/json' }).end(unavailable);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ Code: 'XMinioAdminNoSuchUser' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as import('node:net').AddressInfo).port;
    const starting = { ...admin, endpoint: parseEndpoint(`http://127.0.0.1:${port}`, 'S3_ENDPOINT') };
    expect(await adminObjectExists(starting, 'user-info', 'someone')).toBe(false);
    expect(calls).toBe(3);
  } finally {
    server.close();
  }
});
