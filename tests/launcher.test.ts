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
  write('cli/hello.ts', "import { word } from '../lib/word';\nconst greeting: string = `${word} ${process.argv.slice(2).join(' ')}`;\nconsole.log(greeting);\n");
  write('lib/word.ts', "export const word: string = 'one';\n");
  fs.mkdirSync(path.join(project, 'schema'));
  fs.mkdirSync(path.join(project, 'common'));
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

describe('cli/launch.js', () => {
  it('compiles on first use, safely when several runs start at once, and passes the arguments on', async () => {
    const runs = await Promise.all(Array.from({ length: 4 }, () => launch('hello', 'a', '--b')));
    for (const r of runs) expect(r).toEqual({ code: 0, stdout: 'one a --b\n', stderr: '' });
    const builds = fs.readdirSync(path.join(project, '.build'));
    expect(builds).toHaveLength(1);
  });

  it('never runs a stale build: an edited source is recompiled before it runs', async () => {
    write('lib/word.ts', "export const word: string = 'two';\n");
    expect((await launch('hello')).stdout).toBe('two \n');
    write('lib/word.ts', "export const word: string = 'one';\n");
    expect((await launch('hello')).stdout).toBe('one \n');
  });

  it('rejects an unknown command', async () => {
    const r = await launch('nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no command "nope" in cli/');
  });

  it('reports a source that does not compile, naming the file', async () => {
    write('lib/word.ts', "export const word: string = 'one;\n");
    const r = await launch('hello');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: cannot compile the command-line tools: lib\/word\.ts: Unterminated string literal/);
    write('lib/word.ts', "export const word: string = 'one';\n");
  });
});
