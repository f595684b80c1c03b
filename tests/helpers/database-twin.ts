import { Client } from 'pg';
import { plain } from './pulumi-mocks';
import type { ProgramRun } from './program';

/**
 * What the program declares inside PostgreSQL (@pulumi/postgresql roles, database, grants, default
 * privileges), applied to a real server as the statements the provider issues for those inputs
 * (terraform-provider-postgresql: CREATE ROLE ... PASSWORD, CREATE DATABASE ... OWNER, GRANT,
 * GRANT <role> TO <role>, ALTER DEFAULT PRIVILEGES FOR ROLE). Like the container twins, it translates only what a real
 * deployment would do with the declared values; an input it does not know fails the test, so the
 * program cannot declare something this twin silently leaves out.
 */

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

const KNOWN_INPUTS: Record<string, string[]> = {
  'postgresql:index/role:Role': ['name', 'login', 'password', 'superuser', 'createDatabase', 'createRole', 'replication', 'bypassRowLevelSecurity'],
  'postgresql:index/database:Database': ['name', 'owner', 'template', 'encoding', 'lcCollate', 'lcCtype'],
  'postgresql:index/grant:Grant': ['database', 'role', 'objectType', 'schema', 'privileges'],
  'postgresql:index/grantRole:GrantRole': ['role', 'grantRole', 'withAdminOption'],
  'postgresql:index/defaultPrivileges:DefaultPrivileges': ['database', 'role', 'owner', 'schema', 'objectType', 'privileges'],
};

const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);

/** Applies the run's PostgreSQL resources, in declaration order, with the superuser URL of a server's `postgres` database. */
export async function applyDeclaredDatabase(run: ProgramRun, superuserUrl: (database: string) => string): Promise<void> {
  const resources = run.declared.filter((d) => d.type.startsWith('postgresql:'));
  if (resources.length === 0) throw new Error('the program declares nothing inside PostgreSQL');
  const perDatabase: { database: string; sql: string }[] = [];
  for (const d of resources) {
    const known = KNOWN_INPUTS[d.type];
    if (!known) throw new Error(`the database twin does not know ${d.type} (${d.name})`);
    const i = plain(d.raw);
    const unknown = Object.keys(i).filter((k) => !known.includes(k));
    if (unknown.length > 0) throw new Error(`the database twin does not know ${d.type} input(s) ${unknown.join(', ')} (${d.name})`);
    switch (d.type) {
      case 'postgresql:index/role:Role':
        perDatabase.push({
          database: 'postgres',
          sql:
            `CREATE ROLE ${ident(i.name)} WITH ${flag(i.login, 'LOGIN')} ${flag(i.superuser, 'SUPERUSER')} ${flag(i.createDatabase, 'CREATEDB')} ` +
            `${flag(i.createRole, 'CREATEROLE')} ${flag(i.replication, 'REPLICATION')} ${flag(i.bypassRowLevelSecurity, 'BYPASSRLS')} ` +
            `ENCRYPTED PASSWORD ${literal(i.password)}`,
        });
        break;
      case 'postgresql:index/database:Database':
        perDatabase.push({
          database: 'postgres',
          sql:
            `CREATE DATABASE ${ident(i.name)} OWNER ${ident(i.owner)} TEMPLATE ${ident(i.template)} ENCODING ${literal(i.encoding)} ` +
            `LC_COLLATE ${literal(i.lcCollate)} LC_CTYPE ${literal(i.lcCtype)}`,
        });
        break;
      case 'postgresql:index/grant:Grant': {
        const on = i.objectType === 'database' ? `DATABASE ${ident(i.database)}` : i.objectType === 'schema' ? `SCHEMA ${ident(i.schema)}` : undefined;
        if (!on) throw new Error(`the database twin does not know grants on ${i.objectType}`);
        perDatabase.push({ database: i.database, sql: `GRANT ${i.privileges.join(', ')} ON ${on} TO ${ident(i.role)}` });
        break;
      }
      case 'postgresql:index/grantRole:GrantRole':
        // Membership is the cluster's, not a database's.
        perDatabase.push({
          database: 'postgres',
          sql: `GRANT ${ident(i.grantRole)} TO ${ident(i.role)}${i.withAdminOption ? ' WITH ADMIN OPTION' : ''}`,
        });
        break;
      case 'postgresql:index/defaultPrivileges:DefaultPrivileges':
        perDatabase.push({
          database: i.database,
          sql:
            `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(i.owner)} IN SCHEMA ${ident(i.schema)} ` +
            `GRANT ${i.privileges.join(', ')} ON ${String(i.objectType).toUpperCase()}S TO ${ident(i.role)}`,
        });
        break;
    }
  }
  for (const { database, sql } of perDatabase) {
    const client = new Client({ connectionString: superuserUrl(database) });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}
