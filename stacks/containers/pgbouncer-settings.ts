import { PGBOUNCER, POSTGRES } from '../services';
import { DATABASE_NAME } from '../../common/names';

export interface PgbouncerSettings {
  poolSize: number;
  maxClientConnections: number;
}

/** The settings a stack's configuration gives PgBouncer (its pgbouncerPoolSize and pgbouncerMaxClientConnections keys). */
export function pgbouncerSettingsOf(config: { pgbouncerPoolSize: number; pgbouncerMaxClientConnections: number }): PgbouncerSettings {
  return { poolSize: config.pgbouncerPoolSize, maxClientConnections: config.pgbouncerMaxClientConnections };
}

/**
 * pgbouncer.ini. Clients log in with SCRAM against auth_file, and PgBouncer logs in to PostgreSQL
 * by passing that login through, which works because auth_file holds the very SCRAM secrets
 * PostgreSQL stores. No password is kept anywhere in the container. (auth_query would need one in
 * plain text for its own login.) Transaction pooling: a server connection serves one transaction
 * at a time.
 */
export function pgbouncerIni(s: PgbouncerSettings): string {
  return `${[
    '[databases]',
    `${DATABASE_NAME} = host=${POSTGRES.alias} port=${POSTGRES.port} dbname=${DATABASE_NAME}`,
    '',
    '[pgbouncer]',
    'listen_addr = 0.0.0.0',
    `listen_port = ${PGBOUNCER.port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${PGBOUNCER.authFile}`,
    'pool_mode = transaction',
    `default_pool_size = ${s.poolSize}`,
    'min_pool_size = 0',
    'reserve_pool_size = 0',
    `max_client_conn = ${s.maxClientConnections}`,
    `max_db_connections = ${s.poolSize}`,
    'server_reset_query = DISCARD ALL',
    // Sent by JDBC and some pools at connect; harmless to drop.
    'ignore_startup_parameters = extra_float_digits',
    'log_connections = 0',
    'log_disconnections = 0',
  ].join('\n')}\n`;
}

export interface PoolLogin {
  user: string;
  /** The SCRAM secret PostgreSQL stores for the role (see scram.ts). */
  scramSecret: string;
}

/** userlist.txt: the roles that may log in through the pool. */
export function pgbouncerUserlist(logins: PoolLogin[]): string {
  for (const { user } of logins) {
    if (!/^[a-z_][a-z0-9_]*$/.test(user)) throw new Error(`pool login "${user}" is not a plain role name`);
  }
  return logins.map(({ user, scramSecret }) => `"${user}" "${scramSecret}"\n`).join('');
}
