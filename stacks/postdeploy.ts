import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import { APP_ENV, BACKUP_DATABASE_URL } from '../common/names';
import { ROOT } from '../common/paths';

/** What decides whether the post-deploy step must run again: migrations (with drizzle's snapshots) and seeds. */
export const SCHEMA_INPUTS = ['schema/migrations', 'schema/seeds'];

/**
 * A hash of every file under SCHEMA_INPUTS, by path and content. The post-deploy command's trigger:
 * it changes exactly when a migration or seed file is added, removed, renamed or edited.
 */
export function schemaInputsHash(root: string = ROOT): string {
  const hash = createHash('sha256');
  const files = SCHEMA_INPUTS.flatMap((dir) => listFiles(path.join(root, dir))).sort();
  if (files.length === 0) throw new Error(`no migration or seed files under ${SCHEMA_INPUTS.join(', ')} in ${root}`);
  for (const file of files) {
    hash.update(`${path.relative(root, file).split(path.sep).join('/')}\0`);
    hash.update(fs.readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/**
 * The command a person would run: the project's own scripts, quiet npm, the runner's own messages.
 * With `backupStack` (config backupBeforeMigrate), `db:migrate --backup-first --stack <stack>`: when
 * migrations are pending, it backs the database up as the backup role (BACKUP_DATABASE_URL) into
 * the project's backups/ folder, holding the migration lock, prints the file on a line of its own,
 * and only then migrates; a failed backup fails the step with nothing applied.
 */
export function postDeployScript(demoData: boolean, backupStack?: string): string {
  if (backupStack !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(backupStack)) {
    throw new Error(`the stack name ${JSON.stringify(backupStack)} cannot name a backup file`);
  }
  const migrate = backupStack === undefined ? 'npm run --silent db:migrate' : `npm run --silent db:migrate -- --backup-first --stack ${backupStack}`;
  const seed = demoData ? 'npm run --silent db:seed -- --demo' : 'npm run --silent db:seed';
  return `${migrate} && ${seed}`;
}

export interface PostDeployArgs {
  /** The migrator's direct URL (a secret): migrations need a session of their own, not a pooled one. */
  migratorUrl: pulumi.Input<string>;
  demoData: boolean;
  /**
   * config backupBeforeMigrate: the backup role's direct URL (a secret) and the stack the backup
   * file is named after. Absent: no backup, and the backup role's login is not handed to the step.
   */
  backupFirst?: { backupUrl: pulumi.Input<string>; stack: string };
  /** The database's identity (Database.identity): a new database is migrated and seeded anew. */
  database: pulumi.Input<string>;
  /** The database, roles and grants the migrations rely on. */
  dependsOn: pulumi.Resource[];
}

/**
 * Migrates and seeds the database as the last step of `pulumi up`, on the machine that runs it, from
 * this project folder. A failure fails the deployment with the runner's own message, which never
 * holds a password.
 *
 * When it runs (pulumi/pulumi-command v1.2.1: only `triggers` replaces, provider/pkg/provider/common/
 * inputs.go; any other change of input is an update, which runs `create` again,
 * local/commandController.go, Update): on the stack's first `up`; when a migration or seed file
 * changes, or the database is a new one (the triggers); and when its URL (a moved host or port) or
 * demoData or backupBeforeMigrate (the script and BACKUP_DATABASE_URL) changes; adding
 * MIGRATOR_DATABASE_URL to its environment is such an update too (its first `up` after this change
 * runs the step again, which changes nothing when nothing is pending). Both commands change
 * nothing when there is nothing to do: a run with no pending migration takes no backup either. It has no `dir`: the
 * provider runs it where Pulumi runs its plugins, the project folder (pulumi/pulumi
 * sdk/go/common/resource/plugin/plugin.go, `cmd.Dir = pwd`; the command's own default is the
 * provider's working directory, local/commandOutputs.go), so the folder a checkout lives in is no
 * input and changes nothing.
 */
export class PostDeploy extends pulumi.ComponentResource {
  readonly command: command.local.Command;

  constructor(name: string, args: PostDeployArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:PostDeploy', name, {}, opts);
    this.command = new command.local.Command(
      'migrate-and-seed',
      {
        create: postDeployScript(args.demoData, args.backupFirst?.stack),
        interpreter: ['/bin/sh', '-c'],
        // Both variables the runner reads (cli/program.ts, migratorLogin: MIGRATOR_DATABASE_URL first):
        // the provider starts the step with the whole environment of the machine running `pulumi up`
        // and appends these after it (pulumi/pulumi-command v1.2.1, provider/pkg/provider/local/
        // commandOutputs.go: `cmd.Env = os.Environ()`, then each of `environment`), and of a variable
        // set twice a child gets the last (Go's os/exec, Cmd.Env). So a deployer's own exported
        // MIGRATOR_DATABASE_URL never chooses the database migrated: the stack's migrator URL does.
        environment: {
          DATABASE_URL: pulumi.secret(args.migratorUrl),
          [APP_ENV.migratorDatabaseUrl]: pulumi.secret(args.migratorUrl),
          ...(args.backupFirst ? { [BACKUP_DATABASE_URL]: pulumi.secret(args.backupFirst.backupUrl) } : {}),
        },
        triggers: [schemaInputsHash(), args.database],
        addPreviousOutputInEnv: false,
        logging: 'stdoutAndStderr',
      },
      // Its output names no secret, but state is no place to find out.
      { parent: this, dependsOn: args.dependsOn, additionalSecretOutputs: ['stdout', 'stderr'] },
    );
    this.registerOutputs({});
  }
}
