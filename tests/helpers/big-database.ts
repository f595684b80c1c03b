import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { takeBackup } from '../../lib/backups/dump';
import { listBackups, type BackupFile } from '../../lib/backups/files';
import { parseDatabaseUrl } from '../../lib/postgres/connection';
import type { PostgresServer } from './postgres';
import { waitFor } from './processes';

/** The rows of `text` run on `database` of the server, on a connection of its own. */
export async function rows<T extends Record<string, unknown>>(server: PostgresServer, database: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: server.url(database) });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A database `big` on the server, large enough that pg_dump runs for some seconds and pg_restore
 * builds an index after loading it, and a backup of it in a folder of its own (remove it with
 * the backup's folder). For the tests that stop or kill a dump or a restore mid-run.
 */
export async function bigDatabaseBackup(server: PostgresServer): Promise<BackupFile> {
  await rows(server, 'postgres', 'CREATE DATABASE big');
  await rows(server, 'big', `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000000) g`);
  await rows(server, 'big', `CREATE INDEX t_v ON t (v)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-big-'));
  await takeBackup({ target: parseDatabaseUrl(server.url('big')), stack: 'big', dir, keep: 1, progressSeconds: 60, log: () => undefined });
  return listBackups(dir, 'big')[0];
}

/** The backend of an active session with this application name on databases LIKE `datname`, running a statement LIKE `query`: its pid. */
export function activeBackend(server: PostgresServer, applicationName: string, datname = '%', query = '%'): Promise<number> {
  return waitFor(`an active session of ${applicationName}`, 60_000, async () => {
    const found = await rows<{ pid: number }>(
      server,
      'postgres',
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname LIKE $2 AND state = 'active' AND query NOT LIKE 'SELECT%' AND query LIKE $3 LIMIT 1`,
      [applicationName, datname, query],
    );
    return found[0]?.pid;
  });
}
