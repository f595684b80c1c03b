import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client as S3Client } from 'minio';
import { APP_ENV } from '../common/names';
import { ROOT } from '../common/paths';
import { readMigrations } from '../lib/migrations/files';
import { seed } from '../lib/migrations/seeder';
import { appEnvEntries } from '../lib/stack/env-file';
import { pgbouncerSettingsOf } from '../stacks/containers/pgbouncer-settings';
import { scramSha256Secret } from '../stacks/scram';
import { S3_REGION } from '../stacks/services';
import { freshDatabase, withClient, type TestDatabase } from './helpers/db';
import { startMinio, type MinioServer } from './helpers/minio';
import { applyDeclaredStorage } from './helpers/minio-provider';
import { startPgbouncer, type PgbouncerServer } from './helpers/pgbouncer';
import { runProgram, type ProgramRun } from './helpers/program';
import { committedStackConfig } from './helpers/stack-files';
import { startRedis, type RedisServer } from './helpers/redis';
import { sharedServer } from './helpers/shared-server';
import { createStackRoles, type StackRoles } from './helpers/stack-roles';

/**
 * The client modules as a service gets them: the package's own `exports` (package.json), compiled
 * by its `build:client` script (what `npm ci` runs as `prepare`), packed by `npm pack` and unpacked
 * into a consumer's node_modules, required by name from plain JavaScript in processes of their own, and type-checked by a
 * TypeScript consumer under both module resolutions a service may use (node16 reads `exports`,
 * node10 reads `typesVersions`).
 *
 * The servers are the stack's as the dev stack declares them: PostgreSQL (migrated, seeded, the
 * stack's roles and grants) behind PgBouncer with the stack's pgbouncer.ini, Redis with the stack's
 * command line and ACL, MinIO with the buckets, users and policies the program declares. The
 * service's variables are what `npm run env` writes from the dev stack's outputs (appEnvEntries),
 * with only the servers' addresses moved to this machine's.
 */

const run = promisify(execFile);
const PACKAGE = 'pronunciation-assistant-infra';
jest.setTimeout(120_000);

let work: string;
let dev: ProgramRun;
let db: TestDatabase;
let stack: StackRoles;
let bouncer: PgbouncerServer;
let redis: RedisServer;
let minio: MinioServer;
let env: Record<string, string>;

/**
 * The package as npm installs it for a service (a git dependency: npm clones it, runs `prepare`,
 * then packs it by its `files` and installs the tarball): dist/ built by the build:client script
 * `prepare` runs, `npm pack` of the checkout, the tarball unpacked into the consumer's
 * node_modules. Its dependencies are the checkout's node_modules, as npm would install them beside it.
 */
async function installPackage(into: string): Promise<void> {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  expect(pkg.scripts.prepare).toMatch(/&& npm run build:client$/);
  expect(pkg.scripts['build:client']).toBe('tsc -p tsconfig.client.json');
  await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.client.json')], { cwd: ROOT });
  // npm's own settings from an outer `npm test` (npm_config_*) must not change what is packed.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, env });
  const tarball = path.join(work, (JSON.parse(stdout) as Array<{ filename: string }>)[0].filename);
  fs.mkdirSync(into, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(into, 'node_modules'));
}

