import type { Client } from 'pg';

/**
 * How long a backup or a restore waits for a server that has stopped answering (after the login,
 * which connect_timeout bounds): with no progress for that long, it gives up, names the server and
 * the bound, and leaves nothing half-done behind. The commands' `--stall-timeout SECONDS`.
 *
 * pg_dump streams rows without pause, and waits only on a lock (a long migration's): 5 minutes.
 * pg_restore shows no progress while the server builds an index or checks a foreign key, which on
 * a big table takes a while: 30 minutes.
 */
export const DEFAULT_BACKUP_STALL_SECONDS = 300;
export const DEFAULT_RESTORE_STALL_SECONDS = 1800;

/**
 * Every query of `client` fails with `stalled()` when it has no answer within `seconds`, and the
 * client is closed: node-postgres waits for an answer forever, and its end() destroys the socket
 * of a client with a query still active instead of waiting for the server's goodbye
 * (node_modules/pg/lib/client.js, end()). Only the promise form of query() is bounded.
 */
export function boundQueries(client: Client, seconds: number, stalled: () => Error): Client {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const bounded = (...args: unknown[]): unknown => {
    const result = query(...args);
    if (!(result instanceof Promise)) return result;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void client.end().catch(() => undefined);
        reject(stalled());
      }, seconds * 1000);
    });
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
  };
  (client as unknown as { query: unknown }).query = bounded;
  return client;
}
