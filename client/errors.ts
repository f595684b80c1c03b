import { UserFacingError } from '../lib/postgres/connection';

/**
 * The errors the client modules throw for a service's own mistakes (a variable missing or wrong,
 * the wrong login, a database behind the code). Each has a stable `code` a service can switch on
 * and a message that names the thing and the fix. No message ever holds a password or a secret key.
 */
export class ClientError extends Error {
  override name = 'ClientError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A variable the module needs is unset or empty. */
export class MissingVariableError extends ClientError {
  override name = 'MissingVariableError';
  constructor(readonly variable: string, what: string) {
    super('MISSING_VARIABLE', `${variable} is not set: it holds ${what}. Write the stack's variables with \`npm run env -- --stack <stack>\` and load that file, or set ${variable} yourself.`);
  }
}

/** A variable is set but cannot be used as it is (its value is never repeated: it may hold a secret). */
export class InvalidVariableError extends ClientError {
  override name = 'InvalidVariableError';
  constructor(readonly variable: string, why: string) {
    super('INVALID_VARIABLE', `${variable} ${why}`);
  }
}

/** The variables a module reads: process.env unless a service passes its own. */
export type Variables = Readonly<Record<string, string | undefined>>;

/** The value of `variable`, or a MissingVariableError saying what it holds. */
export function requireVariable(vars: Variables, variable: string, what: string): string {
  const value = vars[variable];
  if (value === undefined || value.trim() === '') throw new MissingVariableError(variable, what);
  return value;
}

/**
 * `parse` of the value of `variable` (a MissingVariableError when unset, saying what it holds). The
 * project's parsers (lib/) word each problem as "<variable> <why>" in a UserFacingError, which
 * becomes an InvalidVariableError; none repeats the value, which may hold a secret.
 */
export function parseVariable<T>(vars: Variables, variable: string, what: string, parse: (value: string) => T): T {
  const value = requireVariable(vars, variable, what);
  try {
    return parse(value);
  } catch (error) {
    if (!(error instanceof UserFacingError)) throw error;
    const why = error.message.startsWith(`${variable} `) ? error.message.slice(variable.length + 1) : `cannot be used: ${error.message}`;
    throw new InvalidVariableError(variable, why);
  }
}

/** An argument a service passed cannot be used: a malformed id, an expiry over the maximum, an option out of range. */
export class InvalidArgumentError extends ClientError {
  override name = 'InvalidArgumentError';
  constructor(readonly argument: string, why: string) {
    super('INVALID_ARGUMENT', `${argument} ${why}`);
  }
}
