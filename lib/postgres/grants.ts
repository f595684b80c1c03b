import type { Client } from 'pg';
import { ROLES } from '../../common/names';
import { APP_SCHEMA, GRANTED_ROLES, PROVIDER_ROLES, READ_ALL_DATA_ROLE, SEQUENCE_PRIVILEGES, TABLE_PRIVILEGES } from '../../common/privileges';
import { postgresNames, type RoleKey } from '../../common/stack-names';
import { boundedQuery } from '../migrations/runner';
import { HISTORY_SCHEMA, missing, unexpected, type Catalog, type Difference } from './catalog';

/**
 * The privileges the Pulumi program gives the stack's roles (stacks/inside/database.ts, from
 * common/privileges.ts), checked on the live database: CONNECT on it (app, read-only, backup),
 * USAGE on `public` (app, read-only), each role's privileges on every table and sequence of
 * `public` the expected catalog holds, and the backup role's membership of pg_read_all_data.
 * A privilege on a table or sequence held by any other role (PUBLIC included) is reported too;
 * the owner's own are not privileges anyone granted.
 *
 * Which roles are the stack's: the database's owner is the stack's migrator (the prepare step makes
 * it so, and refuses a database it does not own), and the other names follow from its name as
 * common/stack-names.ts derives all four from the stack's namespace (`pa_migrator`: none,
 * `pa_<ns>_migrator`: <ns>). So verify needs no flag and no `pulumi` to know them, and works from
 * any login to the database.
 */

export type RoleNames = Record<RoleKey, string>;

/** The stack's role names for a database owned by `owner`, or undefined when `owner` is no stack's migrator. */
export function stackRolesOf(owner: string): RoleNames | undefined {
  if (owner === ROLES.migrator) return postgresNames(undefined).roles;
  const namespace = /^pa_([a-z][a-z0-9_]*)_migrator$/.exec(owner)?.[1];
  return namespace === undefined ? undefined : postgresNames(namespace).roles;
}

const TABLE_KINDS = new Set(['table', 'partitioned table', 'view', 'materialized view', 'foreign table']);

/** `privilege object grantee` of every grant the program makes on tables and sequences, given the catalog's relations. */
export function expectedRelationGrants(catalog: Catalog, roles: RoleNames): Set<string> {
  const grants = new Set<string>();
  for (const [name, { kind }] of Object.entries(catalog.relations)) {
    // Only `public`'s: its names are unqualified.
    if (name.includes('.') && !name.startsWith(`${APP_SCHEMA}.`)) continue;
    const privileges = kind === 'sequence' ? SEQUENCE_PRIVILEGES : TABLE_KINDS.has(kind) ? TABLE_PRIVILEGES : undefined;
    if (!privileges) continue;
    for (const key of GRANTED_ROLES) for (const privilege of privileges[key]) grants.add(`${privilege}\u0000${name}\u0000${roles[key]}`);
  }
  return grants;
}

const RELATION_GRANTS = `
  WITH ns AS (SELECT oid, nspname FROM pg_namespace
               WHERE nspname NOT IN ('pg_catalog', 'information_schema', '${HISTORY_SCHEMA}') AND nspname !~ '^pg_(toast|temp_|toast_temp_)')
  SELECT CASE WHEN n.nspname = 'public' THEN c.relname::text ELSE n.nspname || '.' || c.relname END AS object,
         CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee)::text END AS grantee, acl.privilege_type AS privilege
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace,
         LATERAL aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) acl
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND acl.grantee <> c.relowner
     AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'e')`;

