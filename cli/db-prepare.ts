import { parseDatabaseUrl, UserFacingError } from '../lib/postgres/connection';
import { checkRolesDroppable, prepareDatabase, releaseDatabase } from '../lib/postgres/prepare';
import { type Prepared, preparedLine, previousPrepared } from '../common/step-output';
import { runCli, say, UsageError } from './run';

const USAGE = `usage: npm run db:prepare -- --database NAME --owner ROLE --mark MARK [--roles A,B,...] [--fresh | --release | --before-destroy]

Makes sure a stack's database and the role that owns it exist and are the stack's, with
DATABASE_URL the server's administrator (its database any but NAME; the stack's postgresAdminUrl
with /postgres, say). It creates what is missing, marked with MARK (their comment), takes back what
bears MARK (kept by an earlier \`pulumi destroy\`: the owner logs in again, with the password in
OWNER_PASSWORD), and refuses anything else of those names, saying what to run, before it changes
anything. \`pulumi up\` runs it before it creates the stack's other roles and grants.

  --database NAME  the stack's database
  --owner ROLE     the role that owns it, and the tables its migrations create
  --mark MARK      the stack's mark, e.g. pulumi:pronunciation-assistant/dev
  --roles A,B,...  the stack's other roles, which --fresh checks are not there yet
  --fresh          the stack's first deployment (or its first since a destroy)
  --release        what \`pulumi destroy\` runs last: keep both, and stop the owner from logging in
  --volume NAME    with --release: the Docker volume that holds the server's data (own container)
  --before-destroy what \`pulumi destroy\` runs first: check that nothing outside NAME keeps the
                   --roles from being dropped

OWNER_PASSWORD is the owner's password, or its SCRAM secret (PostgreSQL stores one as it is). On
an update, the previous run's output (PULUMI_COMMAND_STDOUT, which the Pulumi command provider
sets) shows whether the database's name changed; one that did, with the data left in the old
database, is refused.`;

const FLAGS = {
  database: { type: 'string' },
  owner: { type: 'string' },
  mark: { type: 'string' },
  roles: { type: 'string' },
  fresh: { type: 'boolean' },
  release: { type: 'boolean' },
  'before-destroy': { type: 'boolean' },
  volume: { type: 'string' },
} as const;

runCli(USAGE, FLAGS, async (values) => {
  const required = (name: 'database' | 'owner' | 'mark') => {
    const value = values[name];
    if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
    return value;
  };
  const plan = { database: required('database'), owner: required('owner'), mark: required('mark') };
  if ([values.fresh, values.release, values['before-destroy']].filter(Boolean).length > 1) throw new UsageError('--fresh, --release and --before-destroy exclude each other');
  const roles = typeof values.roles === 'string' ? values.roles.split(',').filter(Boolean) : [];
  const target = parseDatabaseUrl(process.env.DATABASE_URL);
  if (values.release || values['before-destroy']) {
    const work = values.release ? releaseDatabase(target, plan, say, typeof values.volume === 'string' ? values.volume : undefined) : checkRolesDroppable(target, { ...plan, roles }, say);
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
  if (ownerPassword === '') throw new UsageError('OWNER_PASSWORD is not set: the owner role\'s password (or SCRAM secret)');
  const prepared = await prepareDatabase(target, { ...plan, ownerPassword, roles }, {
    fresh: Boolean(values.fresh),
    previous: previousPrepared<Prepared>(process.env.PULUMI_COMMAND_STDOUT),
    say,
  });
  say(preparedLine(prepared));
}, { secretVariables: ['OWNER_PASSWORD'] });
