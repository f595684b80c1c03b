import * as command from '@pulumi/command';
import * as minio from '@pulumi/minio';
import * as pulumi from '@pulumi/pulumi';
import { AUDIO_RETENTION_DAYS } from '../../schema/seeds/reference';
import type { StackConfig } from '../config';
import type { StorageNames, StorageUserKey } from '../../common/stack-names';
import { generatedPassword } from '../secrets';
import { BUCKETS } from '../../common/names';
import { prepareStep } from './prepare-step';
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
  /** The Docker volume holding the store's data, where the stack runs it: what to remove to delete the data for good. */
  volume?: string;
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
  /** The buckets', users' and policies' names on this store (names.ts). */
  names: StorageNames;
  /** The stack's mark on the data it keeps (names.ts, stackMark). */
  mark: string;
  /** Protect the buckets' step, so that `pulumi destroy` refuses to run; the buckets are kept either way. */
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
 * Inside the object store.
 *
 * The buckets hold data and outlive the stack: the prepare step, `npm run storage:prepare`, creates
 * them, or takes them back after a destroy (lib/storage/prepare.ts says why not @pulumi/minio's
 * S3Bucket). Their configuration, which protects that data (the anonymous-download policy of
 * `temp`, versioning of `documents` and `backups`, the lifecycle rules), is the provider's and is
 * kept with them: deleting those resources would remove the policy, suspend versioning and drop the
 * lifecycle (aminueza/terraform-provider-minio v1.20.1: resource_minio_s3_bucket_policy.go,
 * resource_minio_s3_bucket_versioning.go, resource_minio_ilm_policy.go, Delete), so a kept
 * `backups` bucket would stop expiring and stop keeping overwritten backups. The next `up`
 * writes them again (their Create overwrites).
 *
 * The two credentials, the app's and the backups', each limited by one policy, go with the stack.
 * The root credentials stay with the program.
 */
export class Storage extends pulumi.ComponentResource {
  readonly prepare: command.local.Command;
  readonly provider: minio.Provider;
  readonly app: StorageCredential;
  readonly backup: StorageCredential;
  /** Everything declared inside the store: what a client of it (the backup container) waits for. */
  readonly ready: pulumi.Resource[] = [];

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Storage', name, {}, opts);
    const { admin, names } = args;
    const buckets = names.buckets;
    const prepare = ['npm', 'run', '--silent', 'storage:prepare', '--', ...BUCKETS.flatMap((key) => ['--bucket', `${key}=${buckets[key]}`]), '--mark', args.mark];
    const provided = [...Object.values(names.users).flatMap((u) => ['--user', u]), ...Object.values(names.policies).flatMap((p) => ['--policy', p])];
    // A first deployment also checks that no user or policy of the stack's names is there yet.
    this.prepare = prepareStep(this, {
      command: prepare,
      firstRun: ['--fresh', ...provided],
      volume: admin.volume,
      environment: {
        S3_ENDPOINT: `${admin.ssl ? 'https' : 'http'}://${admin.server}`,
        S3_REGION: admin.region,
        S3_ADMIN_ACCESS_KEY: pulumi.secret(admin.user),
        S3_ADMIN_SECRET_KEY: pulumi.secret(admin.password),
        // How node trusts the CA of an external store's certificate.
        ...(admin.caCertFile ? { NODE_EXTRA_CA_CERTS: admin.caCertFile } : {}),
      },
      dependsOn: admin.dependsOn,
      protect: args.protect,
    });
    this.provider = new minio.Provider(
      'minio',
      { minioServer: admin.server, minioUser: admin.user, minioPassword: admin.password, minioSsl: admin.ssl, minioCacertFile: admin.caCertFile, minioRegion: admin.region },
      { parent: this, dependsOn: admin.dependsOn },
    );
    // Everything inside the store after the prepare step: its first run checks that no user or
    // policy of the stack's names is there yet, which the provider's would be, were they created at once.
    const inside = { parent: this, provider: this.provider, dependsOn: [this.prepare] };
    const kept = { ...inside, retainOnDelete: true };

    this.ready.push(
      this.prepare,
      new minio.S3BucketPolicy('temp-anonymous-download', { bucket: buckets.temp, policy: json(anonymousDownloadPolicy(buckets.temp)) }, kept),
      ...VERSIONED_BUCKETS.map(
        (key) => new minio.S3BucketVersioning(`${key}-versioning`, { bucket: buckets[key], versioningConfiguration: { status: 'Enabled' } }, kept),
      ),
    );
    const rules = lifecycleRules(buckets, AUDIO_RETENTION_DAYS, args.backupRetentionDays);
    for (const key of BUCKETS) {
      const bucketRules = rules[buckets[key]];
      if (bucketRules) this.ready.push(new minio.IlmPolicy(`${key}-lifecycle`, { bucket: buckets[key], rules: bucketRules }, kept));
    }

    this.app = this.credential('app', names, appPolicy(buckets), inside);
    this.backup = this.credential('backup', names, backupPolicy(buckets.backups), inside);
    this.registerOutputs({});
  }

  /** A user whose only rights are the given policy's. */
  private credential(key: StorageUserKey, names: StorageNames, policy: PolicyDocument, inside: pulumi.CustomResourceOptions): StorageCredential {
    const secretKey = generatedPassword(`storage-${key}-secret-key`, this);
    const iamUser = new minio.IamUser(`${key}-user`, { name: names.users[key], secret: secretKey, forceDestroy: false }, inside);
    const iamPolicy = new minio.IamPolicy(`${key}-policy`, { name: names.policies[key], policy: json(policy) }, inside);
    const attachment = new minio.IamUserPolicyAttachment(`${key}-policy-attachment`, { userName: iamUser.name, policyName: iamPolicy.name }, inside);
    this.ready.push(iamUser, iamPolicy, attachment);
    return { accessKey: names.users[key], secretKey };
  }
}
