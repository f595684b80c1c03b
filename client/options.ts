import { InvalidArgumentError } from './errors';

/**
 * A whole-number option (a time in ms or s, a count) of a client module: its default when the
 * service leaves it out, else the value checked against its range, so that a typo such as 5 for
 * 5000 ms, or a 0 that a library would read as "no limit", is refused where it is made.
 */
export function wholeNumberOption(name: string, value: number | undefined, fallback: number, min: number, max: number, unit: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be a whole number of ${unit} from ${min} to ${max}; got ${String(value)}. Leave it out for the default, ${fallback}.`);
  }
  return value;
}
