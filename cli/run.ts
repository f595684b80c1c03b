import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDatabaseUrl, redact, UserFacingError } from '../lib/postgres/connection';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A bad flag or flag value: exit status 2, with the usage. */
export class UsageError extends UserFacingError {
  override name = 'UsageError';
}

/** The password in DATABASE_URL, if it parses, to scrub from text we did not write. */
function passwordToRedact(): { password: string } | undefined {
  try {
    return parseDatabaseUrl(process.env.DATABASE_URL);
  } catch {
    return undefined;
  }
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * Runs a command: parses flags strictly (a typo is an error, not ignored), prints a clear message
 * for expected failures and exits non-zero on any failure. Our messages never hold the password;
 * anything unexpected (a stack trace, say) is scrubbed of it before it is printed.
 */
export function runCli(
  usage: string,
  options: Options,
  main: (values: Values, positionals: string[]) => Promise<void>,
  { allowPositionals = false, secretVariables = [] }: { allowPositionals?: boolean; secretVariables?: string[] } = {},
): void {
  const fail = (code: number, text: string) => {
    process.stderr.write(`${text}\n`);
    process.exit(code);
  };
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (error) {
    return fail(EXIT_USAGE, `error: ${(error as Error).message}\n\n${usage}`);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  main(values, positionals).then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      if (error instanceof UsageError) return fail(EXIT_USAGE, `error: ${error.message}\n\n${usage}`);
      if (error instanceof UserFacingError) return fail(EXIT_FAILURE, `error: ${error.message}`);
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      // Secrets of other variables too, should a server's error ever quote them.
      const scrubbed = secretVariables.reduce((t, name) => redact(t, { password: process.env[name] ?? '' }), redact(text, passwordToRedact()));
      return fail(EXIT_FAILURE, `error: unexpected failure: ${scrubbed}`);
    },
  );
}

/** Reads a number (of `unit`) from a flag, within [min, max], or the default. */
export function numberFlag(values: Values, name: string, unit: string, fallback: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number of ${unit} from ${min} to ${max}, not "${String(raw)}"`);
  }
  return n;
}

/** Reads a number of seconds from a flag, within [min, max], or the default. */
export function secondsFlag(values: Values, name: string, fallback: number, min: number, max: number): number {
  return numberFlag(values, name, 'seconds', fallback, min, max);
}
