import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { connect, parseDatabaseUrl, redact, type DatabaseTarget } from '../lib/postgres/connection';
import { DRIZZLE_KIT } from '../lib/migrations/drizzle-kit';
import { ROOT } from '../common/paths';
import { runCli } from './run';

const USAGE = `usage: npm run db:studio -- [--port PORT]

Opens drizzle-kit studio on the database in DATABASE_URL (checked first, so a wrong URL fails
here with a clear message rather than inside the studio).

  --port PORT   the local port studio listens on (default 4983)`;

/** Copies a child's output line by line, scrubbed of the password (a chunk may split it). */
function relay(from: Readable, to: Writable, target: DatabaseTarget): void {
  let pending = '';
  from.on('data', (d: Buffer) => {
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) to.write(`${redact(line, target)}\n`);
  });
  from.on('end', () => pending && to.write(redact(pending, target)));
}

runCli(USAGE, { port: { type: 'string' } }, async (values) => {
  const target = parseDatabaseUrl(process.env.DATABASE_URL);
  await (await connect(target, 'db:studio')).end();
  const args = [DRIZZLE_KIT, 'studio', ...(values.port ? ['--port', String(values.port)] : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['inherit', 'pipe', 'pipe'] });
  relay(child.stdout, process.stdout, target);
  relay(child.stderr, process.stderr, target);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) process.exitCode = code;
});
