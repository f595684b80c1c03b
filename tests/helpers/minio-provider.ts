import type { Client, LifecycleConfig, LifecycleRule } from 'minio';
import type { IlmRule } from '../../stacks/inside/storage-policies';
import { prepareStep, runDeclaredCommand } from './database-twin';
import type { CommandResult } from './db';
import type { MinioServer } from './minio';
import { adminCall, addCannedPolicy, addUser, setUserPolicies } from './minio-admin';
import type { ProgramRun } from './program';
import { plain } from './pulumi-mocks';

/**
 * The calls @pulumi/minio 0.17.1 makes for each resource the program declares, replayed with
 * minio-js and MinIO's admin API, as aminueza/terraform-provider-minio v1.20.1 makes them (files
 * under minio/ of that tag, through minio-go v7.0.63 and madmin-go v1.7.5). Not a provider: one
 * function per cited operation, for tests that need to know what that operation does to a real
 * MinIO.
 */

/** resource_minio_ilm_policy.go, minioCreateILMPolicy: each rule's id, Sscanf("%dd") expiration, noncurrent days, Status "Enabled", an empty prefix filter. */
export function ilmConfiguration(rules: IlmRule[]): LifecycleConfig {
  return {
    Rule: rules.map((r): LifecycleRule => {
      const rule: LifecycleRule = { ID: r.id, Status: 'Enabled', Filter: { Prefix: '' } };
      if (r.expiration !== undefined) {
        const days = /^(\d+)d$/.exec(r.expiration);
        if (!days) throw new Error(`expiration ${r.expiration} is not "<n>d"`);
        rule.Expiration = { Days: Number(days[1]) };
      }
      if (r.noncurrentVersionExpirationDays !== undefined) rule.NoncurrentVersionExpiration = { NoncurrentDays: r.noncurrentVersionExpirationDays };
      return rule;
    }),
  };
}

/**
 * resource_minio_ilm_policy.go, minioReadILMPolicy: what it sets back into state per rule, in the
 * program's input names: `expiration` as "%dd" (empty when the rule has none), the noncurrent days.
 */
export async function ilmRead(client: Client, bucket: string): Promise<IlmRule[]> {
  type Rule = { ID: string; Expiration?: { Days?: number }; NoncurrentVersionExpiration?: { NoncurrentDays?: number } };
  const config = (await client.getBucketLifecycle(bucket)) as unknown as { Rule: Rule | Rule[] };
  // minio-js gives one rule as an object, several as a list.
  return ([] as Rule[]).concat(config.Rule).map((r) => ({
    id: r.ID,
    ...(r.Expiration?.Days ? { expiration: `${r.Expiration.Days}d` } : {}),
    ...(r.NoncurrentVersionExpiration?.NoncurrentDays ? { noncurrentVersionExpirationDays: Number(r.NoncurrentVersionExpiration.NoncurrentDays) } : {}),
  }));
}

/** resource_minio_ilm_policy.go, minioDeleteILMPolicy: SetBucketLifecycle with an empty configuration, which minio-go sends as a DELETE of it. */
export const ilmDelete = (client: Client, bucket: string) => client.removeBucketLifecycle(bucket);

/** resource_minio_s3_bucket_versioning.go, minioDeleteBucketVersioning: SuspendVersioning (unless declared Suspended). */
export const versioningDelete = (client: Client, bucket: string) => client.setBucketVersioning(bucket, { Status: 'Suspended' });

/** resource_minio_s3_bucket_policy.go, minioDeleteBucketPolicy: SetBucketPolicy(bucket, ""), which minio-go sends as a DELETE of the policy. */
export const bucketPolicyDelete = (client: Client, bucket: string) => client.setBucketPolicy(bucket, '');

/** resource_minio_iam_user.go, minioCreateUser: AddUser (madmin SetUser, enabled), whether the name exists or not. */
export const userCreate = addUser;

/** resource_minio_iam_user.go, minioDeleteUser: RemoveUser. */
export const userDelete = (server: MinioServer, name: string) => adminCall(server, 'remove-user', { accessKey: name }, undefined, 'DELETE');

/** resource_minio_iam_policy.go, minioCreatePolicy and minioUpdatePolicy: AddCannedPolicy, whether the name exists or not. */
export const policyCreate = addCannedPolicy;

