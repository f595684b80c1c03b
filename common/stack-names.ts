import { BUCKETS, type BucketKey } from './names';
import { DATABASE_NAME, ROLES, STORAGE_USERS } from './names';

/**
 * What the stack's objects are called inside PostgreSQL and MinIO. On the stack's own containers
 * these are the fixed names of services.ts (the specification's database name among them): the
 * server holds this stack alone. On a server the stack does not run, which other stacks may share,
 * every name carries the stack's namespace, so that one stack can neither take over nor delete
 * another's roles, database, users or policies (MinIO's AddUser and AddCannedPolicy overwrite an
 * existing name: aminueza/terraform-provider-minio v1.20.1, resource_minio_iam_user.go and
 * resource_minio_iam_policy.go). Buckets take `bucketPrefix`, which such a server requires.
 */

export type RoleKey = keyof typeof ROLES;
export type StorageUserKey = keyof typeof STORAGE_USERS;

export interface PostgresNames {
  database: string;
  roles: Record<RoleKey, string>;
}

export interface StorageNames {
  buckets: Record<BucketKey, string>;
  users: Record<StorageUserKey, string>;
  /** Each user's one policy. */
  policies: Record<StorageUserKey, string>;
}

/** A namespace: lowercase letters, digits and hyphens, beginning with a letter. */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9-]{0,23}$/;

/** What `externalNamespace` defaults to: the stack's name, made a namespace where it can be. */
export function defaultNamespace(stack: string): string {
  return stack.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/** PostgreSQL names are written without quotes in URLs and by hand, so the namespace's hyphens become underscores. */
const sqlName = (namespace: string) => namespace.replace(/-/g, '_');

export function postgresNames(namespace: string | undefined): PostgresNames {
  if (namespace === undefined) return { database: DATABASE_NAME, roles: { ...ROLES } };
  const ns = sqlName(namespace);
  const roles = Object.fromEntries(Object.entries(ROLES).map(([key, role]) => [key, role.replace(/^pa_/, `pa_${ns}_`)])) as Record<RoleKey, string>;
  return { database: `${DATABASE_NAME}_${ns}`, roles };
}

export function storageNames(namespace: string | undefined, bucketPrefix: string): StorageNames {
  const users = namespace === undefined
    ? { ...STORAGE_USERS }
    : (Object.fromEntries(Object.entries(STORAGE_USERS).map(([key, user]) => [key, user.replace(/^pa-/, `pa-${namespace}-`)])) as Record<StorageUserKey, string>);
  const policies = Object.fromEntries(Object.entries(users).map(([key, user]) => [key, `${user}-policy`])) as Record<StorageUserKey, string>;
  const buckets = Object.fromEntries(BUCKETS.map((b) => [b, `${bucketPrefix}${b}`])) as Record<BucketKey, string>;
  return { buckets, users, policies };
}

/**
 * The mark the stack leaves on the objects that hold its data and outlive it (the database and its
 * owner role, as their comment; the buckets, as a tag): how a later `pulumi up` of the same stack
 * tells its own kept data from another's, on a shared server or on a volume from elsewhere.
 */
export function stackMark(project: string, stack: string): string {
  return `pulumi:${project}/${stack}`;
}
