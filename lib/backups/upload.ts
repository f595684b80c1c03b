import type { Client } from 'minio';
import { APP_ENV, bucketVariable } from '../../common/names';
import { UserFacingError } from '../postgres/connection';
import {
  accessProblem,
  CREDENTIAL_VARIABLES,
  credentialFrom,
  describeStorageError,
  listOneKey,
  parseEndpoint,
  storageClient,
  type Credential,
  type Endpoint,
} from '../storage/object-store';
import { CHECKSUM_EXTENSION, checksumLine } from './files';

/**
 * Copies backups to the `backups` bucket with the backup credential, which may write and list
 * there but neither read nor delete (stacks/inside/storage-policies.ts backupPolicy): a leaked key can
 * neither read every learner's data nor destroy the backups. So the bucket's own lifecycle rule,
 * not this tool, expires old copies, and an upload is verified by listing, not by reading back.
 */

const REQUIRED = {
  endpoint: APP_ENV.s3Endpoint,
  region: APP_ENV.s3Region,
  accessKey: CREDENTIAL_VARIABLES.backup.accessKeyVariable,
  secretKey: CREDENTIAL_VARIABLES.backup.secretKeyVariable,
  bucket: bucketVariable('backups'),
} as const;

export interface UploadTarget {
  endpoint: Endpoint;
  region: string;
  credential: Credential;
  bucket: string;
  /** Safe to print: no key in it. */
  display: string;
}

/**
 * The upload settings from the environment: all of them, or none (local backups only). Some but
 * not all is a mistake worth stopping for: the operator meant to upload.
 */
export function uploadTargetFromEnv(env: NodeJS.ProcessEnv): UploadTarget | undefined {
  const names = Object.values(REQUIRED);
  const missing = names.filter((name) => (env[name]?.trim() ?? '') === '');
  if (missing.length === names.length) return undefined;
  if (missing.length > 0) {
    throw new UserFacingError(
      `to upload backups, set all of ${names.join(', ')}; missing: ${missing.join(', ')}. Unset them all to keep backups in the local folder only.`,
    );
  }
  const endpoint = parseEndpoint((env[REQUIRED.endpoint] as string).trim(), REQUIRED.endpoint);
  const bucket = (env[REQUIRED.bucket] as string).trim();
  return {
    endpoint,
    region: (env[REQUIRED.region] as string).trim(),
    credential: credentialFrom(env, 'backup'),
    bucket,
    display: `s3://${bucket} at ${endpoint.url.origin}`,
  };
}

/** A failed S3 call, said in terms of the settings to fix. The keys are never part of it. */
function describe(error: unknown, t: UploadTarget, doing: string): UserFacingError {
  const code = (error as { code?: string }).code;
  const reason = accessProblem(code, t.credential, { name: t.bucket, variable: REQUIRED.bucket }) ?? describeStorageError(error, t.endpoint, [t.credential.secretKey, t.credential.accessKey]);
  return new UserFacingError(`cannot ${doing} ${t.display}: ${reason}`);
}

/** Checks, before anything is dumped, that the bucket is there and the credential may list it. */
export async function checkUploadTarget(t: UploadTarget): Promise<void> {
  try {
    await listOneKey(t.endpoint, t.region, t.credential, t.bucket);
  } catch (error) {
    throw describe(error, t, 'reach');
  }
}

async function listedSize(client: Client, bucket: string, name: string): Promise<number | undefined> {
  for await (const item of client.listObjectsV2(bucket, name, false)) {
    const o = item as { name?: string; size?: number };
    if (o.name === name) return o.size;
  }
  return undefined;
}

/** Uploads a backup and then its checksum file, and checks by listing that the backup arrived whole. */
export async function uploadBackup(t: UploadTarget, backup: { name: string; path: string; bytes: number; sha256: string }): Promise<void> {
  const client = storageClient(t.endpoint, t.region, t.credential);
  try {
    await client.fPutObject(t.bucket, backup.name, backup.path, { 'Content-Type': 'application/octet-stream', 'X-Amz-Meta-Sha256': backup.sha256 });
    const checksum = `${backup.name}${CHECKSUM_EXTENSION}`;
    await client.putObject(t.bucket, checksum, checksumLine(backup.sha256, backup.name), undefined, { 'Content-Type': 'text/plain' });
    const size = await listedSize(client, t.bucket, backup.name);
    if (size !== backup.bytes) {
      throw new Error(`the bucket lists ${backup.name} with ${size === undefined ? 'no object' : `${size} bytes`}, not the ${backup.bytes} bytes sent`);
    }
  } catch (error) {
    throw describe(error, t, `upload ${backup.name} to`);
  }
}
