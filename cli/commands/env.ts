import * as path from 'node:path';
import type { Command } from 'commander';
import { ROOT } from '../../common/paths';
import { defaultEnvFileName, envFileOverwriteProblem, formatEnvFile, writeEnvFile } from '../../lib/stack/env-file';
import { gitIgnores, gitTracks } from '../../lib/stack/git';
import { stackAppEnv } from '../../lib/stack/outputs';
import { UserFacingError } from '../../lib/postgres/connection';
import { nonEmpty, pulumiTimeoutOption, say, stackOption, userPath } from '../program';
import { plural } from '../../lib/text';

export function registerEnv(program: Command): void {
  program
    .command('env')
    .summary("write the application's environment file of a deployed stack")
    .description(
      "Writes the application's variables (common/names.ts: DATABASE_URL, REDIS_URL, S3_*, ...) from the\n" +
        "stack's outputs, read with `pulumi stack output --json --show-secrets --stack <name>` in the\n" +
        'project root (the Pulumi CLI logged in to the backend, PULUMI_CONFIG_PASSPHRASE set for a\n' +
        'passphrase-encrypted stack). The file holds secrets: it is written with mode 0600, atomically,\n' +
        'its values are never printed, and it never replaces a file git tracks or one this tool did not write.',
    )
    .addOption(stackOption('the stack, e.g. dev').makeOptionMandatory())
    .option('-o, --output <file>', 'where to write it (default: .env.<stack> in the project root; a relative path is taken from the folder you run in)', nonEmpty)
    .addOption(pulumiTimeoutOption())
    .action(async (o: { stack: string; output?: string; pulumiTimeout?: number }) => {
      const file = o.output === undefined ? path.join(ROOT, defaultEnvFileName(o.stack)) : userPath(o.output);
      const problem = envFileOverwriteProblem(file, (await gitTracks(file)) === true);
      if (problem) throw new UserFacingError(problem);
      const entries = await stackAppEnv(o.stack, { timeoutMs: o.pulumiTimeout === undefined ? undefined : o.pulumiTimeout * 1000 });
      writeEnvFile(file, formatEnvFile(o.stack, entries));
      const ignored = await gitIgnores(file);
      const git = ignored === true ? 'git-ignored' : ignored === false ? 'NOT git-ignored: keep it out of version control' : 'not in a git work tree';
      say(`wrote ${file}: ${plural(entries.length, 'variable')} from stack "${o.stack}" (mode 0600, ${git}).`);
    });
}
