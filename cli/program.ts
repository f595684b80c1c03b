import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { APP_ENV, BACKUP_DATABASE_URL } from '../common/names';
import { ROOT } from '../common/paths';
import { parseDatabaseUrl, redact, UserFacingError, type DatabaseTarget } from '../lib/postgres/connection';
import { stackNameProblem } from '../lib/stack/env-file';
import { DEFAULT_PULUMI_TIMEOUT_SECONDS, MAX_PULUMI_TIMEOUT_SECONDS, PULUMI_TIMEOUT_VARIABLE } from '../lib/stack/outputs';

/**
 * What every command shares: the exit codes, how errors are shown, the flag parsers and the rules
 * for the stack name, the login and the paths a user types. The command tree is cli/tree.ts.
 */

/** The exit codes of every command (README, "The operator tool"). */
export const EXIT = { done: 0, failed: 1, usage: 2 } as const;

export const TOOL = 'pa-data';

/** A bad flag, flag value or combination: exit status 2. */
export class UsageError extends UserFacingError {
  override name = 'UsageError';
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Progress for a person: on stderr when stdout carries JSON for a script. */
export const progress = (json: boolean) => (line: string) => (json ? process.stderr.write(`${line}\n`) : say(line));

/** A flag parser for a number of `unit` within [min, max]: a bad value is a usage error naming the range. */
export function numberIn(unit: string, min: number, max: number, integer = false): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`must be ${integer ? 'a whole number' : 'a number'} of ${unit} from ${min} to ${max}`);
    }
    return n;
  };
}

export function stackName(raw: string): string {
  const problem = stackNameProblem(raw);
  if (problem) throw new InvalidArgumentError(problem);
  return raw;
}

/** The one way every command names a stack. */
export const stackOption = (description: string) => new Option('-s, --stack <name>', description).argParser(stackName);

/** The bound on `pulumi stack output` for the commands that read a stack's outputs (lib/stack/outputs.ts). */
export const pulumiTimeoutOption = () =>
  new Option(
    '--pulumi-timeout <seconds>',
    `how long \`pulumi stack output\` may take before it is stopped (default: ${PULUMI_TIMEOUT_VARIABLE} if set, else ${DEFAULT_PULUMI_TIMEOUT_SECONDS})`,
  ).argParser(numberIn('seconds', 1, MAX_PULUMI_TIMEOUT_SECONDS, true));

/** A non-empty text flag (a folder, a file, a name). */
export function nonEmpty(raw: string): string {
  if (raw.trim() === '') throw new InvalidArgumentError('must not be empty');
  return raw;
}

/** The project's package.json, read once per start (the version, and the scripts that alias the tool). */
let packageJson: { version: string; scripts?: Record<string, string> } | undefined;
export function projectPackage(): { version: string; scripts?: Record<string, string> } {
  packageJson ??= JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts?: Record<string, string> };
  return packageJson;
}

/**
 * The words after `cli/launch.js` in the package.json script npm is running (`npm run db:prepare`:
 * `prepare database`), or undefined when npm is not running one of this tool's aliases. Another
 * npm's variables, inherited from further up (a test run started by `npm test`, say), do not count.
 */
