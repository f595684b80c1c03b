import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { programConfig, ROOT, runProgram, stackEnv, STACKS } from './helpers/program';

const run = promisify(execFile);
const LOADER = path.join(__dirname, 'helpers/run-with-pulumi-loader.js');
jest.setTimeout(180_000);

/**
 * Runs a project directory's program through the SDK's loader, as `pulumi up` would: the
 * configuration the CLI assembles for the stack after README's set-up (Pulumi.yaml's defaults
 * merged in, secrets decrypted; helpers/cli-config.ts), in the environment README prescribes.
 */
async function load(projectDir: string, stack: string) {
  const env = { ...process.env, ...stackEnv(stack), ...programConfig(stack) };
  return run(process.execPath, [LOADER, projectDir, stack], { cwd: projectDir, env });
}

/** The project's sources in a scratch folder, sharing node_modules. */
function copyProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-project-'));
  for (const entry of ['index.ts', 'package.json', 'tsconfig.json', 'Pulumi.yaml', 'stacks', 'schema', 'lib', 'common']) {
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

// All four at once: each is a child process of its own, and type checking dominates.
const loads = new Map<string, ReturnType<typeof load>>();
beforeAll(() => {
  for (const stack of STACKS) loads.set(stack, load(ROOT, stack));
  for (const p of loads.values()) p.catch(() => undefined);
});

test.each(STACKS)("%s loads through @pulumi/pulumi's own loader with the configuration the Pulumi CLI hands it, declaring what the mocked runs declare", async (stack) => {
  const { stdout, stderr } = await loads.get(stack)!;
  const { types } = JSON.parse(stdout) as { types: string[] };
  expect(types[0]).toBe('pulumi:pulumi:Stack');
  const mocked = await runProgram(stack);
  expect(types.slice(1).sort()).toEqual(mocked.declared.map((d) => d.type).sort());
  const containers = types.filter((t) => t === 'docker:index/container:Container').length;
  expect(containers).toBe({ dev: 5, staging: 5, prod: 5, external: 0 }[stack]);
  expect(stderr).not.toMatch(/warning|error/i);
});

test('a type error anywhere the program reaches fails the load, as it would fail `pulumi up`', async () => {
  const dir = copyProject();
  try {
    const file = path.join(dir, 'stacks/naming.ts');
    fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8')}\nexport const broken: number = 'not a number';\n`);
    const failure = await load(dir, 'dev').then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );
    expect(failure).toMatch(/naming\.ts.*TS2322|TS2322.*naming\.ts/s);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the program's tsconfig.json needs only the types production installs have", () => {
  const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  for (const t of tsconfig.compilerOptions.types) expect(Object.keys(pkg.dependencies)).toContain(`@types/${t}`);
  expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['typescript', '@pulumi/pulumi']));
});
