import * as http from 'node:http';
import * as https from 'node:https';
import type { Client } from 'minio';
import { UserFacingError } from '../postgres/connection';
import { adminObjectExists } from './minio-admin';
import { CHECK_TIMEOUT_MS, withTimeout } from '../health/check';
import { describeStorageError, type Endpoint, storageClient } from './object-store';

/**
 * The objects that hold a stack's data in the object store, and outlive the stack: its buckets.
 * `pulumi up` makes sure they exist through this, not through @pulumi/minio's S3Bucket, because
 * that can only create: a bucket an earlier `pulumi destroy` kept makes it fail with "bucket
 * already exists" (aminueza/terraform-provider-minio v1.20.1, resource_minio_s3_bucket.go,
 * minioCreateBucket). A bucket that bears the stack's mark (a tag) is taken back as it is, with its
 * objects; any other bucket of that name is refused, before anything is changed. The buckets'
 * policy, versioning and lifecycle stay with the provider (storage.ts).
 */

/** The tag that marks a bucket as a stack's; its value is the stack's mark (common/stack-names.ts). */
export const MARK_TAG = 'pulumi-stack';
/** The tag this step's release (what `pulumi destroy` runs last) adds, and its next preparation takes off. */
export const RELEASED_TAG = 'pulumi-stack-released';

export interface StoragePlan {
  /** Bucket names by key (documents, recordings, ...). */
  buckets: Record<string, string>;
  mark: string;
  /** The users and policies the stack's provider creates, which a new deployment must not find (see `fresh`). */
  users: string[];
  policies: string[];
}

export interface StorageAdmin {
  endpoint: Endpoint;
  region: string;
  accessKey: string;
  secretKey: string;
}

/** What the step reports on its last line: the bucket names, for the next run to notice a change. */
export interface PreparedStorage {
  buckets: Record<string, string>;
  /** The stack's mark then: another one now means a renamed stack. */
  mark?: string;
}

/** A request, bounded: a store that accepts the connection and goes silent cannot hang `pulumi up`. */
async function bounded<T>(admin: StorageAdmin, work: (client: Client) => Promise<T>): Promise<T> {
  const agent = admin.endpoint.url.protocol === 'https:' ? new https.Agent() : new http.Agent();
  try {
    return await withTimeout(work(storageClient(admin.endpoint, admin.region, admin, agent)), CHECK_TIMEOUT_MS, () => agent.destroy());
  } catch (error) {
    if (error instanceof UserFacingError) throw error;
    const where = `the object store at ${admin.endpoint.url.origin} (from ${admin.endpoint.source})`;
    if (['AccessDenied', 'SignatureDoesNotMatch', 'InvalidAccessKeyId'].includes((error as { code?: string }).code ?? '')) {
      throw new UserFacingError(
        `${where} refused S3_ADMIN_ACCESS_KEY and S3_ADMIN_SECRET_KEY (${(error as { code: string }).code}): they must be a login of its administrator ` +
          '(for a stack on an external store, externalS3AccessKey and externalS3SecretKey)',
      );
    }
    throw new UserFacingError(`${where}: ${describeStorageError(error, admin.endpoint, [admin.secretKey])}`);
  } finally {
    agent.destroy();
  }
}

/** A bucket's tags; none (NoSuchTagSet) is an empty set. */
async function tagsOf(admin: StorageAdmin, bucket: string): Promise<Record<string, string>> {
  return bounded(admin, async (client) => {
    try {
      // minio-js's XML parser gives "true" or "42" back as a boolean or a number.
      const tags = (await client.getBucketTagging(bucket)) as { Key: string; Value: unknown }[];
      return Object.fromEntries(tags.map((t) => [String(t.Key), String(t.Value)]));
    } catch (error) {
      if ((error as { code?: string }).code === 'NoSuchTagSet') return {};
      throw error;
    }
  });
}

async function setTags(admin: StorageAdmin, bucket: string, change: (tags: Record<string, string>) => Record<string, string>): Promise<void> {
  const tags = change(await tagsOf(admin, bucket));
  await bounded(admin, (client) => client.setBucketTagging(bucket, tags));
}

const exists = (admin: StorageAdmin, bucket: string) => bounded(admin, (client) => client.bucketExists(bucket));

/** Whether a bucket holds anything: an object, an older version or a delete marker. */
async function holdsObjects(admin: StorageAdmin, bucket: string): Promise<boolean> {
  return bounded(
    admin,
    (client) =>
      new Promise<boolean>((resolve, reject) => {
        const stream = client.listObjects(bucket, '', true, { IncludeVersion: true });
        stream.once('data', () => {
          stream.destroy();
          resolve(true);
        });
        stream.once('end', () => resolve(false));
        stream.once('error', reject);
      }),
  );
}

/**
 * Makes sure the stack's buckets exist and are the stack's: creates the missing ones (tagged with
 * the mark), takes back the ones that bear it, and refuses any other. On an update whose bucket
 * names changed (`bucketPrefix`), a bucket of the old names that still holds objects is refused
 * too: S3 cannot rename a bucket, and the app would silently move to an empty one.
 */