/** Who holds CONNECT on the database and USAGE on `public`, the roles that exist and the backup role's memberships. */
const ROLE_STATE = `
  SELECT (SELECT array_agg(pg_get_userbyid(a.grantee)::text) FROM pg_database d, LATERAL aclexplode(d.datacl) a
           WHERE d.datname = current_database() AND a.privilege_type = 'CONNECT' AND a.grantee <> 0) AS connect,
         (SELECT array_agg(pg_get_userbyid(a.grantee)::text) FROM pg_namespace s, LATERAL aclexplode(s.nspacl) a
           WHERE s.nspname = $1 AND a.privilege_type = 'USAGE' AND a.grantee <> 0) AS usage,
         (SELECT array_agg(rolname::text) FROM pg_roles WHERE rolname = ANY($2)) AS existing,
         (SELECT array_agg(pg_get_userbyid(m.roleid)::text) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $3) AS backup_of`;

/** Default privileges (pg_default_acl) of every role that may create objects here, each privilege on its own row. */
const DEFAULT_PRIVILEGES = `
  SELECT pg_get_userbyid(d.defaclrole)::text AS creator, coalesce(n.nspname::text, '') AS schema, d.defaclobjtype::text AS type,
         CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END AS grantee, a.privilege_type AS privilege
    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, LATERAL aclexplode(d.defaclacl) a
   WHERE a.grantee <> d.defaclrole`;

/** Who may CREATE in \`public\` (besides its owner) and on the database (besides its owner). */
const CREATE_HOLDERS = `
  SELECT 'schema ' || s.nspname AS object, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END AS grantee
    FROM pg_namespace s, LATERAL aclexplode(coalesce(s.nspacl, acldefault('n', s.nspowner))) a
   WHERE s.nspname = $1 AND a.privilege_type = 'CREATE' AND a.grantee <> s.nspowner
  UNION ALL
  SELECT 'database', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END
    FROM pg_database d, LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
   WHERE d.datname = current_database() AND a.privilege_type = 'CREATE' AND a.grantee <> d.datdba`;

const OBJECT_TYPES: Record<string, string> = { r: 'tables', S: 'sequences', f: 'functions', T: 'types', n: 'schemas' };

/** `privilege type grantee` of each default privilege the program declares for the migrator's objects in \`public\` (stacks/inside/database.ts). */
export function expectedDefaultPrivileges(roles: RoleNames): Set<string> {
  const out = new Set<string>();
  for (const key of GRANTED_ROLES) {
    for (const privilege of TABLE_PRIVILEGES[key]) out.add(`${privilege}\u0000r\u0000${roles[key]}`);
    for (const privilege of SEQUENCE_PRIVILEGES[key]) out.add(`${privilege}\u0000S\u0000${roles[key]}`);
  }
  return out;
}

/** The database's owner: the stack's migrator. */
export async function databaseOwner(client: Client, queryTimeoutSeconds: number): Promise<string> {
  const { rows } = await boundedQuery<{ owner: string }>(client, 'SELECT pg_get_userbyid(datdba)::text AS owner FROM pg_database WHERE datname = current_database()', [], queryTimeoutSeconds);
  return rows[0].owner;
}