/** Runs a consumer's script with node from the consumer's folder, with the service's variables only. */
async function service(script: string, ...args: string[]): Promise<Record<string, unknown>> {
  const file = path.join(work, script);
  const { stdout } = await run(process.execPath, [file, ...args], { cwd: work, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 30_000 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`${script} failed: ${error.stderr || error.message}`);
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-client-package-'));
  fs.mkdirSync(path.join(work, 'node_modules'));
  const started = await Promise.allSettled([
    installPackage(path.join(work, 'node_modules', PACKAGE)),
    // The service's own dependency for its queries' operators (eq, and, ...): the version the package
    // uses, which npm then installs once for both.
    fs.promises.symlink(path.join(ROOT, 'node_modules', 'drizzle-orm'), path.join(work, 'node_modules', 'drizzle-orm')),
    runProgram('dev').then((r) => (dev = r)),
    freshDatabase({ migrated: true }).then((d) => (db = d)),
    startMinio().then((m) => (minio = m)),
  ]);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const outputs = Object.fromEntries(Object.entries(dev.outputs).map(([name, o]) => [name, o.value]));

  await seed(db.client, readMigrations());
  stack = await createStackRoles(db.url, `client_pkg_${process.pid}`);
  const database = decodeURIComponent(new URL(db.url).pathname.slice(1));
  // PostgreSQL and PgBouncer hold the same SCRAM secret, as the stack computes it (stacks/scram.ts).
  const secret = scramSha256Secret(stack.password, randomBytes(16).toString('base64'));
  await withClient(db.url, (c) => c.query(`ALTER ROLE "${stack.roles.app}" PASSWORD '${secret}'`));
  const server = sharedServer();
  const config = committedStackConfig('dev');
  [bouncer, redis] = await Promise.all([
    startPgbouncer(
      {
        postgres: server,
        logins: [{ user: stack.roles.app, scramSecret: secret }],
        settings: pgbouncerSettingsOf(config),
        databases: [database],
      },
      { user: stack.roles.app, password: stack.password, database },
    ),
    startRedis({ maxmemoryMb: config.redisMaxmemoryMb, maxmemoryPolicy: config.redisMaxmemoryPolicy }),
  ]);
  const root = new S3Client({ endPoint: minio.endPoint, port: minio.port, useSSL: false, region: S3_REGION, accessKey: minio.rootUser, secretKey: minio.rootPassword });
  await applyDeclaredStorage(dev, minio, root);

  // What `npm run env -- --stack dev` writes, with the servers' addresses (and the test roles) of this machine.
  env = Object.fromEntries(appEnvEntries('dev', outputs));
  env[APP_ENV.databaseUrl] = bouncer.url(stack.roles.app, stack.password, database);
  env[APP_ENV.directDatabaseUrl] = stack.urlAs(db.url, 'app');
  env[APP_ENV.migratorDatabaseUrl] = stack.urlAs(db.url, 'migrator');
  env[APP_ENV.readonlyDatabaseUrl] = stack.urlAs(db.url, 'readonly');
  env[APP_ENV.redisUrl] = redis.url;
  env[APP_ENV.s3Endpoint] = minio.url;
});

