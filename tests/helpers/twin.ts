import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { plain, type Declared } from './pulumi-mocks';
import { PG_BIN, serverIdentity } from './postgres';

const run = promisify(execFile);

/** The parts of a declared container that say what runs in it. */
export interface ContainerSpec {
  command: string[];
  entrypoints?: string[];
  envs: Record<string, string>;
  uploads: { file: string; content: string }[];
  healthcheck: string[];
}

export function containerSpec(d: Declared): ContainerSpec {
  const inputs = plain(d.raw);
  return {
    command: inputs.command ?? [],
    entrypoints: inputs.entrypoints,
    envs: Object.fromEntries((inputs.envs ?? []).map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    uploads: (inputs.uploads ?? []).map((u: { file: string; content: string }) => ({ file: u.file, content: u.content })),
    healthcheck: inputs.healthcheck?.tests ?? [],
  };
}

/**
 * A container's filesystem and network, translated to this machine: container paths live under a
 * temporary root, network aliases are 127.0.0.1, container ports are free local ports. What runs
 * is the real program with the declared arguments; only these translations differ.
 */
export class TwinHost {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-twin-'));
  private readonly substitutions: [RegExp, string][] = [];
  private readonly children: ChildProcess[] = [];
  identity: { uid: number; gid: number } | undefined;

  async init(): Promise<this> {
    this.identity = await serverIdentity();
    this.chown(this.root);
    return this;
  }

  /** Container path -> local path (creating its directory). */
  local(containerPath: string): string {
    const p = path.join(this.root, 'fs', containerPath);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    return p;
  }

  /** Servers that listen on every interface in a container listen on loopback here. */
  mapListenAll(): void {
    this.substitutions.push([/\b0\.0\.0\.0\b/g, '127.0.0.1']);
  }

  mapAlias(alias: string): void {
    this.substitutions.push([new RegExp(`\\bhost=${alias}\\b`, 'g'), 'host=127.0.0.1']);
  }

  private readonly ports = new Map<number, number>();
  /** Maps a container port to a local one; a port mapped before keeps its mapping (a restarted container). Returns the local port. */
  mapPort(containerPort: number, localPort: number): number {
    const mapped = this.ports.get(containerPort);
    if (mapped !== undefined) return mapped;
    this.ports.set(containerPort, localPort);
    this.substitutions.push([new RegExp(`(?<![\\w.+/])${containerPort}(?![\\w.+/])`, 'g'), String(localPort)]);
    return localPort;
  }

  mapPath(containerPath: string): string {
    const local = this.local(containerPath);
    // Whole paths only (after a space, '=' or the start): /data must not match inside /var/lib/postgresql/data.
    const escaped = containerPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    this.substitutions.push([new RegExp(`(?<=^|[\\s=])${escaped}(?=$|[\\s/])`, 'g'), local]);
    return local;
  }

  /** Text as the program on this machine must see it. */
  translate(text: string): string {
    return this.substitutions.reduce((t, [from, to]) => t.replace(from, to), text);
  }

  /** Writes the container's uploaded files; those named in `configFiles` are translated too. */
  writeUploads(spec: ContainerSpec, configFiles: string[] = []): void {
    for (const u of spec.uploads) this.mapPath(u.file);
    for (const u of spec.uploads) {
      const local = this.local(u.file);
      fs.writeFileSync(local, configFiles.includes(u.file) ? this.translate(u.content) : u.content, { mode: 0o600 });
      this.chownTree(local);
    }
  }

  chown(p: string): void {
    if (this.identity) fs.chownSync(p, this.identity.uid, this.identity.gid);
  }

  chownTree(p: string): void {
    for (let dir = p; dir.startsWith(this.root); dir = path.dirname(dir)) this.chown(dir);
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { PATH: `${PG_BIN}:/usr/sbin:/usr/bin:/bin:${process.env.PATH}`, HOME: this.root, ...extra };
  }

  /** Runs a command to completion, as the unprivileged identity; rejects with its output on failure. */
  async exec(file: string, args: string[], env: NodeJS.ProcessEnv = this.env()): Promise<string> {
    const { stdout } = await run(file, args, { env, cwd: this.root, ...(this.identity ?? {}) });
    return stdout;
  }

  /** Starts a long-running server; its output goes to a log file that failures quote. */
  start(name: string, file: string, args: string[], env: NodeJS.ProcessEnv = this.env()): { child: ChildProcess; log: () => string } {
    const logFile = path.join(this.root, `${name}.log`);
    const fd = fs.openSync(logFile, 'w');
    const child = spawn(file, args, { env, cwd: this.root, stdio: ['ignore', fd, fd], ...(this.identity ?? {}) });
    fs.closeSync(fd);
    this.children.push(child);
    return { child, log: () => fs.readFileSync(logFile, 'utf8') };
  }

  /**
   * Runs a declared health check the way Docker does (CMD: the program and its arguments;
   * CMD-SHELL: through /bin/sh -c), retrying until it passes; throws with what it last said.
   */
  async healthy(healthcheck: string[], server: { child: ChildProcess; log: () => string }, timeoutMs = 20_000): Promise<void> {
    const [kind, ...rest] = healthcheck.map((part) => this.translate(part));
    const [file, args] = kind === 'CMD-SHELL' ? ['/bin/sh', ['-c', rest.join(' ')]] : [rest[0], rest.slice(1)];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (server.child.exitCode !== null) throw new Error(`the server exited (${server.child.exitCode}) before it was healthy:\n${server.log()}`);
      try {
        await run(file, args, { env: this.env(), timeout: 5000 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`health check ${JSON.stringify(healthcheck)} still failing: ${String(error)}\n${server.log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGINT');
          }),
      ),
    );
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
