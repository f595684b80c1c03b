import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { APP_SCHEMA, GRANTED_ROLES, PROVIDER_ROLES, READ_ALL_DATA_ROLE, SEQUENCE_PRIVILEGES, TABLE_PRIVILEGES } from '../../common/privileges';
import { postgresNames, type RoleKey } from '../../common/stack-names';
import { withClient } from './db';

/**
 * A stack's four roles on a test server, named as an external stack of namespace `namespace` names
 * them (common/stack-names.ts), holding what stacks/inside/database.ts grants them (from
 * common/privileges.ts, the program's own constants; tests/inside-servers.test.ts checks the program
 * declares exactly these): the migrator owns the database; CONNECT for the other three; USAGE on
 * `public` and the table and sequence privileges (present, and by default for the migrator's later
 * tables) for the app and read-only roles; pg_read_all_data for the backup role.
 */
export interface StackRoles {
  roles: Record<RoleKey, string>;
  password: string;
  /** A URL of the same database as `role`. */
  urlAs(url: string, key: RoleKey): string;
  /** The grants on a database made after this (a copy from a template does not copy CONNECT). */
  grantDatabase(adminUrl: string): Promise<void>;
  /** USAGE on `public`, the privileges on its tables and sequences and the default privileges, in a database made after this (not from a template). */
  grantSchema(adminUrl: string): Promise<void>;
  /** Drops the roles and what they hold in `databases` (which must not be dropped yet). */
  drop(adminUrls: string[]): Promise<void>;
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function createStackRoles(adminUrl: string, namespace: string): Promise<StackRoles> {
  const { roles } = postgresNames(namespace);
  const password = randomBytes(12).toString('hex');
  const database = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
  const grantDatabase = (url: string) =>
    withClient(url, async (c) => {
      await c.query(`ALTER DATABASE ${q(database(url))} OWNER TO ${q(roles.migrator)}`);
      for (const key of PROVIDER_ROLES) await c.query(`GRANT CONNECT ON DATABASE ${q(database(url))} TO ${q(roles[key])}`);
    });
  await withClient(adminUrl, async (c) => {
    for (const key of ['migrator', ...PROVIDER_ROLES] as const) await c.query(`CREATE ROLE ${q(roles[key])} LOGIN PASSWORD '${password}'`);
    await c.query(`GRANT ${q(READ_ALL_DATA_ROLE)} TO ${q(roles.backup)}`);
  });
  const grantSchema = (url: string) => withClient(url, async (c) => {
    for (const key of GRANTED_ROLES) {
      const role = q(roles[key]);
      await c.query(`GRANT USAGE ON SCHEMA ${APP_SCHEMA} TO ${role}`);
      await c.query(`GRANT ${TABLE_PRIVILEGES[key].join(', ')} ON ALL TABLES IN SCHEMA ${APP_SCHEMA} TO ${role}`);
      await c.query(`GRANT ${SEQUENCE_PRIVILEGES[key].join(', ')} ON ALL SEQUENCES IN SCHEMA ${APP_SCHEMA} TO ${role}`);
      await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${q(roles.migrator)} IN SCHEMA ${APP_SCHEMA} GRANT ${TABLE_PRIVILEGES[key].join(', ')} ON TABLES TO ${role}`);
      await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${q(roles.migrator)} IN SCHEMA ${APP_SCHEMA} GRANT ${SEQUENCE_PRIVILEGES[key].join(', ')} ON SEQUENCES TO ${role}`);
    }
  });
  await grantDatabase(adminUrl);
  await grantSchema(adminUrl);
  const urlAs = (url: string, key: RoleKey) => {
    const u = new URL(url);
    u.username = roles[key];
    u.password = password;
    return u.toString();
  };
  const drop = async (adminUrls: string[]) => {
    for (const url of adminUrls) {
      await withClient(url, async (c) => {
        await c.query(`REASSIGN OWNED BY ${q(roles.migrator)} TO postgres`);
        await c.query(`DROP OWNED BY ${Object.values(roles).map(q).join(', ')}`);
      }).catch(() => undefined);
    }
    const c = new Client({ connectionString: adminUrls[0] });
    await c.connect();
    try {
      for (const role of Object.values(roles)) await c.query(`DROP ROLE IF EXISTS ${q(role)}`).catch(() => undefined);
    } finally {
      await c.end();
    }
  };
  return { roles, password, urlAs, grantDatabase, grantSchema, drop };
}
