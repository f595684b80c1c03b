import { Client } from 'pg';
import { ROOT } from '../common/paths';
import { applyDeclaredDatabase, grantOn, prepareStep, runDeclaredCommand } from './helpers/database-twin';
import { runProcess, withClient } from './helpers/db';
import { startPostgres, type PostgresServer } from './helpers/postgres';
import { byType, one, runProgram, type ProgramRun } from './helpers/program';
import { type Declared, plain } from './helpers/pulumi-mocks';

/**
 * What @pulumi/postgresql does beyond create, replayed on a real PostgreSQL 15 against what the dev
 * stack declares: `pulumi destroy` after a migrated and seeded database, `pulumi up` after that, and
 * two grants on one schema at once. Each replay issues the statements of the provider's own code at
 * the version @pulumi/postgresql 3.18.1 builds (cyrilgdn/terraform-provider-postgresql ff936b9),
 * in the database that code connects to; the engine deletes in reverse dependency order
 * (pulumi/pulumi v3.248.0 pkg/resource/deploy/step_generator.go, ScheduleDeletes), which for the
 * program's one chain is the reverse of declaration.
 */

jest.setTimeout(180_000);
const PG = 'postgresql:index';

let server: PostgresServer;
let dev: ProgramRun;
beforeAll(async () => {
  [server, dev] = await Promise.all([startPostgres(), runProgram('dev')]);
});
afterAll(async () => server?.stop());

const inDatabase = <T>(database: string, work: (c: Client) => Promise<T>) => withClient(server.url(database), work);

