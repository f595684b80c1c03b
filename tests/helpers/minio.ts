import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './postgres';
import { serverStopper } from './server-process';

const run = promisify(execFile);

const REPO = path.resolve(__dirname, '..', '..');
/** The devDependency @dragon-den/packages: a gzip tar holding ./bin/minio. */
export const MINIO_ARCHIVE = path.join(REPO, 'node_modules', '@dragon-den', 'packages', 'package.tgz.part.aa');
/** sha256 of ./bin/minio, MinIO RELEASE.2024-01-01T16-36-33Z. The archive's publisher is unknown: nothing else is run. */
export const MINIO_SHA256 = '95bfab0dc507629a91ea5ca1fa665d70565503824fee2feb427e4d0235467dcb';
const CACHE_ROOT = path.join(REPO, '.tmp');
const CACHE_DIR = path.join(CACHE_ROOT, `minio-${MINIO_SHA256.slice(0, 12)}`);

export interface MinioServer {
  endPoint: '127.0.0.1';
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The web console's port (served when the environment has MINIO_BROWSER=on, as a stack with adminTools sets it). */
  consolePort: number;
  rootUser: string;
  rootPassword: string;
  /** What the server has written to stdout and stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function verify(file: string, advice: string): Promise<void> {
  const actual = await sha256(file);
  if (actual !== MINIO_SHA256) {
    throw new Error(`refusing to run ${file}: its sha256 is ${actual}, expected ${MINIO_SHA256}. ${advice}`);
  }
}

/** Extracts into a private folder, checks, then renames into place: jest workers may race here. */
async function extract(): Promise<void> {
  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  const work = fs.mkdtempSync(path.join(CACHE_ROOT, 'minio-extract-'));
  try {
    await run('tar', ['--no-same-owner', '-xzf', MINIO_ARCHIVE, '-C', work, './bin/minio']);
    const extracted = path.join(work, 'bin', 'minio');
    await verify(extracted, `The archive ${MINIO_ARCHIVE} does not hold the expected MinIO; do not use it.`);
    const ready = path.join(work, 'ready');
    fs.mkdirSync(ready);
    fs.renameSync(extracted, path.join(ready, 'minio'));
    fs.chmodSync(path.join(ready, 'minio'), 0o755);
    try {
      fs.renameSync(ready, CACHE_DIR);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error; // another worker was first
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

let binary: Promise<string> | undefined;

/** The verified MinIO binary, extracted once into .tmp/ and checked again in every process that uses it. */
export function minioBinary(): Promise<string> {
  binary ??= (async () => {
    if (!fs.existsSync(MINIO_ARCHIVE)) {
      throw new Error(`no MinIO archive at ${MINIO_ARCHIVE}: run \`npm ci\` to install the devDependency @dragon-den/packages`);
    }
    const bin = path.join(CACHE_DIR, 'minio');
    if (!fs.existsSync(bin)) await extract();
    await verify(bin, `Delete ${CACHE_DIR} to extract it again from ${MINIO_ARCHIVE}.`);
    return bin;
  })();
  binary.catch(() => (binary = undefined));
  return binary;
}

async function waitReady(url: string, child: ChildProcess, logFile: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`minio exited with ${child.exitCode ?? child.signalCode}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      const response = await fetch(`${url}/minio/health/ready`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`minio was not ready in ${timeoutMs} ms:\n${fs.readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a throwaway single-drive MinIO on a free loopback port with a generated root password.
 * `env` is added to the server's environment, as a container's environment would be: the console
 * is off (MINIO_BROWSER=off) unless `env` turns it on. `dataDir` keeps the data elsewhere, to
 * outlive stop() (a container's volume, for the next container).
 */
export async function startMinio(options: { env?: Record<string, string>; dataDir?: string } = {}): Promise<MinioServer> {
  const bin = await minioBinary();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-minio-'));
  const dataDir = options.dataDir ?? path.join(root, 'data');
  const rootUser = 'test-root';
  const rootPassword = randomBytes(24).toString('base64url');
  // Not process.env: MINIO_* variables of whoever runs the tests must not change the server.
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    MINIO_ROOT_USER: rootUser,
    MINIO_ROOT_PASSWORD: rootPassword,
    MINIO_BROWSER: 'off',
    ...options.env,
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const consolePort = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logFile = path.join(root, `minio-${attempt}.log`);
    const log = fs.openSync(logFile, 'w');
    const args = ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`];
    const child = spawn(bin, [...args, '--certs-dir', path.join(root, 'certs')], { env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    try {
      await waitReady(url, child, logFile);
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
      if (/already in use|address in use|bind/i.test(String(error))) continue;
      break;
    }
    const stop = serverStopper(child, root, 'SIGTERM');
    const logs = () => {
      try {
        return fs.readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    };
    return { endPoint: '127.0.0.1', port, url, consolePort, rootUser, rootPassword, logs, stop };
  }
  fs.rmSync(root, { recursive: true, force: true });
  throw lastError;
}