function npmAlias(env: NodeJS.ProcessEnv): string[] | undefined {
  const event = env.npm_lifecycle_event;
  if (!event) return undefined;
  try {
    const scripts = projectPackage().scripts ?? {};
    const words = /\bcli\/launch\.js\b(.*)$/.exec(scripts[event] ?? '')?.[1];
    return words === undefined ? undefined : words.split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
}

/**
 * Where a path the user typed is relative to: the folder the user ran npm in (npm runs a script in
 * the project root and keeps the user's folder in INIT_CWD: npm's @npmcli/config lib/set-envs.js),
 * else the current one.
 */
export function userPath(file: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = npmAlias(env) && env.INIT_CWD ? env.INIT_CWD : process.cwd();
  return path.resolve(base, file);
}

/**
 * `npm run db:migrate --dry-run` (no `--`) gives `--dry-run` to npm, which exports it to the script
 * as npm_config_dry_run (@npmcli/config lib/set-envs.js: every flag typed on npm's command line)
 * and runs the command without it: a dry run would apply every migration. The flags of the aliased
 * command that arrived that way, checked before anything is parsed or run.
 */
export function npmSwallowedFlags(program: Command, env: NodeJS.ProcessEnv = process.env): string[] {
  const words = npmAlias(env);
  if (!words) return [];
  let command: Command | undefined = program;
  for (const word of words.filter((w) => !w.startsWith('-'))) command = command?.commands.find((c) => c.name() === word);
  return (command?.options ?? [])
    .map((o) => o.long)
    .filter((long): long is string => {
      // A flag npm took is 'true' (or its value, typed as --flag=value); '' and 'false' come from an .npmrc setting.
      const value = long === undefined ? undefined : env[`npm_config_${long.slice(2).replace(/-/g, '_').toLowerCase()}`];
      return value !== undefined && value !== '' && value !== 'false';
    });
}

/** The login for migrations and seeds: MIGRATOR_DATABASE_URL when set (the name in .env.<stack>), else DATABASE_URL. */
export function migratorLogin(env: NodeJS.ProcessEnv = process.env): { target: DatabaseTarget; variable: string } {
  if (!env.MIGRATOR_DATABASE_URL && !env.DATABASE_URL) {
    throw new UserFacingError(
      "neither MIGRATOR_DATABASE_URL nor DATABASE_URL is set: set MIGRATOR_DATABASE_URL to the migrator's login (the stack's " +
        '`migratorDatabaseUrl` output; `npm run env -- --stack <name>` writes it to .env.<stack>), e.g. postgres://pa_migrator:PASSWORD@HOST:5432/pronunciation_assistant',
    );
  }
  const variable = env.MIGRATOR_DATABASE_URL ? 'MIGRATOR_DATABASE_URL' : 'DATABASE_URL';
  return { target: parseDatabaseUrl(env[variable], variable), variable };
}

/** The passwords in the URL variables of .env.<stack>, if they parse, to scrub from text we did not write. */
function passwordsToRedact(env: NodeJS.ProcessEnv, secretVariables: readonly string[]): string[] {
  const urls = [APP_ENV.databaseUrl, APP_ENV.directDatabaseUrl, APP_ENV.migratorDatabaseUrl, APP_ENV.readonlyDatabaseUrl, APP_ENV.redisUrl, BACKUP_DATABASE_URL];
  const fromUrl = urls.flatMap((name) => {
    try {
      return env[name] ? [decodeURIComponent(new URL(env[name]!).password)] : [];
    } catch {
      return [];
    }
  });
  return [...fromUrl, ...secretVariables.map((name) => env[name] ?? '')].filter(Boolean);
}

/**
 * Runs the tree: commander parses and reports bad usage (exit 2, with "did you mean" and the
 * command's help hint); our errors print their message (exit 1, or 2 for a UsageError); anything
 * unexpected prints its stack, scrubbed of every password the environment holds.
 */
export async function runProgram(program: Command, argv: string[], secretVariables: readonly string[]): Promise<never> {
  const fail = (code: number, text: string): never => {
    process.stderr.write(`${text}\n`);
    process.exit(code);
  };
  try {
    const swallowed = npmSwallowedFlags(program);
    if (swallowed.length > 0) {
      throw new UsageError(
        `npm took ${swallowed.join(', ')} for itself (typed before \`--\`), so the command would run without ${swallowed.length === 1 ? 'it' : 'them'}: nothing was run. ` +
          `Put the command's flags after \`--\`: npm run ${process.env.npm_lifecycle_event} -- ${swallowed.join(' ')} ...`,
      );
    }
    await program.parseAsync(argv, { from: 'user' });
    return process.exit(process.exitCode ?? EXIT.done);
  } catch (error) {
    if (error instanceof CommanderError) return process.exit(error.exitCode === 0 ? EXIT.done : EXIT.usage);
    if (error instanceof UsageError) return fail(EXIT.usage, `error: ${error.message}\n(add --help for usage)`);
    if (error instanceof UserFacingError) return fail(EXIT.failed, `error: ${error.message}`);
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    const scrubbed = passwordsToRedact(process.env, secretVariables).reduce((t, password) => redact(t, { password }), text);
    return fail(EXIT.failed, `error: unexpected failure: ${scrubbed}`);
  }
}
