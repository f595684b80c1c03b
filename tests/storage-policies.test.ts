import { AUDIO_RETENTION_DAYS } from '../schema/seeds/reference';
import {
  anonymousDownloadPolicy,
  appPolicy,
  backupPolicy,
  lifecycleRules,
  NONCURRENT_DOCUMENT_DAYS,
  VERSIONED_BUCKETS,
} from '../stacks/inside/storage-policies';
import { STALE_UPLOADS_ENV } from '../stacks/containers/minio';

const buckets = {
  documents: 'staging-documents',
  recordings: 'staging-recordings',
  temp: 'staging-temp',
  backups: 'staging-backups',
};

describe('anonymousDownloadPolicy', () => {
  test('lets anyone get objects in the one bucket, and nothing else', () => {
    expect(anonymousDownloadPolicy(buckets.temp)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AnonymousDownload',
          Effect: 'Allow',
          Principal: { AWS: ['*'] },
          Action: ['s3:GetObject'],
          Resource: ['arn:aws:s3:::staging-temp/*'],
        },
      ],
    });
  });
});

describe('appPolicy', () => {
  const doc = appPolicy(buckets);

  test('object read/write in documents, recordings and temp', () => {
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement).toHaveLength(2);
    expect(doc.Statement[0]).toEqual({
      Sid: 'AppObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: ['arn:aws:s3:::staging-documents/*', 'arn:aws:s3:::staging-recordings/*', 'arn:aws:s3:::staging-temp/*'],
    });
  });

  test('listing those three buckets, no bucket administration', () => {
    expect(doc.Statement[1]).toEqual({
      Sid: 'AppBuckets',
      Effect: 'Allow',
      Action: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
      Resource: ['arn:aws:s3:::staging-documents', 'arn:aws:s3:::staging-recordings', 'arn:aws:s3:::staging-temp'],
    });
  });

  test('names neither the backups bucket nor a wildcard bucket, and has no principal', () => {
    const resources = doc.Statement.flatMap((s) => s.Resource);
    expect(resources.filter((r) => r.includes('backups'))).toEqual([]);
    expect(resources.filter((r) => /^arn:aws:s3:::\*/.test(r))).toEqual([]);
    expect(doc.Statement.filter((s) => s.Principal !== undefined)).toEqual([]);
  });
});

describe('backupPolicy', () => {
  const doc = backupPolicy(buckets.backups);

  test('writes objects but never into a named version, lists the bucket; no read, no delete, nothing that removes or stops versions', () => {
    expect(doc).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'BackupWrite',
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          Resource: ['arn:aws:s3:::staging-backups/*'],
        },
        {
          Sid: 'BackupBucket',
          Effect: 'Allow',
          Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
          Resource: ['arn:aws:s3:::staging-backups'],
        },
        {
          Sid: 'BackupNoVersionWrites',
          Effect: 'Deny',
          Action: ['s3:PutObject'],
          Resource: ['arn:aws:s3:::staging-backups/*'],
          Condition: { StringNotEquals: { 's3:versionid': [''] } },
        },
      ],
    });
    const allowed = doc.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action);
    expect(allowed).not.toContain('s3:GetObject');
    expect(allowed).not.toContain('s3:DeleteObject');
    // An overwrite leaves the original as a noncurrent version; these would reach it, or stop keeping it.
    for (const action of ['s3:DeleteObjectVersion', 's3:PutBucketVersioning', 's3:PutLifecycleConfiguration', 's3:PutObjectVersionTagging']) {
      expect(allowed).not.toContain(action);
    }
    expect(allowed.filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('VERSIONED_BUCKETS', () => {
  test('documents, to undo an edit; backups, so that an overwrite keeps the original', () => {
    expect(VERSIONED_BUCKETS).toEqual(['documents', 'backups']);
  });
});

describe('lifecycleRules', () => {
  test('temp after a day, recordings after the seeded audio retention, old document versions after 30 days, backups and their old versions after theirs', () => {
    expect(lifecycleRules(buckets, AUDIO_RETENTION_DAYS, 30)).toEqual({
      'staging-temp': [{ id: 'expire-temp', expiration: '1d' }],
      'staging-recordings': [{ id: 'expire-recordings', expiration: `${AUDIO_RETENTION_DAYS}d` }],
      'staging-documents': [{ id: 'expire-old-document-versions', noncurrentVersionExpirationDays: 30 }],
      'staging-backups': [{ id: 'expire-backups', expiration: '30d', noncurrentVersionExpirationDays: 30 }],
    });
    expect(NONCURRENT_DOCUMENT_DAYS).toBe(30);
  });

  test('recordings and backups follow the retentions passed in, in the provider\'s "<n>d" syntax; overwritten backups as long', () => {
    const rules = lifecycleRules(buckets, 7, 90);
    expect(rules['staging-recordings']).toEqual([{ id: 'expire-recordings', expiration: '7d' }]);
    expect(rules['staging-backups']).toEqual([{ id: 'expire-backups', expiration: '90d', noncurrentVersionExpirationDays: 90 }]);
  });

  test.each([0, -1, 1.5, Number.NaN])('refuses a retention of %p days, for audio or for backups', (days) => {
    expect(() => lifecycleRules(buckets, days, 30)).toThrow(/^audio retention must be a whole number of days/);
    expect(() => lifecycleRules(buckets, AUDIO_RETENTION_DAYS, days)).toThrow(/^backup retention must be a whole number of days/);
  });
});

describe('STALE_UPLOADS_ENV', () => {
  test('exactly the two MinIO variables, at MinIO\'s documented defaults', () => {
    expect(STALE_UPLOADS_ENV).toEqual({
      MINIO_API_STALE_UPLOADS_EXPIRY: '24h',
      MINIO_API_STALE_UPLOADS_CLEANUP_INTERVAL: '6h',
    });
  });
});
