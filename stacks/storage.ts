import * as minio from '@pulumi/minio';
import * as pulumi from '@pulumi/pulumi';
import { AUDIO_RETENTION_DAYS } from '../schema/seeds/reference';
import type { StackConfig } from './config';
import { generatedPassword } from './secrets';
import { BUCKETS, type BucketKey, STORAGE_USERS } from './services';
import { anonymousDownloadPolicy, appPolicy, backupPolicy, lifecycleRules, type PolicyDocument, VERSIONED_BUCKETS } from './storage-policies';

/** How the program reaches the object store as its administrator: MinIO's root user, or an existing store's admin. */
export interface StorageAdmin {
  /** host:port of the S3 API, without a scheme. */
  server: pulumi.Input<string>;
  user: pulumi.Input<string>;
  password: pulumi.Input<string>;
  ssl: boolean;
  /** CA certificate file for HTTPS; undefined: the system's CAs. */
  caCertFile?: string;
  region: string;
  /** Resources the provider must wait for (the container, until it is healthy). */
  dependsOn: pulumi.Resource[];
}

/** An existing MinIO's admin, from the stack's config. */
export function externalStorageAdmin(config: StackConfig): StorageAdmin {
  return {
    server: config.externalS3Endpoint,
    user: config.externalS3AccessKey,
    password: config.externalS3SecretKey,
    ssl: config.externalS3Ssl,
    caCertFile: config.externalS3CaCert || undefined,
    region: config.externalS3Region,
    dependsOn: [],
  };
}

export interface StorageArgs {
  admin: StorageAdmin;
  buckets: StackConfig['buckets'];
  /** Protect the buckets, so that `pulumi destroy` refuses to run; they are never deleted either way. */
  protect: boolean;
  /** Days the backups bucket keeps an object (config backupRetentionDays). */
  backupRetentionDays: number;
}

export interface StorageCredential {
  accessKey: string;
  secretKey: pulumi.Output<string>;
}

const json = (doc: PolicyDocument) => JSON.stringify(doc);

/**
 * Inside the object store: the buckets, the anonymous-download policy of `temp`, lifecycle rules,
 * versioning of `documents` and `backups`, and two credentials limited by policy: the app's and the backups'.
 * The root credentials stay with the program.
 */
export class Storage extends pulumi.ComponentResource {
  readonly provider: minio.Provider;
  readonly app: StorageCredential;
  readonly backup: StorageCredential;
  /** Everything declared inside the store: what a client of it (the backup container) waits for. */
  readonly ready: pulumi.Resource[] = [];

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Storage', name, {}, opts);
    const { admin, buckets } = args;
    this.provider = new minio.Provider(
      'minio',
      { minioServer: admin.server, minioUser: admin.user, minioPassword: admin.password, minioSsl: admin.ssl, minioCacertFile: admin.caCertFile, minioRegion: admin.region },
      { parent: this, dependsOn: admin.dependsOn },
    );
    const inside = { parent: this, provider: this.provider };

    // Never emptied or deleted with the stack (forceDestroy off, retained).
    const bucket = Object.fromEntries(
      BUCKETS.map((key) => [
        key,
        new minio.S3Bucket(`bucket-${key}`, { bucket: buckets[key], acl: 'private', forceDestroy: false }, { ...inside, protect: args.protect, retainOnDelete: true }),
      ]),
    ) as Record<BucketKey, minio.S3Bucket>;

    this.ready.push(
      new minio.S3BucketPolicy('temp-anonymous-download', { bucket: bucket.temp.bucket, policy: json(anonymousDownloadPolicy(buckets.temp)) }, inside),
      ...VERSIONED_BUCKETS.map(
        (key) => new minio.S3BucketVersioning(`${key}-versioning`, { bucket: bucket[key].bucket, versioningConfiguration: { status: 'Enabled' } }, inside),
      ),
    );
    const rules = lifecycleRules(buckets, AUDIO_RETENTION_DAYS, args.backupRetentionDays);
    for (const key of BUCKETS) {
      const bucketRules = rules[buckets[key]];
      if (bucketRules) this.ready.push(new minio.IlmPolicy(`${key}-lifecycle`, { bucket: bucket[key].bucket, rules: bucketRules }, inside));
    }
    this.ready.push(...Object.values(bucket));

    this.app = this.credential('app', STORAGE_USERS.app, appPolicy(buckets), inside);
    this.backup = this.credential('backup', STORAGE_USERS.backup, backupPolicy(buckets.backups), inside);
    this.registerOutputs({});
  }

  /** A user whose only rights are the given policy's. */
  private credential(key: string, user: string, policy: PolicyDocument, inside: pulumi.CustomResourceOptions): StorageCredential {
    const secretKey = generatedPassword(`storage-${key}-secret-key`, this);
    const iamUser = new minio.IamUser(`${key}-user`, { name: user, secret: secretKey, forceDestroy: false }, inside);
    const iamPolicy = new minio.IamPolicy(`${key}-policy`, { name: `${user}-policy`, policy: json(policy) }, inside);
    const attachment = new minio.IamUserPolicyAttachment(`${key}-policy-attachment`, { userName: iamUser.name, policyName: iamPolicy.name }, inside);
    this.ready.push(iamUser, iamPolicy, attachment);
    return { accessKey: user, secretKey };
  }
}
