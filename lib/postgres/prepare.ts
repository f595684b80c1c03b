import type { Prepared } from '../../common/step-output';
import type { Client } from 'pg';
import { connect, type DatabaseTarget, UserFacingError, withDatabase } from './connection';
import { POSTGRES_MAJOR } from '../../common/names';

/**
 * The objects that hold a stack's data inside PostgreSQL, and outlive the stack: its database and
 * the role that owns it (and so owns every table its migrations create). `pulumi up` makes sure
 * they exist through this, not through @pulumi/postgresql's Database and Role, because those can
 * only create: `CREATE DATABASE` and `CREATE ROLE` fail on the ones an earlier `pulumi destroy`
 * kept (cyrilgdn/terraform-provider-postgresql resource_postgresql_database.go and
 * resource_postgresql_role.go, Create), and Pulumi has no "adopt if it exists". Here a database
 * and owner that bear the stack's mark (their comment) are taken back as they are; anything else
 * of those names is refused, naming it and what to run, before anything is changed.
 */

export interface DatabasePlan {
  database: string;
  owner: string;
  /** The stack's mark (common/stack-names.ts, stackMark). */
  mark: string;
  /** The owner's password, or its SCRAM secret (stored as it is). */
  ownerPassword: string;
  /** The stack's other roles: a new deployment of the stack must not find them (see `fresh`). */
  roles: string[];
}


export interface PrepareOptions {
  /** The stack's first deployment (or its first since a destroy): none of `roles` may exist yet. */
  fresh: boolean;
  /** What the previous run prepared (the step's last output), to notice a change of names. */
  previous?: Prepared;
  say: (line: string) => void;
}

/**
 * Where the admin works: the database of its URL, unless that is the stack's own, which may not
 * exist yet; then `postgres`, which every server has.
 */
const maintenance = (target: DatabaseTarget, plan: Pick<DatabasePlan, 'database'>) =>
  target.database === plan.database ? withDatabase(target, 'postgres') : target;

const statementTimeout = "SET statement_timeout = '60s'; SET lock_timeout = '10s'";

interface RoleRow {
  comment: string | null;
  rolsuper: boolean;
  rolcanlogin: boolean;
}
interface DatabaseRow {
  oid: number;
  comment: string | null;
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
}

const describeMark = (comment: string | null) => (comment ? `its comment is ${JSON.stringify(comment)}` : 'it has no comment');

async function roleRow(client: Client, name: string): Promise<RoleRow | undefined> {
  const { rows } = await client.query<RoleRow>(
    "SELECT shobj_description(oid, 'pg_authid') AS comment, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = $1",
    [name],
  );
  return rows[0];
}

async function databaseRow(client: Client, name: string): Promise<DatabaseRow | undefined> {
  const { rows } = await client.query<DatabaseRow>(
    `SELECT oid::int AS oid, shobj_description(oid, 'pg_database') AS comment, pg_get_userbyid(datdba) AS owner,
            pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype
       FROM pg_database WHERE datname = $1`,
    [name],
  );
  return rows[0];
}

