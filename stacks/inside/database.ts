import * as command from '@pulumi/command';
import * as postgresql from '@pulumi/postgresql';
import * as pulumi from '@pulumi/pulumi';
import { type Prepared, previousPrepared } from '../../common/step-output';
import type { StackConfig } from '../config';
import type { PostgresNames, RoleKey } from '../../common/stack-names';
import { scramLogin } from '../secrets';
import { prepareStep, shellWords, STEP_INTERPRETER } from './prepare-step';
import { APP_SCHEMA, GRANTED_ROLES, PROVIDER_ROLES, READ_ALL_DATA_ROLE, SEQUENCE_PRIVILEGES, TABLE_PRIVILEGES } from '../../common/privileges';

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
  /** The Docker volume holding the server's data, where the stack runs it: what to remove to delete the data for good. */
  volume?: string;
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
  /** The database's and roles' names on this server (names.ts). */
  names: PostgresNames;
  /** The stack's mark on the data it keeps (names.ts, stackMark). */
  mark: string;
  /** Protect the database's step, so that `pulumi destroy` refuses to run; the data is kept either way. */
  protect: boolean;
}

// Shared with `db:verify`, which checks that the live database still holds them (lib/postgres/grants.ts).
export { APP_SCHEMA, PROVIDER_ROLES, READ_ALL_DATA_ROLE, SEQUENCE_PRIVILEGES, TABLE_PRIVILEGES } from '../../common/privileges';

type Login = ReturnType<typeof scramLogin>;

/** The admin's URL to the server's `postgres` database, for the prepare step (a secret: it holds the password). */
function adminUrl(admin: PostgresAdmin): pulumi.Output<string> {
  const query = `sslmode=${admin.sslMode}${admin.sslRootCert ? `&sslrootcert=${admin.sslRootCert}` : ''}`;
  return pulumi.secret(
    pulumi.interpolate`postgresql://${pulumi.output(admin.username).apply(encodeURIComponent)}:${pulumi.output(admin.password).apply(encodeURIComponent)}@${admin.host}:${admin.port}/postgres?${query}`,
  );
}

/**
 * Inside PostgreSQL.
 *
 * The data and its owner outlive the stack: the database and the migrator role, which owns it and
 * every table its migrations create, are made (or taken back, after a destroy) by the prepare step,
 * `npm run db:prepare` (lib/postgres/prepare.ts says why not @pulumi/postgresql), and `pulumi destroy`
 * only stops the migrator from logging in.
 *
 * The rest is @pulumi/postgresql's, created and deleted with the stack: the app role (reads and
 * writes data), the read-only role, the backup role (pg_read_all_data), their CONNECT, USAGE on the
 * schema, their privileges on the tables and sequences there are, and default privileges of the
 * migrator for those later migrations create. Their provider works in the stack's database, not in
 * `postgres`: deleting a role runs REASSIGN OWNED and DROP OWNED in the provider's database before
 * DROP ROLE (cyrilgdn/terraform-provider-postgresql resource_postgresql_role.go, Delete), and the
 * privileges a role holds are all in the stack's database, so only there can it be dropped.
 *
 * They run one after another (each depends on the one before), on create and, reversed, on delete:
 * two grants on one schema at once fail with "tuple concurrently updated", as the provider locks
 * per role, not per schema (resource_postgresql_grant.go; cyrilgdn/terraform-provider-postgresql#178),
 * and an admin that is no superuser is made a member of the owner and back by each of them.
 *
 * Roles get their SCRAM secret as password: PostgreSQL stores a secret already in SCRAM form as it
 * is, so the plain password never reaches the server, and PgBouncer can hold the same secret.
 */
