/**
 * The object store's access policies and lifecycle rules, as plain data. Pure functions, so that
 * tests can prove on a real MinIO exactly the documents the program hands to the provider.
 */

import type { BucketKey } from '../../common/names';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Principal?: { AWS: string[] };
  Action: string[];
  Resource: string[];
  /** operator -> condition key -> values, e.g. { StringNotEquals: { 's3:versionid': [''] } } */
  Condition?: Record<string, Record<string, string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** A rule in the shape of @pulumi/minio's IlmPolicy `rules`. */
export interface IlmRule {
  id: string;
  /** "<n>d": the provider reads it with Sscanf("%dd"); a bare number or "24h" is not a duration to it. */
  expiration?: string;
  noncurrentVersionExpirationDays?: number;
}

const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;
const objectsArn = (bucket: string) => `arn:aws:s3:::${bucket}/*`;

const policy = (...statements: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement: statements });

/**
 * Links to temp files are handed out without credentials. GetObject only: with ListBucket anyone
 * could enumerate other users' files, with PutObject the bucket would be a free file host.
 */
export function anonymousDownloadPolicy(bucket: string): PolicyDocument {
  return policy({
    Sid: 'AnonymousDownload',
    Effect: 'Allow',
    Principal: { AWS: ['*'] },
    Action: ['s3:GetObject'],
    Resource: [objectsArn(bucket)],
  });
}

/**
 * The application's credential works inside its buckets, never on them: it cannot create or
 * delete buckets or change their policies, and it cannot reach backups.
 */
export function appPolicy(buckets: { documents: string; recordings: string; temp: string }): PolicyDocument {
  const names = [buckets.documents, buckets.recordings, buckets.temp];
  return policy(
    {
      Sid: 'AppObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: names.map(objectsArn),
    },
    {
      Sid: 'AppBuckets',
      Effect: 'Allow',
      Action: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
      Resource: names.map(bucketArn),
    },
  );
}

/**
 * Write-only: a leaked backup key can add backups but can neither read them (they hold every
 * learner's data) nor delete them (the point of a backup). It can overwrite one, which is why the
 * bucket is versioned (VERSIONED_BUCKETS): the original stays as a noncurrent version, and this
 * policy has no s3:DeleteObjectVersion or s3:PutBucketVersioning to remove it or turn versioning
 * off. Listing stays, so that a backup tool can check the bucket exists and what is already there,
 * and resume or clean up its own multipart uploads (minio-js lists them before every large upload).
 */
export function backupPolicy(bucket: string): PolicyDocument {
  return policy(
    {
      Sid: 'BackupWrite',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: [objectsArn(bucket)],
    },
    {
      Sid: 'BackupBucket',
      Effect: 'Allow',
      Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
      Resource: [bucketArn(bucket)],
    },
    {
      // MinIO lets a PUT (or a multipart upload) name an existing version (?versionId=, "null"
      // included) and replaces that version in place (minio/minio#9854): with s3:PutObject alone, a
      // leaked key could still destroy the original an overwrite keeps. A backup never names one.
      Sid: 'BackupNoVersionWrites',
      Effect: 'Deny',
      Action: ['s3:PutObject'],
      Resource: [objectsArn(bucket)],
      Condition: { StringNotEquals: { 's3:versionid': [''] } },
    },
  );
}

/**
 * Buckets that keep what an overwrite replaces as a noncurrent version: documents, to undo an edit;
 * backups, so that a leaked backup key overwriting a backup cannot destroy it. Their lifecycle
 * rules expire noncurrent versions, so old versions do not pile up.
 */
export const VERSIONED_BUCKETS: readonly BucketKey[] = ['documents', 'backups'];

/** Old document versions are kept this long: time to undo a mistake, without keeping every edit forever. */
export const NONCURRENT_DOCUMENT_DAYS = 30;

/**
 * Lifecycle rules per bucket name. Temp links are meant to live a day; recordings as long as the
 * seeded audio_retention_days setting promises (pass AUDIO_RETENTION_DAYS, so the two cannot drift).
 * Backups expire after the stack's backupRetentionDays: the backup credential cannot delete (a
 * leaked key must not destroy backups), so this rule is what prunes the bucket. A backup overwritten
 * in the versioned bucket is kept as a noncurrent version for as long again, counted from the
 * overwrite, so there is time to notice and restore it.
 */
export function lifecycleRules(
  buckets: { recordings: string; temp: string; documents: string; backups: string },
  audioRetentionDays: number,
  backupRetentionDays: number,
): Record<string, IlmRule[]> {
  for (const [what, days] of [['audio', audioRetentionDays], ['backup', backupRetentionDays]] as const) {
    if (!Number.isInteger(days) || days < 1) throw new RangeError(`${what} retention must be a whole number of days, at least 1; got ${days}`);
  }
  return {
    [buckets.temp]: [{ id: 'expire-temp', expiration: '1d' }],
    [buckets.recordings]: [{ id: 'expire-recordings', expiration: `${audioRetentionDays}d` }],
    [buckets.documents]: [{ id: 'expire-old-document-versions', noncurrentVersionExpirationDays: NONCURRENT_DOCUMENT_DAYS }],
    [buckets.backups]: [{ id: 'expire-backups', expiration: `${backupRetentionDays}d`, noncurrentVersionExpirationDays: backupRetentionDays }],
  };
}
