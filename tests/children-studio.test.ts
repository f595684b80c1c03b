/**
 * drizzle-kit studio serves the database login on its port for as long as it runs: it must end
 * with the command that started it, however that command is stopped. A small program stands in
 * for `npm run db:studio`: it starts the studio with lib/migrations/drizzle-kit.ts startStudio (from
 * the compiled copy cli/launch.js builds, as the commands run it) and relays its output, as the
 * command does. It is then stopped with SIGTERM, SIGINT, SIGHUP and SIGKILL.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { ROOT } from '../common/paths';
import { createDatabase, freePort } from './helpers/postgres';
import { isRunning, waitFor } from './helpers/processes';
import { sharedServer } from './helpers/shared-server';

const HARNESS = `
const path = require('node:path');
const build = require(path.join(process.env.PA_ROOT, 'cli', 'launch.js')).ensureBuilt();
const { startStudio } = require(path.join(build, 'lib', 'migrations', 'drizzle-kit.js'));
const studio = startStudio({ port: Number(process.env.STUDIO_PORT), host: '127.0.0.1', env: process.env, graceMs: 2000 });
studio.stdout.pipe(process.stdout);
studio.stderr.pipe(process.stderr);
process.stdout.write('studio pid ' + studio.pid + '\\n');
studio.exited.then((code) => process.exit(code));
`;

/** Whether something accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

let url: string;
beforeAll(async () => {
  url = await createDatabase(sharedServer(), 'studio');
});

test.each(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL'] as const)('stopped with %s, it leaves no studio and no listener on the port', async (signal) => {
  const port = await freePort();
  const parent = spawn(process.execPath, ['-e', HARNESS], {
    cwd: ROOT,
    env: { ...process.env, PA_ROOT: ROOT, STUDIO_PORT: String(port), DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  parent.stdout.on('data', (d: Buffer) => (output += d.toString()));
  parent.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => parent.on('close', (code) => resolve(code)));
  try {
    const studio = await waitFor(`the studio listening on ${port} (output so far: ${output})`, 90_000, async () => {
      const pid = /studio pid (\d+)/.exec(output)?.[1];
      return pid !== undefined && (await listening(port)) && Number(pid);
    });

    parent.kill(signal);
    const code = await waitFor('the parent to end', 15_000, () => exited.then((c) => ({ c })));
    // A stop signal is passed on and the studio's end reported as a clean stop; SIGKILL runs no handler.
    expect(code.c).toBe(signal === 'SIGKILL' ? null : 0);
    await waitFor(`drizzle-kit studio (pid ${studio}) to end`, 10_000, () => !isRunning(studio));
    await waitFor(`port ${port} to be closed`, 10_000, async () => !(await listening(port)));
  } finally {
    parent.kill('SIGKILL');
  }
}, 120_000);