export class Database extends pulumi.ComponentResource {
  readonly prepare: command.local.Command;
  readonly provider: postgresql.Provider;
  readonly logins: Record<RoleKey, Login>;
  /**
   * The database's identity as the prepare step found or made it (its OID): a new one is a new
   * database, which the post-deploy step must migrate and seed again.
   */
  readonly identity: pulumi.Output<string>;
  /** Everything the post-deploy step needs to exist before it migrates as the migrator. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Database', name, {}, opts);
    const { admin, names } = args;
    this.logins = {
      migrator: scramLogin('postgres-migrator', this),
      app: scramLogin('postgres-app', this),
      readonly: scramLogin('postgres-readonly', this),
      backup: scramLogin('postgres-backup', this),
    };

    const prepare = ['npm', 'run', '--silent', 'db:prepare', '--', '--database', names.database, '--owner', names.roles.migrator, '--mark', args.mark];
    const others = ['--roles', PROVIDER_ROLES.map((key) => names.roles[key]).join(',')];
    // A first deployment also checks that no role of the stack is left from an unfinished destroy.
    this.prepare = prepareStep(this, {
      command: prepare,
      everyRun: others,
      firstRun: ['--fresh'],
      volume: admin.volume,
      environment: { DATABASE_URL: adminUrl(admin), OWNER_PASSWORD: this.logins.migrator.scramSecret },
      dependsOn: admin.dependsOn,
      protect: args.protect,
    });
    this.identity = this.prepare.stdout.apply((out) => String(previousPrepared<Prepared>(out)?.oid ?? ''));

    this.provider = new postgresql.Provider(
      'postgresql',
      {
        host: admin.host,
        port: admin.port,
        username: admin.username,
        password: admin.password,
        database: names.database,
        sslmode: admin.sslMode,
        sslrootcert: admin.sslRootCert,
        superuser: admin.superuser,
        connectTimeout: 15,
      },
      { parent: this, dependsOn: [this.prepare] },
    );

    const inside: pulumi.Resource[] = [];
    /** The options of the next resource inside the server: after the one before it. */
    const next = (): pulumi.CustomResourceOptions => ({ parent: this, provider: this.provider, dependsOn: inside.slice(-1) });
    const roles = {} as Record<(typeof PROVIDER_ROLES)[number], postgresql.Role>;
    for (const key of PROVIDER_ROLES) {
      roles[key] = new postgresql.Role(
        `role-${key}`,
        {
          name: names.roles[key],
          login: true,
          password: this.logins[key].scramSecret,
          superuser: false,
          createDatabase: false,
          createRole: false,
          replication: false,
          bypassRowLevelSecurity: false,
          // Declared on the role itself: its Update revokes every membership and grants these again
          // (resource_postgresql_role.go, Update: revokeRoles, grantRoles).
          ...(key === 'backup' ? { roles: [READ_ALL_DATA_ROLE] } : {}),
        },
        next(),
      );
      inside.push(roles[key]);
    }
    const database = names.database;
    const owner = names.roles.migrator;
    for (const key of GRANTED_ROLES) {
      const role = roles[key].name;
      const grant = (id: string, grantArgs: Omit<postgresql.GrantArgs, 'database' | 'role'>) =>
        inside.push(new postgresql.Grant(`${key}-${id}`, { database, role, ...grantArgs }, next()));
      grant('connect', { objectType: 'database', privileges: ['CONNECT'] });
      grant('schema-usage', { schema: APP_SCHEMA, objectType: 'schema', privileges: ['USAGE'] });
      // The tables and sequences there already are: those of a database kept by an earlier destroy.
      grant('existing-tables', { schema: APP_SCHEMA, objectType: 'table', privileges: [...TABLE_PRIVILEGES[key]] });
      grant('existing-sequences', { schema: APP_SCHEMA, objectType: 'sequence', privileges: [...SEQUENCE_PRIVILEGES[key]] });
      for (const [objectType, privileges] of [['table', TABLE_PRIVILEGES[key]], ['sequence', SEQUENCE_PRIVILEGES[key]]] as const) {
        inside.push(
          new postgresql.DefaultPrivileges(
            `${key}-${objectType}s`,
            { database, role, owner, schema: APP_SCHEMA, objectType, privileges: [...privileges] },
            next(),
          ),
        );
      }
    }
    // The backup role connects and reads; no default privileges, no schema grants: pg_read_all_data covers them.
    inside.push(new postgresql.Grant('backup-connect', { database, role: roles.backup.name, objectType: 'database', privileges: ['CONNECT'] }, next()));
    // After everything above, so `pulumi destroy` deletes it first: it runs nothing on `up`, and on
    // destroy checks that every role can be dropped before any of them is touched.
    new command.local.Command(
      'destroy-check',
      { delete: shellWords([...prepare, ...others, '--before-destroy']), interpreter: STEP_INTERPRETER, environment: { DATABASE_URL: adminUrl(admin) }, logging: 'stdoutAndStderr' },
      { parent: this, dependsOn: inside.slice(-1) },
    );
    this.ready = [this.prepare, ...inside];
    this.registerOutputs({ database });
  }
}
