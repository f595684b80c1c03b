import type { PostgresServer } from './postgres';

/** The server jest's global setup started, described through the environment for every worker. */
export const SHARED_SERVER_ENV = 'PA_TEST_POSTGRES';

export function sharedServer(): PostgresServer {
  const raw = process.env[SHARED_SERVER_ENV];
  if (!raw) throw new Error(`${SHARED_SERVER_ENV} is not set: run the tests through jest (npm test), whose global setup starts PostgreSQL`);
  const { host, port, password, dataDir } = JSON.parse(raw) as Pick<PostgresServer, 'host' | 'port' | 'password' | 'dataDir'>;
  return {
    host,
    port,
    password,
    dataDir,
    url: (database = 'postgres') => `postgres://postgres:${password}@${host}:${port}/${database}`,
    stop: async () => {
      throw new Error('the shared server is stopped by jest global teardown');
    },
  };
}
