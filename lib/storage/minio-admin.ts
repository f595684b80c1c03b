import { createHash } from 'node:crypto';
// minio-js's own SigV4, through a subpath its package.json "exports" lets require() reach
// ("./dist/main/*"; "./dist/main/internal/*" is closed), though its README documents no signer. Its
// public API signs only presigned object URLs (presignedUrl needs a bucket), and MinIO's admin API
// takes header-signed V4 only (cmd/auth-handler.go, validateAdminSignature: "no presign").
// tests/minio-signing.test.ts pins the subpath, the arity and AWS's own signature example, and
// tests/minio-admin.test.ts that MinIO accepts it, so an upgrade that moves it fails there.
import { signV4 } from 'minio/dist/main/signing.js';
import { UserFacingError } from '../postgres/connection';
import { CHECK_TIMEOUT_MS, networkProblem } from '../health/check';
import type { Endpoint } from './object-store';

/**
 * MinIO's admin API (v3), for the one thing the commands need of it that minio-js does not offer:
 * whether a user or a canned policy of a name exists (the tests make users and policies through the
 * same request). Hand-written because MinIO's own client of that API (madmin-go) is Go only; signed
 * with minio-js's own SigV4, as mc signs it (madmin-go v1.7.5: GetUserInfo is GET
 * /minio/admin/v3/user-info?accessKey=, InfoCannedPolicy GET /minio/admin/v3/info-canned-policy?name=).
 */

export interface AdminLogin {
  endpoint: Endpoint;
  region: string;
  accessKey: string;
  secretKey: string;
}

const NOT_FOUND = { 'user-info': 'XMinioAdminNoSuchUser', 'info-canned-policy': 'XMinioAdminNoSuchPolicy' } as const;

/**
 * How long a just-started MinIO may answer "Server not initialized" (HTTP 500 or 503) to the
 * admin API: its health check (`mc ready local`, /minio/health/ready) passes before its IAM has
 * loaded, so the prepare step that runs right after the container is healthy can meet it (seen with
 * RELEASE.2024-01-01T16-36-33Z a few ms after ready, under load).
 */
export const NOT_INITIALIZED_WAIT_MS = 30_000;
const NOT_INITIALIZED = 'Server not initialized';
/**
 * MinIO says it both ways: HTTP 500 InternalError "(Server not initialized, please try again)", and
 * HTTP 503 XMinioServerNotInitialized "Server not initialized, please try again." (both seen from
 * RELEASE.2024-01-01T16-36-33Z just after /minio/health/ready passed, in tests/minio-admin.test.ts).
 */
const NOT_INITIALIZED_STATUSES = [500, 503];

/**
 * One admin API call, signed as the admin (madmin-go v1.7.5, executeMethod: /minio/admin/v3/<api>),
 * bounded in time; the answer's status and body. A server still initializing is asked again, for
 * NOT_INITIALIZED_WAIT_MS at most. A network failure is a UserFacingError naming the endpoint.
 */
export async function adminRequest(...request: Parameters<typeof adminRequestOnce>): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + NOT_INITIALIZED_WAIT_MS;
  for (;;) {
    const response = await adminRequestOnce(...request);
    if (!NOT_INITIALIZED_STATUSES.includes(response.status) || !response.body.includes(NOT_INITIALIZED) || Date.now() > deadline) return response;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function adminRequestOnce(
  admin: AdminLogin,
  method: 'GET' | 'PUT' | 'DELETE',
  api: string,
  query: Record<string, string>,
  body: Buffer = Buffer.alloc(0),
): Promise<{ status: number; body: string }> {
  const path = `/minio/admin/v3/${api}?${new URLSearchParams(query).toString()}`;
  const date = new Date();
  const sha256 = createHash('sha256').update(body).digest('hex');
  const headers: Record<string, string> = { host: admin.endpoint.url.host, 'x-amz-date': date.toISOString().replace(/[-:]|\.\d{3}/g, ''), 'x-amz-content-sha256': sha256 };
  headers.authorization = signV4({ protocol: admin.endpoint.url.protocol, method, path, headers }, admin.accessKey, admin.secretKey, admin.region, date, sha256);
  try {
    const response = await fetch(new URL(path, admin.endpoint.url), {
      method,
      headers,
      body: method === 'PUT' ? body : undefined,
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    const e = error as { name?: string; cause?: { code?: string; message?: string } };
    const where = `the object store's admin API at ${admin.endpoint.url.origin} (from ${admin.endpoint.source})`;
    if (e.name === 'TimeoutError') throw new UserFacingError(`${where}: no answer within ${CHECK_TIMEOUT_MS / 1000} s: check the host and port, firewalls, and that the server is up`);
    throw new UserFacingError(`${where}: ${networkProblem(e.cause?.code, admin.endpoint) ?? e.cause?.message ?? String(error)}`);
  }
}

/** Whether the user (api user-info) or canned policy (info-canned-policy) `name` exists. */
export async function adminObjectExists(admin: AdminLogin, api: keyof typeof NOT_FOUND, name: string): Promise<boolean> {
  const response = await adminRequest(admin, 'GET', api, api === 'user-info' ? { accessKey: name } : { name });
  if (response.status >= 200 && response.status < 300) return true;
  if (response.body.includes(NOT_FOUND[api])) return false;
  const code = /<Code>([^<]+)<\/Code>|"Code":"([^"]+)"/.exec(response.body);
  const message = /<Message>([^<]+)<\/Message>|"Message":"([^"]+)"/.exec(response.body);
  const why =
    response.status === 401 || response.status === 403
      ? 'S3_ADMIN_ACCESS_KEY must be an administrator of it (the stack creates users and policies there)'
      : `the server says: ${message ? (message[1] ?? message[2]) : 'nothing more'}`;
  throw new UserFacingError(
    `the object store's admin API at ${admin.endpoint.url.origin} (from ${admin.endpoint.source}) answered HTTP ${response.status}` +
      `${code ? ` ${code[1] ?? code[2]}` : ''} to ${api}: ${why}`,
  );
}