/** resource_minio_iam_policy.go, minioReadPolicy: InfoCannedPolicy, whose text goes into state. */
export const policyRead = (server: MinioServer, name: string) => adminCall(server, 'info-canned-policy', { name }, undefined, 'GET');

/** resource_minio_iam_policy.go, minioDeletePolicy: RemoveCannedPolicy. */
export const policyDelete = (server: MinioServer, name: string) => adminCall(server, 'remove-canned-policy', { name }, undefined, 'DELETE');

/** The policies attached to a user, as resource_minio_iam_user_policy_attachment.go reads them (GetUserInfo's PolicyName, split on commas). */
export async function userPolicies(server: MinioServer, user: string): Promise<string[]> {
  const info = JSON.parse(await adminCall(server, 'user-info', { accessKey: user }, undefined, 'GET')) as { policyName?: string };
  return (info.policyName ?? '').split(',').filter(Boolean);
}

/** resource_minio_iam_user_policy_attachment.go: Create adds the policy to the user's list, Delete sets the list without it (SetPolicy). */
export const attachmentSet = setUserPolicies;

/**
 * What the run declares inside MinIO, applied: its Storage prepare step (run for real, with the
 * endpoint and admin login moved to `server`), then each resource's Create, in declaration order.
 * Returns the prepare step's run. A resource type it does not know fails.
 */
export async function applyDeclaredStorage(run: ProgramRun, server: MinioServer, root: Client): Promise<CommandResult> {
  const prepared = await runDeclaredCommand(prepareStep(run, 'Storage'), 'create', {
    S3_ENDPOINT: server.url,
    S3_ADMIN_ACCESS_KEY: server.rootUser,
    S3_ADMIN_SECRET_KEY: server.rootPassword,
  });
  if (prepared.code !== 0) throw new Error(`the storage prepare step failed: ${prepared.stderr}`);
  for (const d of run.declared.filter((r) => r.type.startsWith('minio:'))) {
    const i = plain(d.raw);
    switch (d.type) {
      case 'minio:index/s3BucketPolicy:S3BucketPolicy':
        await root.setBucketPolicy(i.bucket, i.policy);
        break;
      case 'minio:index/s3BucketVersioning:S3BucketVersioning':
        await root.setBucketVersioning(i.bucket, { Status: i.versioningConfiguration.status });
        break;
      case 'minio:index/ilmPolicy:IlmPolicy':
        await root.setBucketLifecycle(i.bucket, ilmConfiguration(i.rules));
        break;
      case 'minio:index/iamUser:IamUser':
        await userCreate(server, i.name, i.secret);
        break;
      case 'minio:index/iamPolicy:IamPolicy':
        await policyCreate(server, i.name, i.policy);
        break;
      case 'minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment': {
        const current = await userPolicies(server, i.userName);
        if (!current.includes(i.policyName)) await attachmentSet(server, i.userName, [...current, i.policyName]);
        break;
      }
      default:
        throw new Error(`no replay of ${d.type}'s Create (${d.name})`);
    }
  }
  return prepared;
}

/** `pulumi destroy` of what the run declares inside MinIO: each resource's Delete in reverse order, none for a retained one, then the prepare step's. */
export async function replayStorageDestroy(run: ProgramRun, server: MinioServer): Promise<CommandResult> {
  for (const d of run.declared.filter((r) => r.type.startsWith('minio:')).reverse()) {
    if (d.retainOnDelete) continue; // pulumi/pulumi pkg/resource/deploy/step.go, DeleteStep.Apply: no provider call
    const i = plain(d.raw);
    switch (d.type) {
      case 'minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment':
        await attachmentSet(server, i.userName, (await userPolicies(server, i.userName)).filter((p) => p !== i.policyName));
        break;
      case 'minio:index/iamPolicy:IamPolicy':
        await policyDelete(server, i.name);
        break;
      case 'minio:index/iamUser:IamUser':
        await userDelete(server, i.name);
        break;
      default:
        throw new Error(`no replay of ${d.type}'s Delete (${d.name})`);
    }
  }
  return runDeclaredCommand(prepareStep(run, 'Storage'), 'delete', { S3_ENDPOINT: server.url, S3_ADMIN_ACCESS_KEY: server.rootUser, S3_ADMIN_SECRET_KEY: server.rootPassword });
}
