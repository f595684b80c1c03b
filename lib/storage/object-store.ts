import * as http from 'node:http';
import * as https from 'node:https';
import { Client } from 'minio';
import { APP_ENV } from '../../common/names';
import { redact, UserFacingError } from '../postgres/connection';
import { CHECK_TIMEOUT_MS, CheckTimeout, networkProblem, withTimeout } from '../health/check';

/**
 * The object store as the commands reach it (health checks, backup uploads): the endpoint from
 * S3_ENDPOINT, a client for one credential, and what its errors mean in terms of the variables
 * to fix. Nothing here puts a secret key into a message.
 */

export interface Endpoint {
  url: URL;
  host: string;
  port: number;
  /** The variable it came from, for messages. */
  source: string;
}

/** A credential and the variables it was read from, which messages name. */
export interface Credential {
  accessKey: string;
  secretKey: string;
  accessKeyVariable: string;
  secretKeyVariable: string;
}

/** The object-store credentials the stack hands out (stacks/inside/storage.ts) and the variables holding them. */
export const CREDENTIAL_VARIABLES = {
  app: { accessKeyVariable: APP_ENV.s3AccessKey, secretKeyVariable: APP_ENV.s3SecretKey },
  backup: { accessKeyVariable: APP_ENV.s3BackupAccessKey, secretKeyVariable: APP_ENV.s3BackupSecretKey },
} as const;

export type CredentialName = keyof typeof CREDENTIAL_VARIABLES;

/** A credential from variables (unset ones read as ''). */
export function credentialFrom(vars: Readonly<Record<string, string | undefined>>, name: CredentialName): Credential {
  const v = CREDENTIAL_VARIABLES[name];
  return { ...v, accessKey: vars[v.accessKeyVariable] ?? '', secretKey: vars[v.secretKeyVariable] ?? '' };
}

export function parseEndpoint(value: string, source: string): Endpoint {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UserFacingError(`${source} is not a URL: set it to the S3 API, e.g. http://127.0.0.1:9000`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.pathname !== '/' || url.search) {
    throw new UserFacingError(`${source} must be http://HOST:PORT or https://HOST:PORT, with no credentials, path or query`);
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { url, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, source };
}

export function storageClient(endpoint: Endpoint, region: string, credential: Pick<Credential, 'accessKey' | 'secretKey'>, agent?: http.Agent): Client {
  return new Client({
    endPoint: endpoint.host,
    port: endpoint.port,
    useSSL: endpoint.url.protocol === 'https:',
    accessKey: credential.accessKey,
    secretKey: credential.secretKey,
    // A fixed region: otherwise minio-js first asks for the bucket's location, a request of its own to fail.
    region,
    pathStyle: true,
    ...(agent ? { transportAgent: agent, retryOptions: { disableRetry: true } } : {}),
  });
}

/**
 * Lists at most one key, signed with the credential: proves the bucket exists and that the key may
 * list it. A listing rather than HEAD: an error to HEAD has no body, so a wrong secret key and a
 * denial would look alike.
 */
export async function listOneKey(endpoint: Endpoint, region: string, credential: Pick<Credential, 'accessKey' | 'secretKey'>, bucket: string): Promise<void> {
  // An agent of its own, so that a timeout can close this request's socket and no other.
  const agent = endpoint.url.protocol === 'https:' ? new https.Agent() : new http.Agent();
  try {
    await withTimeout(storageClient(endpoint, region, credential, agent).listObjectsV2Query(bucket, '', '', '', 1, ''), CHECK_TIMEOUT_MS, () =>
      agent.destroy(),
    );
  } finally {
    agent.destroy();
  }
}

/** What an S3 error code says about the credential or the bucket, in terms of the variables to fix. */
export function accessProblem(code: string | undefined, credential: Credential, bucket: { name: string; variable: string }): string | undefined {
  const reasons: Record<string, string> = {
    NoSuchBucket: `"${bucket.name}" does not exist: create it (pulumi up) or correct ${bucket.variable}`,
    InvalidAccessKeyId: `the server knows no access key ${credential.accessKeyVariable}: check it`,
    SignatureDoesNotMatch: `${credential.secretKeyVariable} is not the secret key of ${credential.accessKeyVariable}: check it`,
    AccessDenied: `${credential.accessKeyVariable} may not do this in "${bucket.name}": check its policy, and ${bucket.variable}`,
  };
  return reasons[code ?? ''];
}

/** Text from the store or the network with every one of `secrets` (keys) taken out. */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => redact(out, { password: secret }), text);
}

/** Any other failure to reach the store: network, timeout, TLS; text from elsewhere is scrubbed of `secrets`. */
export function describeStorageError(error: unknown, endpoint: Endpoint, secrets: readonly string[]): string {
  const redact = (text: string) => scrub(text, secrets);
  const e = (error ?? {}) as { code?: string; message?: string; name?: string };
  if (error instanceof CheckTimeout) return `${error.message}: check the host and port, firewalls, and that the server is up`;
  if (error instanceof UserFacingError) return error.message;
  if (e.name === 'InvalidBucketNameError') return redact(e.message ?? 'invalid bucket name');
  const problem = networkProblem(e.code, endpoint);
  if (problem) return problem;
  if (/SSL|TLS|certificate|CERT_/i.test(`${e.code ?? ''} ${e.message ?? ''}`)) {
    return `TLS failed (${redact(e.message ?? '')}): check the scheme in ${endpoint.source} and that the certificate is trusted (NODE_EXTRA_CA_CERTS)`;
  }
  return redact(e.code ? `${e.code}: ${e.message ?? ''}` : (e.message ?? String(error)));
}
