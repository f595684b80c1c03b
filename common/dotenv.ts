/**
 * The dotenv format both sides write: `.env.<stack>` (lib/stack/env-file.ts) and the backup
 * container's credentials file (stacks/containers/backups.ts), which node reads with --env-file.
 */

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
