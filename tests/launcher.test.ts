import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../common/paths';

const run = promisify(execFile);

/** A scratch project with the real launcher, inside the repository so that it resolves typescript. */
const project = path.join(ROOT, '.tmp', `launcher-${process.pid}`);
const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
  fs.writeFileSync(path.join(project, file), text);
};
const launch = (...args: string[]) =>
  run(process.execPath, [path.join(project, 'cli', 'launch.js'), ...args]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

beforeAll(() => {
  fs.rmSync(project, { recursive: true, force: true });
  write('cli/launch.js', fs.readFileSync(path.join(ROOT, 'cli', 'launch.js'), 'utf8'));
  write('tsconfig.json', fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'));
  // The fixture's cli/main.ts stands for the tool's: the launcher runs whatever cli/main.ts is.
  write('cli/main.ts', "import { word } from '../lib/word';\nconst greeting: string = `${word} ${process.argv.slice(2).join(' ')}`;\nconsole.log(greeting);\n");
  write('lib/word.ts', "export const word: string = 'one';\n");
  fs.mkdirSync(path.join(project, 'schema'));
  fs.mkdirSync(path.join(project, 'common'));
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

describe('cli/launch.js', () => {
  it('compiles on first use, safely when several runs start at once, and passes the arguments on', async () => {
    const runs = await Promise.all(Array.from({ length: 4 }, () => launch('a', '--b')));
    for (const r of runs) expect(r).toEqual({ code: 0, stdout: 'one a --b\n', stderr: '' });
    const builds = fs.readdirSync(path.join(project, '.build'));
    expect(builds).toHaveLength(1);
  });

  it('never runs a stale build: an edited source is recompiled before it runs', async () => {
    write('lib/word.ts', "export const word: string = 'two';\n");
    expect((await launch()).stdout).toBe('two \n');
    write('lib/word.ts', "export const word: string = 'one';\n");
    expect((await launch()).stdout).toBe('one \n');
  });

  it('builds at install (the `prepare` script npm ci runs), so that a checkout that cannot be written runs too', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    // The tools' build, then the client modules' (tests/client-package.test.ts runs that one).
    const tools = `node -e "require('./cli/launch.js').ensureBuilt()"`;
    expect(pkg.scripts.prepare).toBe(`${tools} && npm run build:client`);
    write('lib/word.ts', "export const word: string = 'three';\n");
    fs.rmSync(path.join(project, '.build'), { recursive: true, force: true });
    await run('sh', ['-c', tools], { cwd: project });
    const builds = fs.readdirSync(path.join(project, '.build'));
    expect(builds).toHaveLength(1);
    // Root ignores permissions, so "cannot be written" is a build that must not be touched: the
    // launcher may only read it (its mtime and contents stay as they were).
    const built = path.join(project, '.build', builds[0], 'lib', 'word.js');
    const before = fs.statSync(built).mtimeMs;
    expect((await launch('x')).stdout).toBe('three x\n');
    expect(fs.statSync(built).mtimeMs).toBe(before);
    write('lib/word.ts', "export const word: string = 'one';\n");
  });

  it('reports a source that does not compile, naming the file', async () => {
    write('lib/word.ts', "export const word: string = 'one;\n");
    const r = await launch();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: cannot compile the command-line tools: lib\/word\.ts: Unterminated string literal/);
    write('lib/word.ts', "export const word: string = 'one';\n");
  });
});
