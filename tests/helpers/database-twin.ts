import { Client } from 'pg';
import { ROOT } from '../../common/paths';
import { runProcess, type CommandResult } from './db';
import { type Declared, plain } from './pulumi-mocks';
import type { ProgramRun } from './program';

/**
 * What the program declares inside PostgreSQL, applied to a real server:
 * - the Database component's prepare step, its declared `create` command run for real (it is the
 *   project's own `npm run db:prepare`), with only DATABASE_URL moved to the test server's admin;
 * - then its @pulumi/postgresql resources, in declaration order (the order their dependencies
 *   chain them in), as the statements the provider issues for those inputs
 *   (cyrilgdn/terraform-provider-postgresql: CREATE ROLE ... PASSWORD and GRANT <role> TO, GRANT
 *   ON DATABASE / SCHEMA / ALL TABLES IN SCHEMA / ALL SEQUENCES IN SCHEMA, ALTER DEFAULT PRIVILEGES
 *   FOR ROLE), in the provider's database.
 * Like the container twins, it translates only what a real deployment would do with the declared
 * values; an input it does not know fails the test, so the program cannot declare something this
 * twin silently leaves out.
 */

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

const KNOWN_INPUTS: Record<string, string[]> = {
  'postgresql:index/role:Role': ['name', 'login', 'password', 'superuser', 'createDatabase', 'createRole', 'replication', 'bypassRowLevelSecurity', 'roles'],
  'postgresql:index/grant:Grant': ['database', 'role', 'objectType', 'schema', 'privileges'],
  'postgresql:index/defaultPrivileges:DefaultPrivileges': ['database', 'role', 'owner', 'schema', 'objectType', 'privileges'],
};

const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);

/**
 * What a Grant's inputs name, as the provider writes it in GRANT and REVOKE (resource_postgresql_grant.go,
 * createGrantQuery and createRevokeQuery; no objects: every table or sequence in the schema).
 */
export function grantOn(i: { objectType: string; database: string; schema?: string }): string {
  const on = (<Record<string, () => string>>{
    database: () => `DATABASE ${ident(i.database)}`,
    schema: () => `SCHEMA ${ident(i.schema!)}`,
    table: () => `ALL TABLES IN SCHEMA ${ident(i.schema!)}`,
    sequence: () => `ALL SEQUENCES IN SCHEMA ${ident(i.schema!)}`,
  })[i.objectType]?.();
  if (!on) throw new Error(`the database twin does not know grants on ${i.objectType}`);
  return on;
}

/** The prepare step of the Database or the Storage component. */
export function prepareStep(run: ProgramRun, component: 'Database' | 'Storage'): Declared {
  const found = run.declared.filter((d) => d.type === 'command:local:Command' && d.name === 'prepare' && d.parent.includes(`pronunciation:stack:${component}::`));
  if (found.length !== 1) throw new Error(`expected one prepare step of the ${component} component, found ${found.length}`);
  return found[0];
}

/** Runs one of a declared command's scripts as the provider would (its interpreter, the project folder), with `env` over its environment. */
export function runDeclaredCommand(step: Declared, script: 'create' | 'update' | 'delete', env: Record<string, string> = {}): Promise<CommandResult> {
  const c = plain(step.raw);
  const [shell, ...args] = c.interpreter as string[];
  return runProcess(shell, [...args, c[script]], { cwd: ROOT, env: { ...process.env, ...c.environment, ...env } });
}

/** The statements the provider issues for one resource's inputs. */
function statements(d: Declared): string[] {
  const i = plain(d.raw);
  switch (d.type) {
    case 'postgresql:index/role:Role':
      return [
        `CREATE ROLE ${ident(i.name)} WITH ${flag(i.login, 'LOGIN')} ${flag(i.superuser, 'SUPERUSER')} ${flag(i.createDatabase, 'CREATEDB')} ` +
          `${flag(i.createRole, 'CREATEROLE')} ${flag(i.replication, 'REPLICATION')} ${flag(i.bypassRowLevelSecurity, 'BYPASSRLS')} ` +
          `ENCRYPTED PASSWORD ${literal(i.password)}`,
        ...((i.roles ?? []) as string[]).map((r) => `GRANT ${ident(r)} TO ${ident(i.name)}`),
      ];
    case 'postgresql:index/grant:Grant':
      return [`GRANT ${i.privileges.join(', ')} ON ${grantOn(i)} TO ${ident(i.role)}`];
    case 'postgresql:index/defaultPrivileges:DefaultPrivileges':
      return [
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(i.owner)} IN SCHEMA ${ident(i.schema)} ` +
          `GRANT ${i.privileges.join(', ')} ON ${String(i.objectType).toUpperCase()}S TO ${ident(i.role)}`,
      ];
    default:
      throw new Error(`the database twin does not know ${d.type} (${d.name})`);
  }
}

/**
 * Applies the run's PostgreSQL side to a server: the prepare step, then the provider's resources.
 * `adminUrl(database)` is the server's superuser URL for a database. Returns the prepare step's run.
 */
export async function applyDeclaredDatabase(run: ProgramRun, adminUrl: (database: string) => string): Promise<CommandResult> {
  const prepared = await runDeclaredCommand(prepareStep(run, 'Database'), 'create', { DATABASE_URL: adminUrl('postgres') });
  if (prepared.code !== 0) throw new Error(`the prepare step failed: ${prepared.stderr}`);
  const resources = run.declared.filter((d) => d.type.startsWith('postgresql:'));
  if (resources.length === 0) throw new Error('the program declares nothing inside PostgreSQL');
  for (const d of resources) {
    const known = KNOWN_INPUTS[d.type];
    if (!known) throw new Error(`the database twin does not know ${d.type} (${d.name})`);
    const unknown = Object.keys(plain(d.raw)).filter((k) => !known.includes(k));
    if (unknown.length > 0) throw new Error(`the database twin does not know ${d.type} input(s) ${unknown.join(', ')} (${d.name})`);
  }
  const provider = plain(run.declared.find((d) => d.type === 'pulumi:providers:postgresql')!.raw);
  const client = new Client({ connectionString: adminUrl(provider.database) });
  await client.connect();
  try {
    for (const d of resources) for (const sql of statements(d)) await client.query(sql);
  } finally {
    await client.end();
  }
  return prepared;
}
