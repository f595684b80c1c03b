import { Command } from 'commander';
import { EXIT, projectPackage, TOOL } from './program';

/**
 * The operator tool's command tree: one definition per command (its flags, help and action) in
 * cli/commands/, the library behind each in lib/. cli/main.ts runs it.
 */
type Register = (program: Command) => void;

/**
 * Each command's module with the names it defines, in the order of the help. Loaded only when
 * needed: a start loads the command it runs and no other (a no-op `db:migrate` starts faster), and
 * all of them when the name is unknown or missing (the list, "did you mean").
 */
const COMMANDS: Array<[names: string[], load: () => Promise<Register>]> = [
  [['migrate', 'status'], async () => (await import('./commands/migrate')).registerMigrate],
  [['seed'], async () => (await import('./commands/seed')).registerSeed],
  [['verify'], async () => (await import('./commands/verify')).registerVerify],
  [['baseline'], async () => (await import('./commands/baseline')).registerBaseline],
  [['check'], async () => (await import('./commands/check')).registerCheck],
  [['lint'], async () => (await import('./commands/lint')).registerLint],
  [['studio'], async () => (await import('./commands/studio')).registerStudio],
  [['backup'], async () => (await import('./commands/backup')).registerBackup],
  [['restore'], async () => (await import('./commands/restore')).registerRestore],
  [['health'], async () => (await import('./commands/health')).registerHealth],
  [['env'], async () => (await import('./commands/env')).registerEnv],
  [['prepare'], async () => (await import('./commands/prepare')).registerPrepare],
];

/** The tree for `argv` (the arguments after the program's name). */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const { version } = projectPackage();
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
  const name = argv.find((arg) => !arg.startsWith('-'));
  const wanted = COMMANDS.filter(([names]) => name !== undefined && names.includes(name));
  for (const [, load] of wanted.length > 0 ? wanted : COMMANDS) (await load())(program);
  return program;
}

