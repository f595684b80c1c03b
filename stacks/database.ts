import * as postgresql from '@pulumi/postgresql';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from './config';
import { scramLogin } from './secrets';
import { DATABASE_NAME, ROLES } from './services';

/** How the program reaches PostgreSQL as its administrator: the container's superuser, or an existing server's admin. */
export interface PostgresAdmin {
  host: pulumi.Input<string>;
  port: pulumi.Input<number>;
  username: pulumi.Input<string>;
  password: pulumi.Input<string>;
  /** libpq sslmode: `disable` for the container on loopback; `verify-full` (or `require`) for a server elsewhere. */
  sslMode: string;
  /** CA certificate file for verify-ca and verify-full; undefined: the system's CAs. */
  sslRootCert?: string;
  /** A managed service's admin is no superuser; the provider then avoids what only a superuser may do. */
  superuser: boolean;
  /** Resources the provider must wait for (the container, until it is healthy). */
  dependsOn: pulumi.Resource[];
}

/** An existing server's admin, from the stack's config: TLS always, no superuser unless the config says so. */
export function externalPostgresAdmin(config: StackConfig): PostgresAdmin {
  return {
    host: config.externalPostgresHost,
    port: config.externalPostgresPort,
    username: config.externalPostgresAdminUser,
    password: config.externalPostgresAdminPassword,
    sslMode: config.externalPostgresSslMode,
    sslRootCert: config.externalPostgresSslRootCert || undefined,
    superuser: config.externalPostgresSuperuser,
    dependsOn: [],
  };
}

export interface DatabaseArgs {
  admin: PostgresAdmin;
  /** Protect the database, so that `pulumi destroy` refuses to run; it is never dropped either way. */
  protect: boolean;
}

/** What each role may do with tables and sequences that the migrator creates, now and in later migrations. */
export const TABLE_PRIVILEGES = {
  app: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  readonly: ['SELECT'],
} as const;
export const SEQUENCE_PRIVILEGES = {
  app: ['USAGE', 'SELECT'],
  readonly: ['SELECT'],
} as const;

/** The schema migrations create their tables in. */
export const APP_SCHEMA = 'public';

/**
 * PostgreSQL's predefined role (14 and later) that may read every table, view and sequence, in every
 * schema, present and future, as if granted SELECT and USAGE; it may write nothing. What pg_dump
 * needs, and no more: the backup role is a member instead of collecting grants (drizzle's own schema
 * included) that a later migration could outgrow.
 */
export const READ_ALL_DATA_ROLE = 'pg_read_all_data';

type Login = ReturnType<typeof scramLogin>;

/**
 * Inside PostgreSQL: the database, owned by the migrator role (which therefore owns its schema and
 * may create the trusted extensions the first migration needs), an app role that reads and writes
 * data, a read-only role, and the backup role, which reads everything (pg_read_all_data). Grants on
 * tables are default privileges of the migrator, so a table a later migration creates is granted as
 * it is created, without another deployment.
 *
 * Roles get their SCRAM secret as password: PostgreSQL stores a secret already in SCRAM form as it
 * is, so the plain password never reaches the server, and PgBouncer can hold the same secret.
 */
export class Database extends pulumi.ComponentResource {
  readonly provider: postgresql.Provider;
  readonly database: postgresql.Database;
  readonly logins: Record<keyof typeof ROLES, Login>;
  /** Everything the post-deploy step needs to exist before it migrates as the migrator. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Database', name, {}, opts);
    const { admin } = args;
    this.provider = new postgresql.Provider(
      'postgresql',
      {
        host: admin.host,
        port: admin.port,
        username: admin.username,
        password: admin.password,
        database: 'postgres',
        sslmode: admin.sslMode,
        sslrootcert: admin.sslRootCert,
        superuser: admin.superuser,
        connectTimeout: 15,
      },
      { parent: this, dependsOn: admin.dependsOn },
    );
    const inside = { parent: this, provider: this.provider };

    this.logins = {
      migrator: scramLogin('postgres-migrator', this),
      app: scramLogin('postgres-app', this),
      readonly: scramLogin('postgres-readonly', this),
      backup: scramLogin('postgres-backup', this),
    };
    const roles = Object.fromEntries(
      (Object.keys(ROLES) as (keyof typeof ROLES)[]).map((key) => [
        key,
        new postgresql.Role(
          `role-${key}`,
          {
            name: ROLES[key],
            login: true,
            password: this.logins[key].scramSecret,
            superuser: false,
            createDatabase: false,
            createRole: false,
            replication: false,
            bypassRowLevelSecurity: false,
          },
          // The backup role's membership is the GrantRole below; the role must not revoke it on its next update.
          key === 'backup' ? { ...inside, ignoreChanges: ['roles'] } : inside,
        ),
      ]),
    ) as Record<keyof typeof ROLES, postgresql.Role>;

    // Never dropped with the stack: `pulumi destroy` leaves the data where it is.
    this.database = new postgresql.Database(
      'database',
      { name: DATABASE_NAME, owner: roles.migrator.name, template: 'template0', encoding: 'UTF8', lcCollate: 'C', lcCtype: 'C' },
      { ...inside, protect: args.protect, retainOnDelete: true },
    );

    const grants: pulumi.Resource[] = [];
    for (const key of ['app', 'readonly'] as const) {
      const role = roles[key].name;
      const database = this.database.name;
      grants.push(
        new postgresql.Grant(`${key}-connect`, { database, role, objectType: 'database', privileges: ['CONNECT'] }, inside),
        new postgresql.Grant(`${key}-schema-usage`, { database, role, schema: APP_SCHEMA, objectType: 'schema', privileges: ['USAGE'] }, inside),
        new postgresql.DefaultPrivileges(
          `${key}-tables`,
          { database, role, owner: roles.migrator.name, schema: APP_SCHEMA, objectType: 'table', privileges: [...TABLE_PRIVILEGES[key]] },
          inside,
        ),
        new postgresql.DefaultPrivileges(
          `${key}-sequences`,
          { database, role, owner: roles.migrator.name, schema: APP_SCHEMA, objectType: 'sequence', privileges: [...SEQUENCE_PRIVILEGES[key]] },
          inside,
        ),
      );
    }
    // The backup role connects and reads; no default privileges, no schema grants: pg_read_all_data covers them.
    grants.push(
      new postgresql.Grant('backup-connect', { database: this.database.name, role: roles.backup.name, objectType: 'database', privileges: ['CONNECT'] }, inside),
      new postgresql.GrantRole('backup-read-all-data', { role: roles.backup.name, grantRole: READ_ALL_DATA_ROLE }, inside),
    );
    this.ready = [this.database, ...Object.values(roles), ...grants];
    this.registerOutputs({ database: this.database.name });
  }
}
