import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { APP_ENV, type AppOutput, BUCKETS } from './app-env';
import { UserFacingError } from './connection';

/**
 * `.env.<stack>`: the stack outputs the application consumes (db/app-env.ts), as the environment
 * variables it reads. Nothing here prints or puts a value into an error message: most are secrets.
 */

/** A stack name as this command accepts it: it becomes part of a file name, `.env.<stack>`. */
export const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

/** The file's permissions: it holds passwords and access keys. */
export const ENV_FILE_MODE = 0o600;

export function defaultEnvFileName(stack: string): string {
  return `.env.${stack}`;
}

/**
 * Quotes a value for a dotenv file. One rule, chosen so that the common case is read literally by
 * every dotenv reader (npm dotenv, python-dotenv, godotenv, Docker Compose's env_file, a shell's
 * `source`):
 *
 * - no single quote and no line break in the value: single quotes, 'value'. Nothing inside single
 *   quotes is special: not `$` (no interpolation), `#`, `"`, `\` or spaces. Every value the program
 *   produces (URLs with alphanumeric passwords, keys, bucket names) takes this form.
 * - otherwise: double quotes, with `\` `"` `$` written as `\\` `\"` `\$`, a line feed as `\n` and a
 *   carriage return as `\r`. python-dotenv, godotenv and Compose undo all of these; npm dotenv undoes
 *   only `\n` and `\r`, so a value with a `'` or a line break AND a `\`, `"` or `$` would be misread
 *   there (no output of the program has one).
 *
 * Each variable is therefore exactly one line.
 */
export function quoteEnvValue(value: string): string {
  if (!value.includes("'") && !/[\r\n]/.test(value)) return `'${value}'`;
  const escaped = value.replace(/[\\"$\n\r]/g, (c) => ({ '\\': '\\\\', '"': '\\"', $: '\\$', '\n': '\\n', '\r': '\\r' })[c] as string);
  return `"${escaped}"`;
}

/** Why a stack name cannot be used, or undefined when it can. The message shows it: a name is no secret. */
export function stackNameProblem(stack: string): string | undefined {
  return STACK_NAME.test(stack)
    ? undefined
    : `the stack name ${JSON.stringify(stack)} may hold only letters, digits, "_", "." and "-" (it becomes part of a file name)`;
}

/** The variables in file order: APP_ENV's order, `buckets` expanded in BUCKETS' order (then any other bucket). */
export function appEnvEntries(stack: string, outputs: Record<string, unknown>): Array<[name: string, value: string]> {
  const badName = stackNameProblem(stack);
  if (badName) throw new UserFacingError(badName);
  const problems: string[] = [];
  const entries: Array<[string, string]> = [];
  for (const [output, variable] of Object.entries(APP_ENV) as Array<[AppOutput, string]>) {
    const value = Object.prototype.hasOwnProperty.call(outputs, output) ? outputs[output] : undefined;
    if (output === 'buckets') {
      if (value === undefined || value === null) {
        problems.push('buckets (missing)');
        continue;
      }
      if (typeof value !== 'object' || Array.isArray(value)) {
        problems.push('buckets (not an object of bucket names)');
        continue;
      }
      const buckets = value as Record<string, unknown>;
      const keys = [...BUCKETS, ...Object.keys(buckets).filter((k) => !(BUCKETS as readonly string[]).includes(k))];
      for (const key of keys) {
        const name = Object.prototype.hasOwnProperty.call(buckets, key) ? buckets[key] : undefined;
        if (name === undefined || name === null) problems.push(`buckets.${key} (missing)`);
        else if (typeof name !== 'string') problems.push(`buckets.${key} (not a string)`);
        else if (!/^[A-Za-z0-9_]+$/.test(key)) problems.push(`buckets.${JSON.stringify(key)} (its key cannot be part of a variable name)`);
        else entries.push([`${variable}${key.toUpperCase()}`, name]);
      }
      continue;
    }
    if (value === undefined || value === null) problems.push(`${output} (missing)`);
    else if (typeof value !== 'string') problems.push(`${output} (not a string)`);
    else entries.push([variable, value]);
  }
  if (problems.length > 0) {
    throw new UserFacingError(
      `stack "${stack}" does not have the outputs the application needs: ${problems.join(', ')}. ` +
        'The stack may not be deployed yet, or was last deployed by an older version of the program: ' +
        `run \`pulumi up --stack ${stack}\` first.`,
    );
  }
  return entries;
}

/**
 * The text of `.env.<stack>`: a header, then one NAME=value line per variable (see quoteEnvValue).
 * Throws a UserFacingError naming every output that is missing or of the wrong type.
 */
export function renderEnvFile(stack: string, outputs: Record<string, unknown>): string {
  return formatEnvFile(stack, appEnvEntries(stack, outputs));
}

/** The file's text for entries already checked by appEnvEntries. */
export function formatEnvFile(stack: string, entries: Array<[name: string, value: string]>): string {
  const header = [
    `# Generated by \`npm run env -- ${stack}\` from the outputs of the Pulumi stack "${stack}". Do not edit:`,
    '# run the command again after `pulumi up` instead.',
    '# Holds secrets (passwords, access keys): keep it private (mode 0600) and out of version control.',
  ];
  return `${[...header, ...entries.map(([name, value]) => `${name}=${quoteEnvValue(value)}`)].join('\n')}\n`;
}

/**
 * Reads what `pulumi stack output --json` printed. Never repeats the text, not even in part (a
 * JSON.parse message quotes it): it holds secrets.
 */
export function parseStackOutputs(stack: string, json: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new UserFacingError(
      `the outputs of stack "${stack}" that pulumi printed are not valid JSON (${json.length} characters; not shown: they hold secrets).`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UserFacingError(`the outputs of stack "${stack}" that pulumi printed are not a JSON object (not shown: they may hold secrets).`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Writes the file atomically: the text goes into a new file in the same folder, created with mode
 * 0600, which is then renamed over the target. A reader sees the old file or the new one, never
 * half of one; the secrets are never in a file others can read, even for a moment; and the result
 * is mode 0600 whatever the permissions of a file it replaces (rename replaces it, it is not reused).
 */
export function writeEnvFile(file: string, text: string): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', ENV_FILE_MODE);
    fs.fchmodSync(fd, ENV_FILE_MODE); // the umask may have narrowed it further
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw new UserFacingError(`cannot write ${target}: ${describeWriteError(error, dir)}`);
  }
}

function describeWriteError(error: unknown, dir: string): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return `the folder ${dir} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${e.code}): the folder must be writable`;
    case 'EISDIR':
      return 'it is a folder';
    case 'EROFS':
      return 'the file system is read-only';
    default:
      return e.code ?? (error instanceof Error ? error.message : String(error));
  }
}
