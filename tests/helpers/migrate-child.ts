/**
 * The migrate command's work on a folder of migrations other than the committed one: what
 * tests/migrations-online.test.ts runs as a child process, to kill with SIGKILL at any moment.
 * `node --import tsx tests/helpers/migrate-child.ts DIR DATABASE_URL`; logs as the command does.
 */
import { readMigrations } from '../../lib/migrations/files';
import { migrate } from '../../lib/migrations/runner';
import { connect, parseDatabaseUrl } from '../../lib/postgres/connection';

async function main(): Promise<void> {
  const [dir, url] = process.argv.slice(2);
  const client = await connect(parseDatabaseUrl(url, 'DATABASE_URL'), 'db:migrate');
  try {
    const result = await migrate(client, readMigrations(dir), { log: (line) => console.log(line) });
    console.log(`applied now: ${result.appliedNow.map((m) => m.name).join(', ') || 'nothing'}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