/** helpers.go pgLockRole: the advisory locks every role-scoped operation takes first, inside its transaction. */
async function pgLockRole(c: Client, role: string): Promise<void> {
  await c.query('SET statement_timeout = 0');
  await c.query('SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_roles WHERE rolname = $1', [role]);
  await c.query('SELECT pg_advisory_xact_lock(member::bigint) FROM pg_auth_members JOIN pg_roles ON roleid = pg_roles.oid WHERE rolname = $1', [role]);
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The provider's Delete of one declared resource, as its source issues it; `providerDatabase` is where the provider connects. */
async function replayDelete(d: Declared, providerDatabase: string): Promise<void> {
  const i = plain(d.raw);
  const inTransaction = (database: string, lockRole: string, statements: string[]) =>
    inDatabase(database, async (c) => {
      await c.query('BEGIN');
      try {
        await pgLockRole(c, lockRole);
        for (const sql of statements) await c.query(sql);
        await c.query('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK');
        throw error;
      }
    });
  switch (d.type) {
    case `${PG}/defaultPrivileges:DefaultPrivileges`:
      // resource_postgresql_default_privileges.go, Delete: the defaults revoked; existing tables keep what they got.
      return inTransaction(i.database, i.owner, [
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${q(i.owner)} IN SCHEMA ${q(i.schema)} REVOKE ALL ON ${String(i.objectType).toUpperCase()}S FROM ${q(i.role)}`,
      ]);
    case `${PG}/grant:Grant`: {
      // resource_postgresql_grant.go, Delete with createRevokeQuery, in the grant's database.
      return inTransaction(i.database, i.role, [`REVOKE ALL PRIVILEGES ON ${grantOn(i)} FROM ${q(i.role)}`]);
    }
    case `${PG}/role:Role`:
      // resource_postgresql_role.go, Delete: in the provider's database, REASSIGN OWNED and DROP OWNED (that
      // database's objects and privileges, and shared ones), then DROP ROLE, all in one transaction.
      return inTransaction(providerDatabase, i.name, [`REASSIGN OWNED BY ${q(i.name)} TO ${q('postgres')}`, `DROP OWNED BY ${q(i.name)}`, `DROP ROLE ${q(i.name)}`]);
    default:
      throw new Error(`no replay of ${d.type}'s Delete`);
  }
}

/**
 * `pulumi destroy` of what the run declares inside PostgreSQL: the destroy check (declared after all
 * of it, so deleted first), the provider's deletes in reverse order, then the prepare step's delete.
 */
async function replayDestroy(run: ProgramRun, providerDatabase = plain(one(run, 'pulumi:providers:postgresql', 'postgresql').raw).database as string): Promise<void> {
  const checked = await runDeclaredCommand(one(run, 'command:local:Command', 'destroy-check'), 'delete', { DATABASE_URL: server.url('postgres') });
  if (checked.code !== 0) throw new Error(checked.stderr);
  for (const d of run.declared.filter((r) => r.type.startsWith(`${PG}/`)).reverse()) await replayDelete(d, providerDatabase);
  const released = await runDeclaredCommand(prepareStep(run, 'Database'), 'delete', { DATABASE_URL: server.url('postgres') });
  if (released.code !== 0) throw new Error(released.stderr);
  expect(released.stdout).toMatch(/^kept: database pronunciation_assistant and its owner pa_migrator, which can no longer log in\..*docker volume rm pronunciation-assistant-dev-postgres-data/);
}

/** The post-deploy step's declared command, run as the provider runs it (the project folder), on this server; its output. */
async function postDeploy(run: ProgramRun): Promise<string> {
  const step = plain(one(run, 'command:local:Command', 'migrate-and-seed').raw);
  const url = new URL(step.environment.DATABASE_URL);
  url.host = `${server.host}:${server.port}`;
  const [shell, ...args] = step.interpreter;
  const result = await runProcess(shell, [...args, step.create], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url.toString() } });
  if (result.code !== 0) throw new Error(result.stderr);
  return result.stdout;
}

const appUrl = (run: ProgramRun) => {
  const url = new URL(run.outputs.directDatabaseUrl.value as string);
  url.host = `${server.host}:${server.port}`;
  return url.toString();
};

/**
 * What the provider's Read sets back into state for the inputs the program declares, against a real
 * server: resource_postgresql_role.go (resourcePostgreSQLRoleReadImpl: attributes, memberships, the
 * password from pg_shadow for a superuser admin), resource_postgresql_grant.go (readRolePrivileges:
 * per object, the privileges the role holds, a change wherever one object differs) and
 * resource_postgresql_default_privileges.go (readRoleDefaultPrivileges).
 */
async function replayRead(d: Declared): Promise<Record<string, unknown>> {
  const i = plain(d.raw);
  switch (d.type) {
    case `${PG}/role:Role`:
      return inDatabase('postgres', async (c) => {
        const { rows } = await c.query(
          `SELECT rolname AS name, rolcanlogin AS login, rolsuper AS superuser, rolcreatedb AS "createDatabase", rolcreaterole AS "createRole",
                  rolreplication AS replication, rolbypassrls AS "bypassRowLevelSecurity", (SELECT passwd FROM pg_shadow WHERE usename = rolname) AS password,
                  ARRAY(SELECT pg_get_userbyid(roleid)::text FROM pg_auth_members WHERE member = pg_roles.oid) AS roles
             FROM pg_roles WHERE rolname = $1`,
          [i.name],
        );
        const { roles, ...rest } = rows[0];
        return (roles as string[]).length > 0 || i.roles ? { ...rest, roles } : rest;
      });
    case `${PG}/grant:Grant`: {
      const aclOf = i.objectType === 'database' ? "SELECT datacl AS acl, datname AS name FROM pg_database WHERE datname = $2"
        : i.objectType === 'schema' ? "SELECT nspacl AS acl, nspname AS name FROM pg_namespace WHERE nspname = $2"
          : `SELECT relacl AS acl, relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = $2 AND relkind = '${i.objectType === 'table' ? 'r' : 'S'}'`;
      return inDatabase(i.database, async (c) => {
        const { rows } = await c.query<{ name: string; privileges: string[] }>(
          `SELECT name, ARRAY(SELECT privilege_type::text FROM aclexplode(acl) WHERE grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY 1) AS privileges FROM (${aclOf}) o`,
          [i.role, i.objectType === 'database' ? i.database : i.schema],
        );
        // The first object whose privileges differ sets them in state; none differing keeps the declared ones.
        const declared = [...i.privileges].sort();
        const differing = rows.find((r) => r.privileges.join() !== declared.join());
        return { privileges: differing ? differing.privileges : declared, objects: rows.length };
      });
    }
    case `${PG}/defaultPrivileges:DefaultPrivileges`:
      return inDatabase(i.database, async (c) => {
        const { rows } = await c.query<{ p: string[] | null }>(
          `SELECT array_agg(prtype::text ORDER BY prtype) AS p FROM (SELECT defaclnamespace, (aclexplode(defaclacl)).* FROM pg_default_acl WHERE defaclobjtype = $3)
             AS t (namespace, grantor_oid, grantee_oid, prtype, grantable) JOIN pg_namespace ON pg_namespace.oid = namespace
            WHERE grantee_oid = (SELECT oid FROM pg_roles WHERE rolname = $1) AND nspname = $2 AND pg_get_userbyid(grantor_oid) = $4`,
          [i.role, i.schema, i.objectType === 'table' ? 'r' : 'S', i.owner],
        );
        return { privileges: rows[0].p ?? [] };
      });
    default:
      throw new Error(`no replay of ${d.type}'s Read`);
  }
}

describe('the life of the dev stack inside PostgreSQL', () => {
  test('a refresh after the first `up`, migrated and seeded, reads back what is declared: the next `up` has nothing to change', async () => {
    await applyDeclaredDatabase(dev, (database) => server.url(database));
    await postDeploy(dev);
    const inside = dev.declared.filter((d) => d.type.startsWith(`${PG}/`));
    expect(inside.length).toBeGreaterThan(10);
    for (const d of inside) {
      const i = plain(d.raw);
      const read = await replayRead(d);
      if (d.type === `${PG}/role:Role`) {
        const { name, login, superuser, createDatabase, createRole, replication, bypassRowLevelSecurity, password, roles } = i;
        expect([d.name, read]).toEqual([d.name, { name, login, superuser, createDatabase, createRole, replication, bypassRowLevelSecurity, password, ...(roles ? { roles } : {}) }]);
      } else {
        expect([d.name, read.privileges]).toEqual([d.name, [...i.privileges].sort()]);
        // Tables and sequences: the migrations' own, every one of them granted (default privileges), so the check is not vacuous.
        if (d.type === `${PG}/grant:Grant` && i.objectType === 'table') expect(read.objects).toBeGreaterThan(10);
      }
    }
  });

  test('`pulumi destroy` after a migrated and seeded database: every role goes, the database and its data stay, the owner can no longer log in', async () => {
    const users = await inDatabase('pronunciation_assistant', async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM users')).rows[0].n);
    expect(users).toBeGreaterThan(0);

    await replayDestroy(dev);

    const roles = await inDatabase('postgres', async (c) => (await c.query<{ rolname: string; rolcanlogin: boolean }>("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'pa\\_%' ORDER BY 1")).rows);
    expect(roles).toEqual([{ rolname: 'pa_migrator', rolcanlogin: false }]);
    const kept = await inDatabase('pronunciation_assistant', async (c) => ({
      users: (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM users')).rows[0].n,
      owners: (await c.query<{ o: string }>("SELECT DISTINCT tableowner AS o FROM pg_tables WHERE schemaname IN ('public', 'drizzle')")).rows.map((r) => r.o),
      defaults: (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_default_acl')).rows[0].n,
    }));
    expect(kept).toEqual({ users, owners: ['pa_migrator'], defaults: 0 });
  });

  test('`pulumi up` after that destroy: the kept database is taken back, the roles come again and reach the kept rows, there is nothing to migrate', async () => {
    // A later deployment generates new passwords: run the program again.
    const next = await runProgram('dev');
    const prepared = await applyDeclaredDatabase(next, (database) => server.url(database));
    expect(prepared.stdout).toContain('database pronunciation_assistant: kept from an earlier deployment of this stack');
    // The kept database is up to date: the runner finds nothing to apply.
    expect(await postDeploy(next)).toMatch(/pronunciation_assistant is up to date \(\d+ migrations applied\)\./);
    await withClient(appUrl(next), async (c) => {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      expect(rows[0].n).toBeGreaterThan(0);
      // Tables from before the destroy: reached through the grants on the tables there already are.
      await c.query("INSERT INTO system_settings (key, value, description) VALUES ('kept-check', '1', 'written after up') ON CONFLICT DO NOTHING");
    });
    // And a second destroy goes as cleanly as the first.
    await replayDestroy(next);
  });

  test('a role that holds something in another database stops `pulumi destroy` before anything inside PostgreSQL is deleted, naming it and what to run', async () => {
    const run = await runProgram('dev');
    await applyDeclaredDatabase(run, (database) => server.url(database));
    await inDatabase('postgres', (c) => c.query('CREATE DATABASE reporting'));
    await inDatabase('reporting', (c) => c.query('CREATE TABLE report (x int); GRANT SELECT ON report TO pa_readonly'));
    await expect(replayDestroy(run)).rejects.toThrow(
      /the stack's roles cannot be dropped, so `pulumi destroy` stops before it deletes anything inside PostgreSQL:\n {2}- role pa_readonly owns or holds privileges on 1 object\(s\) in database reporting, which this stack does not manage; as the server's administrator, in reporting: REASSIGN OWNED BY "pa_readonly" TO CURRENT_USER; DROP OWNED BY "pa_readonly";/,
    );
    const roles = await inDatabase('postgres', async (c) => (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_roles WHERE rolname IN ('pa_app', 'pa_readonly', 'pa_backup')")).rows[0].n);
    expect(roles).toBe(3);
    // Done as it says, the destroy goes through.
    await inDatabase('reporting', (c) => c.query('REASSIGN OWNED BY pa_readonly TO CURRENT_USER; DROP OWNED BY pa_readonly'));
    await replayDestroy(run);
    await inDatabase('postgres', (c) => c.query('DROP DATABASE reporting'));
  });

  test('the replay sees the defect it guards against: with the provider in `postgres` and no revoke on existing tables (the earlier program), DROP ROLE fails', async () => {
    const earlier = await runProgram('dev');
    await applyDeclaredDatabase(earlier, (database) => server.url(database));
    await postDeploy(earlier);
    const declared = earlier.declared.filter((d) => !(d.type === `${PG}/grant:Grant` && ['table', 'sequence'].includes(plain(d.raw).objectType)));
    await expect(replayDestroy({ ...earlier, declared }, 'postgres')).rejects.toThrow(/role "pa_[a-z]+" cannot be dropped because some objects depend on it/);
  });
});

describe('two grants on one schema at once', () => {
  /** resource_postgresql_grant.go, Create and Delete for a schema: pgLockRole(role), then REVOKE ALL (and GRANT), in one transaction. */
  const statements = (role: string, create: boolean) => [
    `REVOKE ALL PRIVILEGES ON SCHEMA public FROM ${q(role)}`,
    ...(create ? [`GRANT USAGE ON SCHEMA public TO ${q(role)}`] : []),
  ];

  test.each([
    ['create', true],
    ['delete', false],
  ])('%s: fail with "tuple concurrently updated" when the engine runs them together, as the provider locks per role, not per schema', async (_, create) => {
    const database = `concurrent_grants_${create ? 'create' : 'delete'}`;
    await inDatabase('postgres', (c) => c.query(`CREATE DATABASE ${database}`));
    await inDatabase('postgres', (c) => c.query('CREATE ROLE grant_a; CREATE ROLE grant_b').catch(() => undefined));
    const [a, b] = [new Client({ connectionString: server.url(database) }), new Client({ connectionString: server.url(database) })];
    await Promise.all([a.connect(), b.connect()]);
    try {
      if (!create) await a.query('GRANT USAGE ON SCHEMA public TO grant_a, grant_b');
      // The interleaving the engine allows two resources with no dependency between them: both transactions open at once.
      await a.query('BEGIN');
      await pgLockRole(a, 'grant_a');
      for (const sql of statements('grant_a', create)) await a.query(sql);
      await b.query('BEGIN');
      await pgLockRole(b, 'grant_b'); // another role: no lock in common
      const second = (async () => {
        for (const sql of statements('grant_b', create)) await b.query(sql);
      })();
      second.catch(() => undefined);
      // b now waits for a's change of the schema's catalog row, and fails once it is committed.
      await new Promise((r) => setTimeout(r, 300));
      await a.query('COMMIT');
      await expect(second).rejects.toThrow('tuple concurrently updated');
      await b.query('ROLLBACK');
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  test("so the program orders them: the read-only role's schema grant comes after the app's, on create, and so before it on delete", () => {
    const schemaGrants = byType(dev, `${PG}/grant:Grant`).filter((d) => plain(d.raw).objectType === 'schema');
    expect(schemaGrants.map((d) => d.name)).toEqual(['app-schema-usage', 'readonly-schema-usage']);
    const byUrn = new Map(dev.declared.map((d) => [d.urn, d]));
    const after = (d: Declared, other: Declared): boolean => d.dependencies.some((u) => u === other.urn || after(byUrn.get(u)!, other));
    expect(after(schemaGrants[1], schemaGrants[0])).toBe(true);
  });
});
