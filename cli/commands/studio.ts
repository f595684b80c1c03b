import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { connect, redact, UserFacingError, type DatabaseTarget } from '../../lib/postgres/connection';
import { EXIT, migratorLogin, say } from '../program';

/** The bundled tool (the backup image) carries no drizzle-kit: say so rather than print a stack trace. */
export function drizzleKitMissing(error: unknown): never {
  if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
    throw new UserFacingError('drizzle-kit is not installed here (the backup image carries only the backup and restore commands): run this command from the project, after `npm ci`.');
  }
  throw error;
}

function tcpPort(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a TCP port, 1 to 65535');
  return n;
}

/** drizzle-kit studio's own default (drizzle-kit's `studio --port`). */
const DEFAULT_PORT = 4983;
const STUDIO_HOST = '127.0.0.1';

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

/** Fails with what to do when the port is taken, before drizzle-kit would print a raw 'error' event. */
function checkPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(new UserFacingError(`port ${port} on ${STUDIO_HOST} is ${error.code === 'EADDRINUSE' ? 'in use' : `unavailable (${error.code})`}: choose another with --port.`)),
    );
    probe.listen(port, STUDIO_HOST, () => probe.close(() => resolve()));
  });
}

export function registerStudio(program: Command): void {
  program
    .command('studio')
    .summary('open drizzle-kit studio on the database')
    .description(
      'Opens drizzle-kit studio on the database in MIGRATOR_DATABASE_URL when it is set, else\n' +
        'DATABASE_URL (checked first, so a wrong URL fails here with a clear message rather than inside\n' +
        'the studio). Stopping this command (Ctrl-C, a TERM) stops the studio with it.',
    )
    .addOption(new Option('--port <port>', 'the local port studio listens on').argParser(tcpPort).default(DEFAULT_PORT))
    .action(async (o: { port: number }) => {
      // drizzle-kit is found when the command runs: a copy without it (the backup image) still starts.
      const { startStudio } = await import('../../lib/migrations/drizzle-kit').catch(drizzleKitMissing);
      const { target, variable } = migratorLogin();
      say(`studio on ${target.display} (from ${variable})`);
      await (await connect(target, 'db:studio')).end();
      await checkPortFree(o.port);
      // Tied to this process: a stop signal is passed on, and even SIGKILL of this one ends it (lib/process/children.ts).
      const studio = startStudio({ port: o.port, host: STUDIO_HOST, env: { ...process.env, DATABASE_URL: target.url } });
      relay(studio.stdout, process.stdout, target);
      relay(studio.stderr, process.stderr, target);
      const code = await studio.exited;
      if (code !== 0) process.exitCode = EXIT.failed;
    });
}
