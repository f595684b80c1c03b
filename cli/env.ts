import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { UserFacingError } from '../db/connection';
import { appEnvEntries, defaultEnvFileName, formatEnvFile, parseStackOutputs, stackNameProblem, writeEnvFile } from '../db/env-file';
import { ROOT } from '../db/paths';
import { runCli, say, UsageError } from './run';

const USAGE = `usage: npm run env -- <stack> [--output FILE]

Writes the environment file of the application for a deployed Pulumi stack: the variables of
db/app-env.ts (DATABASE_URL, REDIS_URL, S3_*, ...) from the stack's outputs, read with
\`pulumi stack output --json --show-secrets --stack <stack>\` in the project root (so the Pulumi
CLI must be installed and logged in to the stack's backend, with PULUMI_CONFIG_PASSPHRASE set for
a passphrase-encrypted stack). The file holds secrets: it is written with mode 0600, atomically,
and its values are never printed.

  <stack>        the stack, e.g. dev (letters, digits, "_", "." and "-": it is part of the file name)
  --output FILE  where to write it (default .env.<stack> in the project root; a relative FILE is
                 taken from the project root too)`;

const FLAGS = { output: { type: 'string' } } as const;

const PULUMI_INSTALL_HINT = 'install it (https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`) and put it on PATH';

/** What `pulumi stack output` printed on stdout. Its stdout is never put in a message: it holds the secrets. */
function readStackOutputs(stack: string): Promise<string> {
  const args = ['stack', 'output', '--json', '--show-secrets', '--stack', stack];
  const command = `pulumi ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = execFile('pulumi', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const e = error as { code?: unknown; signal?: NodeJS.Signals | null };
      if (e.code === 'ENOENT') {
        return reject(new UserFacingError(`the Pulumi CLI is not installed or not on PATH (cannot run \`${command}\`): ${PULUMI_INSTALL_HINT}.`));
      }
      const detail = stderr.trim() === '' ? '' : `:\n${stderr.trimEnd()}`;
      if (typeof e.code === 'number') return reject(new UserFacingError(`\`${command}\` failed (exit status ${e.code})${detail}`));
      if (e.signal) return reject(new UserFacingError(`\`${command}\` was stopped by ${e.signal}${detail}`));
      // Not pulumi's own failure (a spawn error, too much output): say so by code; never show its output.
      const reason = typeof e.code === 'string' ? e.code : 'unknown error';
      return reject(new UserFacingError(`cannot run \`${command}\` (${reason})${detail}`));
    });
    child.stdin?.end(); // pulumi must not wait for an answer (a passphrase prompt, say): it fails and says why instead
  });
}

/** Whether git ignores the file: true, false, or undefined when that cannot be told (no git, not in a work tree). */
function gitIgnores(file: string): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['check-ignore', '--quiet', '--', path.basename(file)], { cwd: path.dirname(file) }, (error) => {
      if (!error) return resolve(true);
      resolve((error as { code?: unknown }).code === 1 ? false : undefined);
    });
  });
}

runCli(
  USAGE,
  FLAGS,
  async (values, positionals) => {
    if (positionals.length === 0) throw new UsageError('name the stack, e.g. `npm run env -- dev`');
    if (positionals.length > 1) throw new UsageError(`expected one stack name, got ${positionals.length}: ${positionals.join(' ')}`);
    const stack = positionals[0];
    const badName = stackNameProblem(stack);
    if (badName) throw new UsageError(badName);
    const output = values.output;
    if (output !== undefined && (typeof output !== 'string' || output.trim() === '')) throw new UsageError('--output needs a file name');
    const file = path.resolve(ROOT, output ?? defaultEnvFileName(stack));

    const entries = appEnvEntries(stack, parseStackOutputs(stack, await readStackOutputs(stack)));
    writeEnvFile(file, formatEnvFile(stack, entries));

    const ignored = await gitIgnores(file);
    const git =
      ignored === true
        ? 'git-ignored'
        : ignored === false
          ? 'NOT git-ignored: keep it out of version control'
          : 'not in a git work tree';
    say(`wrote ${file}: ${entries.length} variables from stack "${stack}" (mode 0600, ${git}).`);
  },
  { allowPositionals: true },
);
