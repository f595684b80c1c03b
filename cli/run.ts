import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type DatabaseTarget, parseDatabaseUrl, redact, UserFacingError } from '../db/connection';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The target from DATABASE_URL if it parses, so that every message can be scrubbed of its password. */
function targetForRedaction(): DatabaseTarget | undefined {
  try {
    return parseDatabaseUrl(process.env.DATABASE_URL);
  } catch {
    return undefined;
  }
}

/** Prints through the password filter; commands print nothing any other way. */
export function say(line: string): void {
  process.stdout.write(`${redact(line, targetForRedaction())}\n`);
}

/**
 * Runs a command: parses flags strictly (a typo is an error, not ignored), prints a clear message
 * for expected failures and exits non-zero on any failure, never printing a password.
 */
export function runCli(usage: string, options: Options, main: (values: Values) => Promise<void>): void {
  let values: Values;
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values as Values;
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${usage}\n`);
    process.exit(EXIT_USAGE);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  main(values).then(
    () => process.exit(0),
    (error: unknown) => {
      const target = targetForRedaction();
      const text =
        error instanceof UserFacingError
          ? `error: ${error.message}`
          : `error: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      process.stderr.write(`${redact(text, target)}\n`);
      process.exit(EXIT_FAILURE);
    },
  );
}

/** Reads a positive number flag, or the default. */
export function numberFlag(values: Values, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(n) || n <= 0) {
    throw new UserFacingError(`--${name} must be a positive number of seconds, not "${String(raw)}"`);
  }
  return n;
}