/** Every difference between the grants the program makes (for `expected`'s tables and sequences) and the live ones (`actual`'s). */
export async function compareGrants(client: Client, expected: Catalog, actual: Catalog, roles: RoleNames, queryTimeoutSeconds: number): Promise<Difference[]> {
  const out: Difference[] = [];
  const [{ rows: live }, { rows: [state] }] = [
    await boundedQuery<{ object: string; grantee: string; privilege: string }>(client, RELATION_GRANTS, undefined, queryTimeoutSeconds),
    await boundedQuery<{ connect: string[] | null; usage: string[] | null; existing: string[] | null; backup_of: string[] | null }>(
      client, ROLE_STATE, [APP_SCHEMA, Object.values(roles), roles.backup], queryTimeoutSeconds),
  ];
  const existing = new Set(state.existing ?? []);
  const absent = new Set((Object.keys(roles) as RoleKey[]).filter((key) => !existing.has(roles[key])).map((key) => roles[key]));
  for (const key of ['migrator', ...PROVIDER_ROLES] as const) if (absent.has(roles[key])) out.push(missing('role', roles[key]));

  const grant = (privilege: string, object: string, grantee: string) => `${privilege} on ${object} to ${grantee}`;
  const connect = new Set(state.connect ?? []);
  for (const key of PROVIDER_ROLES) {
    if (!absent.has(roles[key]) && !connect.has(roles[key])) out.push(missing('grant', grant('CONNECT', 'database', roles[key])));
  }
  const usage = new Set(state.usage ?? []);
  for (const key of GRANTED_ROLES) {
    if (!absent.has(roles[key]) && !usage.has(roles[key])) out.push(missing('grant', grant('USAGE', `schema ${APP_SCHEMA}`, roles[key])));
  }
  if (!absent.has(roles.backup) && !(state.backup_of ?? []).includes(READ_ALL_DATA_ROLE)) {
    out.push({ kind: 'role', name: roles.backup, problem: 'changed', attribute: 'membership', expected: READ_ALL_DATA_ROLE, actual: state.backup_of ?? [], message: `role ${roles.backup}: not a member of ${READ_ALL_DATA_ROLE}` });
  }

  // Default privileges: what the migrator's later tables and sequences will grant. Any other role's
  // (or the migrator's outside `public`) are not the stack's.
  const { rows: defaults } = await boundedQuery<{ creator: string; schema: string; type: string; grantee: string; privilege: string }>(
    client, DEFAULT_PRIVILEGES, undefined, queryTimeoutSeconds);
  const defaultWanted = expectedDefaultPrivileges(roles);
  const defaultHave = new Set(defaults.filter((d) => d.creator === roles.migrator && d.schema === APP_SCHEMA).map((d) => `${d.privilege}\u0000${d.type}\u0000${d.grantee}`));
  const defaultName = (privilege: string, type: string, grantee: string, creator = roles.migrator, schema = APP_SCHEMA) =>
    `${privilege} on ${OBJECT_TYPES[type] ?? type} ${creator} creates${schema ? ` in schema ${schema}` : ''} to ${grantee}`;
  for (const key of [...defaultWanted].sort()) {
    const [privilege, type, grantee] = key.split('\u0000');
    if (!defaultHave.has(key) && !absent.has(grantee)) out.push(missing('default privilege', defaultName(privilege, type, grantee)));
  }
  for (const d of defaults) {
    const key = `${d.privilege}\u0000${d.type}\u0000${d.grantee}`;
    if (d.creator === roles.migrator && d.schema === APP_SCHEMA && defaultWanted.has(key)) continue;
    out.push(unexpected('default privilege', defaultName(d.privilege, d.type, d.grantee, d.creator, d.schema), 'not declared by the stack'));
  }
  // CREATE in `public` and on the database: the migrator's (as the owner, or a member of pg_database_owner) alone.
  const { rows: creators } = await boundedQuery<{ object: string; grantee: string }>(client, CREATE_HOLDERS, [APP_SCHEMA], queryTimeoutSeconds);
  for (const c of creators) {
    if (c.grantee === roles.migrator) continue;
    out.push(unexpected('grant', grant('CREATE', c.object, c.grantee), 'not granted by the stack'));
  }

  const wanted = expectedRelationGrants(expected, roles);
  const have = new Set(live.map((g) => `${g.privilege}\u0000${g.object}\u0000${g.grantee}`));
  // A relation that is missing, or not expected, is reported as such; its grants would only repeat it.
  const split = (key: string) => key.split('\u0000') as [string, string, string];
  for (const key of [...wanted].sort()) {
    const [privilege, object, grantee] = split(key);
    if (!have.has(key) && object in actual.relations && !absent.has(grantee)) out.push(missing('grant', grant(privilege, object, grantee)));
  }
  for (const key of [...have].sort()) {
    const [privilege, object, grantee] = split(key);
    if (!wanted.has(key) && object in expected.relations) out.push(unexpected('grant', grant(privilege, object, grantee), 'not granted by the stack'));
  }
  return out;
}
