import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { ROOT } from '../common/paths';
import { registerBackup } from './commands/backup';
import { registerCheck } from './commands/check';
import { registerEnv } from './commands/env';
import { registerHealth } from './commands/health';
import { registerMigrate } from './commands/migrate';
import { registerPrepare } from './commands/prepare';
import { registerRestore } from './commands/restore';
import { registerSeed } from './commands/seed';
import { registerStudio } from './commands/studio';
import { EXIT, TOOL } from './program';

/**
 * The operator tool's command tree: one definition per command (its flags, help and action) in
 * cli/commands/, the library behind each in lib/. cli/main.ts runs it.
 */
export function buildProgram(): Command {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const program = new Command(TOOL)
    .description("The data stack's operator tool: migrations, seeds, backups, health, the app's env file.")
    .version(version, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `\nExit status: ${EXIT.done} done, ${EXIT.failed} failed, ${EXIT.usage} bad usage (an unknown command or flag, a bad value).\n` +
        'Through npm, put the flags after `--`: npm run db:migrate -- --dry-run',
    );
  for (const register of [registerMigrate, registerSeed, registerCheck, registerStudio, registerBackup, registerRestore, registerHealth, registerEnv, registerPrepare]) {
    register(program);
  }
  return program;
}

