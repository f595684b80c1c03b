import { startPostgres } from './helpers/postgres';
import { SHARED_SERVER_ENV } from './helpers/shared-server';

export default async function globalSetup(): Promise<void> {
  const server = await startPostgres();
  (globalThis as { __postgres?: typeof server }).__postgres = server;
  const { host, port, password, dataDir } = server;
  process.env[SHARED_SERVER_ENV] = JSON.stringify({ host, port, password, dataDir });
}
