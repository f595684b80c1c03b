import { randomBytes } from 'node:crypto';
import { APP_ENV, BUCKETS, bucketVariable, type BucketKey } from '../../common/names';
import { CHECK_TIMEOUT_MS, CheckTimeout, configurationRow, fail, pass, type HealthRow, type HealthVars } from './check';
import {
  accessProblem,
  CREDENTIAL_VARIABLES,
  credentialFrom,
  describeStorageError as describe,
  listOneKey,
  parseEndpoint,
  scrub,
  type CredentialName,
  type Endpoint,
} from '../storage/object-store';

/**
 * Who may reach each bucket, as stacks/inside/storage.ts declares it: appPolicy for the app's buckets,
 * backupPolicy for backups, and anonymousDownloadPolicy on temp only. tests/health.test.ts applies
 * those policies to a real MinIO and expects every row to pass, so the two cannot drift apart.
 */
export const BUCKET_ACCESS: Record<BucketKey, { credential: CredentialName; anonymousRead: boolean }> = {
  documents: { credential: 'app', anonymousRead: false },
  recordings: { credential: 'app', anonymousRead: false },
  temp: { credential: 'app', anonymousRead: true },
  backups: { credential: 'backup', anonymousRead: false },
};

/** Every variable the object store's checks read. */
export const STORAGE_VARIABLES: readonly string[] = [
  APP_ENV.s3Endpoint,
  APP_ENV.s3Region,
  ...Object.values(CREDENTIAL_VARIABLES).flatMap((c) => [c.accessKeyVariable, c.secretKeyVariable]),
  ...BUCKETS.map(bucketVariable),
];

/**
 * The S3 API answers; each bucket exists and its credential may list it (the app's key for the
 * app's buckets, the backups' key for backups); and anonymous reads are allowed exactly where the
 * stack allows them. The checks of the buckets run concurrently, each bounded by CHECK_TIMEOUT_MS.
 */
export async function checkStorage(vars: HealthVars): Promise<HealthRow[]> {
  const unset = configurationRow('storage', vars, STORAGE_VARIABLES);
  if (unset) return [unset];
  const value = (name: string) => vars[name] as string;
  let endpoint: Endpoint;
  try {
    endpoint = parseEndpoint(value(APP_ENV.s3Endpoint), APP_ENV.s3Endpoint);
  } catch (error) {
    return [fail('storage', 'endpoint', (error as Error).message)];
  }
  const secrets = Object.values(CREDENTIAL_VARIABLES).map((c) => value(c.secretKeyVariable));
  try {
    await unsignedGet(endpoint, '/');
  } catch (error) {
    return [fail('storage', 'endpoint', `cannot reach the S3 API at ${endpoint.url.origin} (from ${endpoint.source}): ${describe(error, endpoint, secrets)}`)];
  }
  const rows = [pass('storage', 'endpoint', `${endpoint.url.origin} answers (from ${endpoint.source})`)];
  const region = value(APP_ENV.s3Region);
  const listed = BUCKETS.map(async (key): Promise<HealthRow> => {
    const check = `bucket ${key}`;
    const bucket = value(bucketVariable(key));
    const credential = credentialFrom(vars, BUCKET_ACCESS[key].credential);
    try {
      await listOneKey(endpoint, region, credential, bucket);
      return pass('storage', check, `"${bucket}" exists; ${credential.accessKeyVariable} may list it`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      return fail('storage', check, accessProblem(code, credential, { name: bucket, variable: bucketVariable(key) }) ?? describe(error, endpoint, secrets));
    }
  });
  const anonymous = BUCKETS.map(async (key): Promise<HealthRow> => {
    const check = `anonymous ${key}`;
    const bucket = value(bucketVariable(key));
    const expected = BUCKET_ACCESS[key].anonymousRead;
    try {
      // An object that cannot exist: NoSuchKey means the read was allowed and found nothing, AccessDenied that it was refused.
      const code = await unsignedGet(endpoint, `/${encodeURIComponent(bucket)}/health-check/${randomBytes(8).toString('hex')}`);
      if (code === 'NoSuchBucket') return fail('storage', check, `"${bucket}" does not exist: create it (pulumi up) or correct ${bucketVariable(key)}`);
      if (code !== 'NoSuchKey' && code !== 'AccessDenied') return fail('storage', check, `unexpected answer to an anonymous read: ${scrub(code, secrets)}`);
      const readable = code === 'NoSuchKey';
      if (readable === expected) {
        return pass('storage', check, readable ? 'anyone may download an object by its name, as intended' : 'anonymous reads refused');
      }
      return fail(
        'storage',
        check,
        readable
          ? `ANYONE may download objects of "${bucket}" by name: remove the bucket's anonymous policy`
          : `anonymous downloads from "${bucket}" are refused, so its links will not work: restore its anonymous GetObject policy (pulumi up)`,
      );
    } catch (error) {
      return fail('storage', check, describe(error, endpoint, secrets));
    }
  });
  return [...rows, ...(await Promise.all(listed)), ...(await Promise.all(anonymous))];
}

/** An unsigned GET, as a browser following a link sends it; resolves with the S3 error code of the answer, '' for none. */
async function unsignedGet(endpoint: Endpoint, path: string): Promise<string> {
  try {
    const response = await fetch(new URL(path, endpoint.url), { redirect: 'manual', signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    return /<Code>([^<]*)<\/Code>/.exec(await response.text())?.[1] ?? '';
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') throw new CheckTimeout(CHECK_TIMEOUT_MS);
    throw (error as { cause?: unknown }).cause ?? error;
  }
}