export async function prepareStorage(
  admin: StorageAdmin,
  plan: StoragePlan,
  options: { fresh: boolean; previous?: PreparedStorage; say: (line: string) => void },
): Promise<PreparedStorage> {
  const problems: string[] = [];
  const previous = options.fresh ? undefined : options.previous;
  // A stack renamed since (its mark is its project and stack): its earlier mark still means it.
  const ours = (mark: string | undefined) => mark === plan.mark || (previous?.mark !== undefined && mark === previous.mark);
  const tagHint = (name: string) => `mc tag set ALIAS/${name} "${MARK_TAG}=${plan.mark}"`;

  const missing: string[] = [];
  const kept: string[] = [];
  const retag: string[] = [];
  let released = true;
  for (const [key, name] of Object.entries(plan.buckets)) {
    const old = previous?.buckets[key];
    if (await exists(admin, name)) {
      const tags = await tagsOf(admin, name);
      if (ours(tags[MARK_TAG])) {
        kept.push(name);
        if (tags[MARK_TAG] !== plan.mark || tags[RELEASED_TAG]) retag.push(name);
        released &&= tags[RELEASED_TAG] !== undefined;
      } else {
        problems.push(
          `bucket ${name} (${key}) exists and is not this stack's (${tags[MARK_TAG] ? `its ${MARK_TAG} tag is ${JSON.stringify(tags[MARK_TAG])}` : `it has no ${MARK_TAG} tag`}; ` +
            `this stack tags its own ${JSON.stringify(plan.mark)}). If it is this stack's (its objects moved there by hand, say), tag it: ${tagHint(name)}; ` +
            'otherwise give this stack\'s buckets another prefix (`pulumi config set bucketPrefix <name>-`).',
        );
      }
      continue;
    }
    // Only a first deployment, or a new name whose old bucket is here and empty, creates a bucket: an
    // empty one in the place of the stack's would hide that its objects are elsewhere.
    if (old === undefined) missing.push(name);
    else if (!(await exists(admin, old))) {
      problems.push(
        `the stack's ${key} are in bucket ${old}, which is not on this store (a store that was moved or replaced, a switch between the stack's ` +
          'own MinIO and an external one, or a bucket deleted since): settings do not move objects. Set them back, or copy the objects here first ' +
          `(mc mb ALIAS/${name} && ${tagHint(name)} && mc mirror ... ALIAS/${name}), then run \`pulumi up\` again.`,
      );
    } else if (ours((await tagsOf(admin, old))[MARK_TAG]) && (await holdsObjects(admin, old))) {
      problems.push(
        `the ${key} bucket is now ${name}, but the stack's ${key} are in ${old} (bucketPrefix changed), and S3 cannot rename a bucket. ` +
          `Set bucketPrefix back, or move them first: mc mb ALIAS/${name} && ${tagHint(name)} && mc mirror --preserve ALIAS/${old} ALIAS/${name} ` +
          `&& mc rb --force ALIAS/${old}; then run \`pulumi up\` again.`,
      );
    } else missing.push(name);
  }
  // The provider's Create takes over a user or policy of the name (AddUser and AddCannedPolicy
  // overwrite: resource_minio_iam_user.go, resource_minio_iam_policy.go), so on a first deployment one
  // already there, left by a destroy that did not finish or another deployment's, is named before that
  // happens. Not where every bucket bears the mark of this step's own release: that was the last step
  // of a finished destroy, whose users are gone, or the first half of a replaced step, whose users are
  // the stack's, alive.
  if (options.fresh && !(kept.length > 0 && released)) {
    const taken = [
      ...(await Promise.all(plan.users.map(async (u) => ((await adminObjectExists(admin, 'user-info', u)) ? `user ${u}` : undefined)))),
      ...(await Promise.all(plan.policies.map(async (p) => ((await adminObjectExists(admin, 'info-canned-policy', p)) ? `policy ${p}` : undefined)))),
    ].filter((t): t is string => t !== undefined);
    for (const what of taken) {
      const [kind, name] = what.split(' ');
      problems.push(
        `${what} exists, but this stack has not created it yet: left by a \`pulumi destroy\` that did not finish, or another deployment's. ` +
          `If it is this stack's, remove it: mc admin ${kind === 'user' ? 'user rm' : 'policy remove'} ALIAS ${name}; otherwise give this stack another ` +
          'namespace (`pulumi config set externalNamespace <name>`); then run `pulumi up` again.',
      );
    }
  }
  if (problems.length > 0) throw new UserFacingError(`nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  for (const name of missing) await bounded(admin, (client) => client.makeBucket(name, admin.region));
  // Marked, or marked anew (a renamed stack's, a released one's), keeping any other tag.
  for (const name of [...missing, ...retag]) await setTags(admin, name, (tags) => ({ ...omit(tags, RELEASED_TAG), [MARK_TAG]: plan.mark }));
  if (missing.length > 0) options.say(`created bucket(s): ${missing.join(', ')}.`);
  if (kept.length > 0) options.say(`kept from an earlier deployment of this stack, with their objects: ${kept.join(', ')}.`);
  return { buckets: plan.buckets, mark: plan.mark };
}

/**
 * What `pulumi destroy` runs last inside the store: the buckets stay as they are, with their objects,
 * and are tagged released (what a later first deployment reads, above).
 */
export async function releaseStorage(admin: StorageAdmin, plan: Pick<StoragePlan, 'buckets' | 'mark'>, say: (line: string) => void, volume?: string): Promise<void> {
  const names = Object.values(plan.buckets);
  for (const name of names) {
    if ((await exists(admin, name)) && (await tagsOf(admin, name))[MARK_TAG] === plan.mark) {
      await setTags(admin, name, (tags) => ({ ...tags, [RELEASED_TAG]: plan.mark }));
    }
  }
  const forGood = volume
    ? `to delete them for good, remove the volume that holds them once the destroy is done: docker volume rm ${volume}`
    : `to delete them for good: ${names.map((n) => `mc rb --force ALIAS/${n}`).join('; ')}`;
  say(`kept: buckets ${names.join(', ')}, with their objects, versioning and lifecycle; \`pulumi up\` of this stack takes them back; ${forGood}`);
}

const omit = (tags: Record<string, string>, key: string) => Object.fromEntries(Object.entries(tags).filter(([k]) => k !== key));
