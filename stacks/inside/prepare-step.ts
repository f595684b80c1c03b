import * as command from '@pulumi/command';
import type * as pulumi from '@pulumi/pulumi';

/** Words for the deployment steps' `/bin/sh -c`, each single-quoted: names in them come from config. */
export const shellWords = (words: string[]): string => words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');

/** What runs the steps' scripts, as the command provider's `interpreter`. */
export const STEP_INTERPRETER = ['/bin/sh', '-c'];

export interface PrepareStepArgs {
  /** The command every run starts with: `npm run --silent <script> -- ...`. */
  command: string[];
  /** Added to the first run (create) and to an update. */
  everyRun?: string[];
  /** Added to the first run only (after everyRun). */
  firstRun: string[];
  /** The Docker volume holding the server's data, where the stack runs it: the release names it. */
  volume?: string;
  environment: Record<string, pulumi.Input<string>>;
  dependsOn: pulumi.Resource[];
  protect: boolean;
}

/**
 * A prepare step (db:prepare, storage:prepare): its first run creates or takes back what holds the
 * stack's data, an update runs it again, and its delete (`--release`) keeps the data and says how to
 * delete it for good. Never replaced in place of an update (nothing of it forces one); were it ever,
 * the old one's release must not follow the new one's preparation: delete before replace.
 */
export function prepareStep(parent: pulumi.Resource, args: PrepareStepArgs): command.local.Command {
  const everyRun = [...args.command, ...(args.everyRun ?? [])];
  return new command.local.Command(
    'prepare',
    {
      create: shellWords([...everyRun, ...args.firstRun]),
      update: shellWords(everyRun),
      delete: shellWords([...args.command, '--release', ...(args.volume ? ['--volume', args.volume] : [])]),
      interpreter: STEP_INTERPRETER,
      environment: args.environment,
      logging: 'stdoutAndStderr',
    },
    { parent, dependsOn: args.dependsOn, protect: args.protect, deleteBeforeReplace: true },
  );
}
