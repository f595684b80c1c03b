import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { defaultEnvFileName, formatEnvFile, stackNameProblem, writeEnvFile } from '../lib/stack/env-file';
import { ROOT } from '../common/paths';
import { stackAppEnv } from '../lib/stack/outputs';
import { runCli, say, UsageError } from './run';

const USAGE = `usage: npm run env -- <stack> [--output FILE]

Writes the environment file of the application for a deployed Pulumi stack: the variables of
common/names.ts (DATABASE_URL, REDIS_URL, S3_*, ...) from the stack's outputs, read with
\`pulumi stack output --json --show-secrets --stack <stack>\` in the project root (so the Pulumi
CLI must be installed and logged in to the stack's backend, with PULUMI_CONFIG_PASSPHRASE set for
a passphrase-encrypted stack). The file holds secrets: it is written with mode 0600, atomically,
and its values are never printed.

  <stack>        the stack, e.g. dev (letters, digits, "_", "." and "-": it is part of the file name)
  --output FILE  where to write it (default .env.<stack> in the project root; a relative FILE is
                 taken from the project root too)`;

const FLAGS = { output: { type: 'string' } } as const;

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

    const entries = await stackAppEnv(stack);
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