afterAll(async () => {
  await Promise.allSettled([bouncer?.stop(), redis?.stop(), minio?.stop()]);
  await db?.close();
  await stack?.drop([db.url]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the package exports the client modules and the schema, typed for both module resolutions', async () => {
  fs.writeFileSync(
    path.join(work, 'check.ts'),
    [
      `import { connectDatabase, MigratorLoginError, type Database } from '${PACKAGE}/database';`,
      `import { documents, users } from '${PACKAGE}/schema';`,
      `import { connectRedis, type AppRedis } from '${PACKAGE}/redis';`,
      `import { createStorage, uploadLimitFromDb, UploadTooLargeError } from '${PACKAGE}/storage';`,
      'export async function main(): Promise<void> {',
      "  const database: Database = await connectDatabase({ applicationName: 'typed' });",
      '  const storage = createStorage({ uploadLimit: uploadLimitFromDb(database.db) });',
      "  const cache: AppRedis = await connectRedis('cache');",
      '  const rows: { id: string; title: string }[] = await database.db.select({ id: documents.id, title: documents.title }).from(documents);',
      '  const user: string | undefined = (await database.db.query.users.findFirst())?.email;',
      "  await storage.forUser(rows[0].id).upload({ kind: 'documents', id: rows[0].id, fileName: 'a.txt', contentType: 'text/plain', body: 'x' });",
      '  void [users, user, MigratorLoginError, UploadTooLargeError, cache];',
      '  // @ts-expect-error: not a column of documents; the schema is typed, not any.',
      '  void documents.no_such_column;',
      '  // @ts-expect-error: connectDatabase takes options, not a URL string.',
      "  void connectDatabase('postgres://x');",
      '}',
      '',
    ].join('\n'),
  );
  const tsc = require.resolve('typescript/bin/tsc');
  for (const [module, resolution] of [['node16', 'node16'], ['commonjs', 'node10']]) {
    const config = {
      compilerOptions: {
        strict: true, noEmit: true, module, moduleResolution: resolution, target: 'ES2022', lib: ['ES2022'],
        types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        // As a service's tsconfig has it: drizzle-orm's own declarations need the DOM library's
        // TextDecoder type. The consumer's code is still checked against the package's types.
        skipLibCheck: true,
      },
      files: ['check.ts'],
    };
    fs.writeFileSync(path.join(work, 'tsconfig.json'), JSON.stringify(config));
    const checked = await run(process.execPath, [tsc, '-p', work], { cwd: work }).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect([resolution, checked]).toEqual([resolution, '']);
  }
  // Only what exports lists is reachable: the package's internals are not part of its interface.
  const internal = await run(process.execPath, ['-e', `require('${PACKAGE}/dist/lib/migrations/runner.js')`], { cwd: work }).then(
    () => '',
    (e: { stderr: string }) => e.stderr,
  );
  expect(internal).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

test('a service writes a public document row, its file and a cache entry; another process reads all three back and finds the document by a phrase', async () => {
  fs.writeFileSync(
    path.join(work, 'writer.js'),
    `'use strict';
const { createHash } = require('node:crypto');
const { connectDatabase } = require('${PACKAGE}/database');
const { documents, users } = require('${PACKAGE}/schema');
const { connectRedis } = require('${PACKAGE}/redis');
const { createStorage, uploadLimitFromDb } = require('${PACKAGE}/storage');
const { eq } = require('drizzle-orm');

async function main() {
  const database = await connectDatabase({ applicationName: 'writer' });
  const cache = await connectRedis('cache');
  try {
    const storage = createStorage({ uploadLimit: uploadLimitFromDb(database.db) });
    const content = process.argv[2];
    const { userId, documentId } = await database.db.transaction(async (tx) => {
      const [user] = await tx.insert(users).values({ email: 'writer-' + Date.now() + '@example.test', name: 'Writer' }).returning();
      // Public, with content: its write computes search_pairs (migration 0012) for the phrase index.
      const [doc] = await tx.insert(documents).values({ userId: user.id, title: 'Minimal pairs', content: 'ship and sheep', isPublic: true }).returning();
      return { userId: user.id, documentId: doc.id };
    });
    const stored = await storage.forUser(userId).upload({ kind: 'documents', id: documentId, fileName: 'pairs.txt', contentType: 'text/plain', body: content });
    const hash = createHash('sha256').update(content).digest('hex');
    await database.db.update(documents).set({ filePath: stored.key, contentHash: hash, fileSize: Buffer.byteLength(content) }).where(eq(documents.id, documentId));
    await cache.run((c) => c.set('document:' + documentId, hash, { EX: 60 }));
    console.log(JSON.stringify({ userId, documentId, key: stored.key }));
  } finally {
    await Promise.all([database.close(), cache.close()]);
  }
}
main().catch((e) => { console.error(e.name + ': ' + e.message); process.exitCode = 1; });
`,
  );
  fs.writeFileSync(
    path.join(work, 'reader.js'),
    `'use strict';
const { createHash, randomUUID } = require('node:crypto');
const { connectDatabase } = require('${PACKAGE}/database');
const { documents, searchDocuments } = require('${PACKAGE}/schema');
const { connectRedis } = require('${PACKAGE}/redis');
const { createStorage, uploadLimitFromDb } = require('${PACKAGE}/storage');
const { eq } = require('drizzle-orm');

async function main() {
  const database = await connectDatabase({ applicationName: 'reader' });
  const cache = await connectRedis('cache');
  try {
    const storage = createStorage({ uploadLimit: uploadLimitFromDb(database.db) });
    const doc = await database.db.query.documents.findFirst({ where: eq(documents.id, process.argv[2]), with: { owner: true } });
    const mine = storage.forUser(doc.userId);
    const chunks = [];
    for await (const chunk of await mine.read(doc.filePath)) chunks.push(chunk);
    const { url } = await mine.presignDownload(doc.filePath, { expiresInSeconds: 60 });
    const downloaded = Buffer.from(await (await fetch(url)).arrayBuffer());
    const cached = await cache.run((c) => c.get('document:' + doc.id));
    const sha = (b) => createHash('sha256').update(b).digest('hex');
    // Another user's phrase search, as the app role through PgBouncer: the phrase pass calls search_pairs.
    const found = (await searchDocuments(database.db, { userId: randomUUID(), query: '"minimal pairs"' })).map((r) => r.id);
    console.log(JSON.stringify({ owner: doc.owner.name, title: doc.title, contentHash: doc.contentHash, read: sha(Buffer.concat(chunks)), downloaded: sha(downloaded), cached, found }));
  } finally {
    await Promise.all([database.close(), cache.close()]);
  }
}
main().catch((e) => { console.error(e.name + ': ' + e.message); process.exitCode = 1; });
`,
  );
  const content = `ship / sheep, ${randomBytes(8).toString('hex')}\n`;
  const hash = createHash('sha256').update(content).digest('hex');
  const written = await service('writer.js', content);
  expect(written.key).toEqual(expect.stringContaining(String(written.userId)));
  const read = await service('reader.js', String(written.documentId));
  expect(read).toEqual({ owner: 'Writer', title: 'Minimal pairs', contentHash: hash, read: hash, downloaded: hash, cached: hash, found: [written.documentId] });
});
