import { spawn } from 'node:child_process';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Client } from 'pg';
import { ROOT } from '../../common/paths';
import { readMigrations } from '../../lib/migrations/files';
import { migrate } from '../../lib/migrations/runner';
import * as schema from '../../schema';
import { createDatabase } from './postgres';
import { sharedServer } from './shared-server';

export interface TestDatabase {
  url: string;
  client: Client;
  db: NodePgDatabase<typeof schema>;
  close(): Promise<void>;
}

/** A new, empty database on the shared test server, with an open client. */
export async function freshDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const url = await createDatabase(sharedServer());
  const client = new Client({ connectionString: url });
  await client.connect();
  if (options.migrated) await migrate(client, readMigrations());
  return { url, client, db: drizzle(client, { schema }), close: () => client.end() };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program to its end, collecting its output; the exit code is returned, not thrown. */
export function runProcess(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

/**
 * Runs `npm run <script> -- <args>` in the repository as a user would. DATABASE_URL comes only
 * from `env`, never from the environment of the test run.
 */
export function npmRun(script: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<CommandResult> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.MIGRATOR_DATABASE_URL;
  return runProcess('npm', ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])], { cwd: ROOT, env: { ...base, ...env } });
}

/** Every row of a table as text, in a stable order: for comparing contents before and after. */
export async function tableContents(client: Client, table: string): Promise<string[]> {
  const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${table}" t ORDER BY t::text`);
  return rows.map((r) => r.row);
}

/** Runs `work` with a client connected to `url`, and closes it. */
export async function withClient<T>(url: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
