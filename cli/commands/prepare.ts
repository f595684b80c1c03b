import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Prepared, preparedLine, previousPrepared } from '../../common/step-output';
import { parseDatabaseUrl, UserFacingError } from '../../lib/postgres/connection';
import { checkRolesDroppable, prepareDatabase, releaseDatabase } from '../../lib/postgres/prepare';
import type { PreparedStorage } from '../../lib/storage/prepare';
import { nonEmpty, say } from '../program';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function bucketPair(pair: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([a-z]+)=([a-z0-9.-]{3,63})$/.exec(pair);
  if (!match) throw new InvalidArgumentError('expected KEY=NAME, e.g. documents=staging-documents');
  return { ...previous, [match[1]]: match[2] };
}

/** What `pulumi up` and `pulumi destroy` run around the resources inside the servers (stacks/inside/). */
export function registerPrepare(program: Command): void {
  const prepare = program
    .command('prepare')
    .summary("the deployment's steps around the database and the buckets (run by pulumi up and destroy)")
    .description('The steps `pulumi up` runs before it creates the roles and the buckets\' settings, and `pulumi destroy` around their removal.');

  prepare
    .command('database')
    .summary("make sure the stack's database and its owner exist and are the stack's")
    .description(
      "Makes sure a stack's database and the role that owns it exist and are the stack's, with\n" +
        "DATABASE_URL the server's administrator (its database any but NAME). It creates what is\n" +
        'missing, marked with MARK (their comment), takes back what bears MARK (kept by an earlier\n' +
        '`pulumi destroy`: the owner logs in again, with the password in OWNER_PASSWORD, or its SCRAM\n' +
        'secret), and refuses anything else of those names, saying what to run, before it changes\n' +
        "anything. On an update, the previous run's output (PULUMI_COMMAND_STDOUT, set by the Pulumi\n" +
        "command provider) shows whether the database's name changed; one that did, with the data left\n" +
        'in the old database, is refused.',
    )
    .requiredOption('--database <name>', "the stack's database", nonEmpty)
    .requiredOption('--owner <role>', 'the role that owns it, and the tables its migrations create', nonEmpty)
    .requiredOption('--mark <mark>', "the stack's mark, e.g. pulumi:pronunciation-assistant/dev", nonEmpty)
    .option('--roles <a,b,...>', "the stack's other roles, which --fresh checks are not there yet", (v) => v.split(',').filter(Boolean), [] as string[])
    .addOption(new Option('--fresh', "the stack's first deployment (or its first since a destroy)").conflicts(['release', 'beforeDestroy']))
    .addOption(new Option('--release', 'what `pulumi destroy` runs last: keep both, and stop the owner from logging in').conflicts(['beforeDestroy']))
    .option('--volume <name>', "with --release: the Docker volume that holds the server's data (own container)", nonEmpty)
    .option('--before-destroy', 'what `pulumi destroy` runs first: check that nothing outside NAME keeps the --roles from being dropped')
    .action(async (o: { database: string; owner: string; mark: string; roles: string[]; fresh?: boolean; release?: boolean; volume?: string; beforeDestroy?: boolean }) => {
      const plan = { database: o.database, owner: o.owner, mark: o.mark };
      const target = parseDatabaseUrl(process.env.DATABASE_URL);
      if (o.release || o.beforeDestroy) {
        const work = o.release ? releaseDatabase(target, plan, say, o.volume) : checkRolesDroppable(target, { ...plan, roles: o.roles }, say);
        return work.catch((error: unknown) => {
          // During `pulumi destroy`: a server that is gone for good must not keep the stack from going.
          if (error instanceof UserFacingError && error.message.startsWith('cannot connect to')) {
            throw new UserFacingError(
              `${error.message}. If that server is gone for good, take what the stack had on it out of its state instead: ` +
                "pulumi state delete --force --target-dependents '<URN of the Database component's prepare step>' (pulumi stack --show-urns lists it; " +
                '--force: it is protected where the data is), then run pulumi destroy again.',
            );
          }
          throw error;
        });
      }
      const ownerPassword = process.env.OWNER_PASSWORD ?? '';
      if (ownerPassword === '') throw new UserFacingError("OWNER_PASSWORD is not set: the owner role's password (or SCRAM secret)");
      const prepared = await prepareDatabase(target, { ...plan, ownerPassword, roles: o.roles }, {
        fresh: Boolean(o.fresh),
        previous: previousPrepared<Prepared>(process.env.PULUMI_COMMAND_STDOUT),
        say,
      });
      say(preparedLine(prepared));
    });

  prepare
    .command('storage')
    .summary("make sure the stack's buckets exist and are the stack's")
    .description(
      "Makes sure a stack's buckets exist and are the stack's, as the object store's administrator\n" +
        '(S3_ENDPOINT, S3_REGION, S3_ADMIN_ACCESS_KEY, S3_ADMIN_SECRET_KEY). It creates the missing ones,\n' +
        'tagged `pulumi-stack=MARK`, takes back the ones that bear that tag (kept by an earlier\n' +
        '`pulumi destroy`, with their objects), and refuses any other bucket of those names, saying what\n' +
        "to run, before it changes anything. On an update, the previous run's output\n" +
        "(PULUMI_COMMAND_STDOUT) shows whether a bucket's name changed (bucketPrefix): one whose old\n" +
        'bucket still holds objects is refused, since S3 cannot rename a bucket.',
    )
    .requiredOption('--bucket <key=name>', 'a bucket of the stack (documents=staging-documents, ...); repeat for each', bucketPair)
    .requiredOption('--mark <mark>', "the stack's mark, e.g. pulumi:pronunciation-assistant/staging", nonEmpty)
    .addOption(new Option('--fresh', "the stack's first deployment (or its first since a destroy): the --user and --policy names must not exist yet").conflicts('release'))
    .option('--user <name>', 'a user of the stack (with --fresh); repeat for each', collect, [] as string[])
    .option('--policy <name>', 'a policy of the stack (with --fresh); repeat for each', collect, [] as string[])
    .option('--release', 'what `pulumi destroy` runs last: keep the buckets, tagged released')
    .option('--volume <name>', "with --release: the Docker volume that holds the store's data (own container)", nonEmpty)
    .action(async (o: { bucket: Record<string, string>; mark: string; fresh?: boolean; user: string[]; policy: string[]; release?: boolean; volume?: string }) => {
      // The S3 client is loaded when the command runs: --help and a usage error stay fast.
      const [{ parseEndpoint }, { prepareStorage, releaseStorage }] = await Promise.all([import('../../lib/storage/object-store'), import('../../lib/storage/prepare')]);
      const env = process.env;
      const missing = ['S3_ENDPOINT', 'S3_ADMIN_ACCESS_KEY', 'S3_ADMIN_SECRET_KEY'].filter((name) => !env[name]);
      if (missing.length > 0) throw new UserFacingError(`${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
      const admin = {
        endpoint: parseEndpoint(env.S3_ENDPOINT!, 'S3_ENDPOINT'),
        region: env.S3_REGION || 'us-east-1',
        accessKey: env.S3_ADMIN_ACCESS_KEY!,
        secretKey: env.S3_ADMIN_SECRET_KEY!,
      };
      const buckets = o.bucket;
      if (o.release) return releaseStorage(admin, { buckets, mark: o.mark }, say, o.volume);
      const prepared = await prepareStorage(
        admin,
        { buckets, mark: o.mark, users: o.user, policies: o.policy },
        { fresh: Boolean(o.fresh), previous: previousPrepared<PreparedStorage>(env.PULUMI_COMMAND_STDOUT), say },
      );
      say(preparedLine(prepared));
    });
}
