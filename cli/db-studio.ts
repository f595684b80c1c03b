import { spawn } from 'node:child_process';
import { connect, parseDatabaseUrl, redact } from '../db/connection';
import { DRIZZLE_KIT } from '../db/drizzle-kit';
import { ROOT } from '../db/paths';
import { runCli } from './run';

const USAGE = `usage: npm run db:studio -- [--port PORT]

Opens drizzle-kit studio on the database in DATABASE_URL (checked first, so a wrong URL fails
here with a clear message rather than inside the studio).

  --port PORT   the local port studio listens on (default 4983)`;

runCli(USAGE, { port: { type: 'string' } }, async (values) => {
  const target = parseDatabaseUrl(process.env.DATABASE_URL);
  await (await connect(target, 'db:studio')).end();
  const args = [DRIZZLE_KIT, 'studio', ...(values.port ? ['--port', String(values.port)] : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['inherit', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => process.stdout.write(redact(d.toString(), target)));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(redact(d.toString(), target)));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) process.exitCode = code;
});