/** Tables outside the system schemas, counted in the database itself: undefined where the admin cannot connect to it. */
async function tableCount(target: DatabaseTarget, database: string): Promise<number | undefined> {
  let client: Client | undefined;
  try {
    client = await connect(withDatabase(target, database), 'db:prepare');
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
    );
    return rows[0].n;
  } catch {
    return undefined;
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/**
 * Makes sure the stack's database and its owner role exist and are the stack's: creates what is
 * missing (marked), takes back what bears the mark (the owner logs in again, with the stack's
 * current password), and refuses anything else. Every check runs before the first change.
 */
export async function prepareDatabase(target: DatabaseTarget, plan: DatabasePlan, options: PrepareOptions): Promise<Prepared> {
  const client = await connect(maintenance(target, plan), 'db:prepare');
  try {
    return await prepare(client, target, plan, options);
  } finally {
    await client.end();
  }
}

async function prepare(client: Client, target: DatabaseTarget, plan: DatabasePlan, options: PrepareOptions): Promise<Prepared> {
  await client.query(statementTimeout);
  const [{ superuser, admin, version }] = (
    await client.query<{ superuser: boolean; admin: string; version: number }>(
      "SELECT rolsuper AS superuser, current_user AS admin, current_setting('server_version_num')::int AS version FROM pg_roles WHERE rolname = current_user",
    )
  ).rows;
  if (Math.floor(version / 10000) !== POSTGRES_MAJOR) {
    throw new UserFacingError(`the server runs PostgreSQL ${Math.floor(version / 10000)}; the schema, and this step's handling of roles, are written for ${POSTGRES_MAJOR}: use a PostgreSQL ${POSTGRES_MAJOR} server.`);
  }
  // A statement that fails is logged with its text, the owner's SCRAM secret in it; a superuser can keep it out.
  if (superuser) await client.query('SET log_min_error_statement = panic');
  const role = await roleRow(client, plan.owner);
  const db = await databaseRow(client, plan.database);
  const q = (name: string) => client.escapeIdentifier(name);
  const asAdmin = 'run as the server\'s administrator';
  const previous = options.previous;
  // A stack renamed since (its mark is its project and stack): its earlier mark still means it.
  const ours = (comment: string | null) => comment === plan.mark || (previous?.mark !== undefined && comment === previous.mark);
  const remark = (kind: 'ROLE' | 'DATABASE', name: string) => `COMMENT ON ${kind} ${q(name)} IS ${client.escapeLiteral(plan.mark)}`;
  const problems: string[] = [];

  if (role && !ours(role.comment)) {
    problems.push(
      `role ${plan.owner} exists and is not this stack's (${describeMark(role.comment)}; this stack marks its own ${JSON.stringify(plan.mark)}). ` +
        `If it is this stack's (made by an earlier version of this program, say), mark it: ${asAdmin} ${remark('ROLE', plan.owner)}; ` +
        'otherwise another stack or application uses this name on this server: give this stack another namespace (`pulumi config set externalNamespace <name>`) or another server.',
    );
  }
  if (role?.rolsuper) problems.push(`role ${plan.owner} is a superuser: the stack's owner role must not be one; ${asAdmin} ALTER ROLE ${q(plan.owner)} NOSUPERUSER.`);
  // A database the stack's own owner holds but that bears no mark was created by this step, which stopped before marking it.
  const unmarkedButOurs = db !== undefined && db.comment === null && role !== undefined && ours(role.comment) && db.owner === plan.owner;
  if (db && !ours(db.comment) && !unmarkedButOurs) {
    const tables = await tableCount(target, plan.database);
    problems.push(
      `database ${plan.database} exists and is not this stack's (${describeMark(db.comment)}; ${tables === undefined ? 'its tables could not be counted' : `${tables} table(s)`}). ` +
        `If it is this stack's data (from a volume of an earlier version of this program, say), mark it: ${asAdmin} ${remark('DATABASE', plan.database)}; ` +
        `if it holds nothing you need, drop it: DROP DATABASE ${q(plan.database)}; otherwise give this stack another namespace (\`pulumi config set externalNamespace <name>\`) or another server.`,
    );
  }
  if (db && (db.encoding !== 'UTF8' || db.collate !== 'C' || db.ctype !== 'C')) {
    problems.push(`database ${plan.database} is ${db.encoding} with collation ${db.collate}/${db.ctype}; the schema needs UTF8 with C (the specification's): restore its data into a new database instead (npm run db:backup, then db:restore).`);
  }
  // The owner released (its login taken by this step's delete) means the stack's own delete has run: as the last of a
  // destroy, whose roles are gone then, or as the first half of a replaced step (`pulumi up --replace`), whose roles
  // are the stack's, alive. Roles found without it are what a destroy that did not finish, or lost state, left behind.
  const released = role !== undefined && ours(role.comment) && !role.rolcanlogin;
  if (options.fresh && !released) {
    for (const name of plan.roles) {
      if (await roleRow(client, name)) {
        problems.push(
          `role ${name} exists, but this stack has not created it yet: left by a \`pulumi destroy\` that did not finish, or by state that was lost. ` +
            `It holds no data; ${asAdmin}, in database ${plan.database}: DROP OWNED BY ${q(name)}; DROP ROLE ${q(name)}; then run \`pulumi up\` again.`,
        );
      }
    }
  }
  if (!options.fresh && previous) {
    // Only a first deployment creates the database: an empty one in the place of the stack's would
    // hide that its data is elsewhere. The stack's data is in the database the last run prepared.
    const old = previous.database === plan.database ? db : await databaseRow(client, previous.database);
    if (!old) {
      problems.push(
        `the stack's data is in database ${previous.database}, which is not on this server (a server that was moved or replaced, a switch between ` +
          'the stack\'s own PostgreSQL and an external one, or a database dropped since): settings do not move data. Set them back, or restore the ' +
          `last backup here first (\`npm run db:restore -- --database ${plan.database} ...\`, as the server's administrator), then run \`pulumi up\` again.`,
      );
    } else if (previous.database !== plan.database) {
      problems.push(
        `the stack's names changed (\`externalNamespace\`, or a renamed stack): its data is in database ${previous.database}, owned by ${previous.owner}, and a deployed ` +
          'stack keeps its names. Set the namespace back: `pulumi config set externalNamespace <the namespace of those names>`.',
      );
    }
  }
  if (problems.length > 0) throw new UserFacingError(`nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  // The owner: created, or taken back. A superuser's attributes are only set by a superuser.
  const attributes = superuser ? 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS' : 'LOGIN NOCREATEDB NOCREATEROLE';
  const password = client.escapeLiteral(plan.ownerPassword);
  await client.query('BEGIN');
  try {
    if (role) await client.query(`ALTER ROLE ${q(plan.owner)} WITH ${attributes} PASSWORD ${password}`);
    else await client.query(`CREATE ROLE ${q(plan.owner)} WITH ${attributes} PASSWORD ${password}`);
    await client.query(remark('ROLE', plan.owner));
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
  options.say(role ? `role ${plan.owner}: kept from an earlier deployment of this stack; it logs in again, with this deployment's password.` : `role ${plan.owner}: created.`);

  // A database owned by another role may only be created (or given to it) by a member of that role.
  const member = superuser || (await client.query<{ m: boolean }>("SELECT pg_has_role(current_user, $1, 'MEMBER') AS m", [plan.owner])).rows[0].m;
  if (!member) await client.query(`GRANT ${q(plan.owner)} TO ${q(admin)}`);
  try {
    if (!db) {
      // Not in a transaction (CREATE DATABASE cannot be): a run stopped before the comment is recognised by its owner.
      await client.query(`CREATE DATABASE ${q(plan.database)} OWNER ${q(plan.owner)} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
      options.say(`database ${plan.database}: created, owned by ${plan.owner}; the post-deploy step migrates it.`);
    } else {
      if (db.owner !== plan.owner) await client.query(`ALTER DATABASE ${q(plan.database)} OWNER TO ${q(plan.owner)}`);
      const tables = await tableCount(target, plan.database);
      options.say(`database ${plan.database}: kept from an earlier deployment of this stack (${tables ?? 'uncounted'} table(s)), data as it was.`);
    }
    await client.query(remark('DATABASE', plan.database));
  } finally {
    if (!member) await client.query(`REVOKE ${q(plan.owner)} FROM ${q(admin)}`);
  }
  const oid = (await databaseRow(client, plan.database))!.oid;
  return { database: plan.database, owner: plan.owner, oid, mark: plan.mark };
}

/**
 * What `pulumi destroy` checks before it deletes anything inside PostgreSQL: that the stack's roles
 * can be dropped. The provider drops a role after REASSIGN OWNED and DROP OWNED in the stack's
 * database only (resource_postgresql_role.go, Delete, in its provider's database), so anything a
 * role owns or holds in another database (granted there by hand, say) would stop the destroy half
 * way, with some roles gone and others not. Refused here, naming each database and what to run.
 */
export async function checkRolesDroppable(target: DatabaseTarget, plan: Pick<DatabasePlan, 'database' | 'roles'>, say: (line: string) => void): Promise<void> {
  const client = await connect(maintenance(target, plan), 'db:prepare');
  const q = (name: string) => client.escapeIdentifier(name);
  try {
    await client.query(statementTimeout);
    const { rows } = await client.query<{ role: string; database: string; n: number }>(
      `SELECT r.rolname AS role, d.datname AS database, count(*)::int AS n
         FROM pg_shdepend s JOIN pg_roles r ON r.oid = s.refobjid JOIN pg_database d ON d.oid = s.dbid
        WHERE s.refclassid = 'pg_authid'::regclass AND r.rolname = ANY($1) AND d.datname <> $2
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [plan.roles, plan.database],
    );
    if (rows.length > 0) {
      const lines = rows.map(
        (r) =>
          `role ${r.role} owns or holds privileges on ${r.n} object(s) in database ${r.database}, which this stack does not manage; ` +
          `as the server's administrator, in ${r.database}: REASSIGN OWNED BY ${q(r.role)} TO CURRENT_USER; DROP OWNED BY ${q(r.role)};`,
      );
      throw new UserFacingError(`the stack's roles cannot be dropped, so \`pulumi destroy\` stops before it deletes anything inside PostgreSQL:\n${lines.map((l) => `  - ${l}`).join('\n')}\nthen run \`pulumi destroy\` again.`);
    }
  } finally {
    await client.end();
  }
  say(`roles ${plan.roles.join(', ')}: nothing of theirs outside database ${plan.database}; they can be dropped.`);
}

/**
 * What `pulumi destroy` does to them: nothing but stop the owner from logging in, so that the kept
 * data cannot be reached with the old stack's credentials. The next `pulumi up` lets it in again.
 */
export async function releaseDatabase(
  target: DatabaseTarget,
  plan: Pick<DatabasePlan, 'database' | 'owner' | 'mark'>,
  say: (line: string) => void,
  /** The Docker volume that holds the server's data, on the stack's own container. */
  volume?: string,
): Promise<void> {
  const client = await connect(maintenance(target, plan), 'db:prepare');
  const q = (name: string) => client.escapeIdentifier(name);
  try {
    await client.query(statementTimeout);
    const role = await roleRow(client, plan.owner);
    if (role && role.comment === plan.mark) await client.query(`ALTER ROLE ${q(plan.owner)} WITH NOLOGIN`);
  } finally {
    await client.end();
  }
  const forGood = volume
    ? `to delete them for good, remove the volume that holds them once the destroy is done: docker volume rm ${volume}`
    : `to delete them for good, as the server's administrator: DROP DATABASE ${q(plan.database)}; DROP ROLE ${q(plan.owner)};`;
  say(`kept: database ${plan.database} and its owner ${plan.owner}, which can no longer log in. \`pulumi up\` of this stack takes them back; ${forGood}`);
}
