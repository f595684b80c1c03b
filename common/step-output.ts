/**
 * What a deployment step prints last, as JSON, for its next run. The Pulumi command provider hands
 * a step its previous output on an update (PULUMI_COMMAND_STDOUT, with `addPreviousOutputInEnv`:
 * pulumi/pulumi-command v1.2.1 provider/pkg/provider/local/commandOutputs.go), which is how a step
 * tells that a name changed since the last run.
 */

export const PREPARED_PREFIX = 'prepared: ';

export const preparedLine = (value: unknown): string => `${PREPARED_PREFIX}${JSON.stringify(value)}`;

/** The value of the last `prepared:` line of a previous run's output, if it has one. */
export function previousPrepared<T>(output: string | undefined): T | undefined {
  const line = output?.split('\n').reverse().find((l) => l.startsWith(PREPARED_PREFIX));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice(PREPARED_PREFIX.length)) as T;
  } catch {
    return undefined;
  }
}

/** What the database prepare step (lib/postgres/prepare.ts) reports on its last line, for the next run and for the post-deploy step's trigger. */
export interface Prepared {
  database: string;
  owner: string;
  /** The database's OID: a new one means a new database, which must be migrated again. */
  oid: number;
  /** The stack's mark then: another one now means a renamed stack. */
  mark?: string;
}
