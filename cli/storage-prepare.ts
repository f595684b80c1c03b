import { parseEndpoint } from '../lib/storage/object-store';
import { type PreparedStorage, prepareStorage, releaseStorage } from '../lib/storage/prepare';
import { preparedLine, previousPrepared } from '../common/step-output';
import { runCli, say, UsageError } from './run';

const USAGE = `usage: npm run storage:prepare -- --bucket KEY=NAME ... --mark MARK [--fresh --user NAME ... --policy NAME ... | --release [--volume NAME]]

Makes sure a stack's buckets exist and are the stack's, as the object store's administrator
(S3_ENDPOINT, S3_REGION, S3_ADMIN_ACCESS_KEY, S3_ADMIN_SECRET_KEY). It creates the missing ones,
tagged \`pulumi-stack=MARK\`, takes back the ones that bear that tag (kept by an earlier
\`pulumi destroy\`, with their objects), and refuses any other bucket of those names, saying what to
run, before it changes anything. \`pulumi up\` runs it before it sets the buckets' policy,
versioning and lifecycle.

  --bucket KEY=NAME  a bucket of the stack (documents=staging-documents, ...); repeat for each
  --mark MARK        the stack's mark, e.g. pulumi:pronunciation-assistant/staging
  --fresh            the stack's first deployment (or its first since a destroy): the users and
                     policies named with --user and --policy must not exist yet
  --release          what \`pulumi destroy\` runs last: keep the buckets, tagged released
  --volume NAME      with --release: the Docker volume that holds the store's data (own container)

On an update, the previous run's output (PULUMI_COMMAND_STDOUT, which the Pulumi command provider
sets) shows whether a bucket's name changed (bucketPrefix): one whose old bucket still holds
objects is refused, since S3 cannot rename a bucket.`;

const FLAGS = {
  bucket: { type: 'string', multiple: true },
  mark: { type: 'string' },
  fresh: { type: 'boolean' },
  user: { type: 'string', multiple: true },
  policy: { type: 'string', multiple: true },
  release: { type: 'boolean' },
  volume: { type: 'string' },
} as const;

runCli(
  USAGE,
  FLAGS,
  async (values) => {
    const mark = values.mark;
    if (typeof mark !== 'string' || mark.trim() === '') throw new UsageError('--mark is required');
    const pairs = (values.bucket as unknown as string[] | undefined) ?? [];
    if (pairs.length === 0) throw new UsageError('name at least one --bucket KEY=NAME');
    const buckets: Record<string, string> = {};
    for (const pair of pairs) {
      const match = /^([a-z]+)=([a-z0-9.-]{3,63})$/.exec(pair);
      if (!match) throw new UsageError(`--bucket ${pair}: expected KEY=NAME, e.g. documents=staging-documents`);
      buckets[match[1]] = match[2];
    }
    const env = process.env;
    const missing = ['S3_ENDPOINT', 'S3_ADMIN_ACCESS_KEY', 'S3_ADMIN_SECRET_KEY'].filter((name) => !env[name]);
    if (missing.length > 0) throw new UsageError(`${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
    const admin = {
      endpoint: parseEndpoint(env.S3_ENDPOINT!, 'S3_ENDPOINT'),
      region: env.S3_REGION || 'us-east-1',
      accessKey: env.S3_ADMIN_ACCESS_KEY!,
      secretKey: env.S3_ADMIN_SECRET_KEY!,
    };
    if (values.release && values.fresh) throw new UsageError('--fresh and --release exclude each other');
    if (values.release) return releaseStorage(admin, { buckets, mark }, say, typeof values.volume === 'string' ? values.volume : undefined);
    const list = (name: 'user' | 'policy') => (values[name] as unknown as string[] | undefined) ?? [];
    const prepared = await prepareStorage(
      admin,
      { buckets, mark, users: list('user'), policies: list('policy') },
      { fresh: Boolean(values.fresh), previous: previousPrepared<PreparedStorage>(env.PULUMI_COMMAND_STDOUT), say },
    );
    say(preparedLine(prepared));
  },
  { secretVariables: ['S3_ADMIN_SECRET_KEY'] },
);
