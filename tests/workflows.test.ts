/**
 * The GitHub workflows (.github/workflows) and their shared action (.github/actions/stack-access),
 * read as a reviewer would: each file valid for GitHub (action-validator); pull requests run the
 * test suite in a pinned Debian bookworm container, then preview every committed stack with the
 * policy pack and never deploy; drift checks staging and prod with
 * --refresh --expect-no-changes; deploy runs prod in its environment; every third-party action
 * pinned to a commit with its version beside it; the least permissions; no secret printed.
 *
 * Each check is a function of the parsed (or raw) files that returns the problems it finds. Every
 * test applies it to the committed files (no problem) and to a copy with one planted mistake (a
 * problem), so a check that cannot fail is caught too. No server is started.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { ROOT } from '../common/paths';
import { imageProblem } from '../stacks/config/checks';

type Dict = { [key: string]: unknown };
const dict = (v: unknown): Dict => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Dict) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const isTrue = (v: unknown): boolean => v === true || v === 'true';
const clone = <T>(v: T): T => structuredClone(v);

const WORKFLOWS = path.join(ROOT, '.github', 'workflows');
const ACTION_DIR = path.join(ROOT, '.github', 'actions', 'stack-access');
const ACTION_FILE = path.join(ACTION_DIR, 'action.yml');
const PORTS_SCRIPT = path.join(ACTION_DIR, 'forwarded-ports.js');
const VALIDATOR = path.join(ROOT, 'node_modules', '.bin', 'action-validator');

const read = (file: string) => fs.readFileSync(file, 'utf8');
const parse = (file: string) => dict(load(read(file)));
const PR = parse(path.join(WORKFLOWS, 'pull-request.yml'));
const DRIFT = parse(path.join(WORKFLOWS, 'drift.yml'));
const DEPLOY = parse(path.join(WORKFLOWS, 'deploy.yml'));
const ACTION = parse(ACTION_FILE);
const WORKFLOW_FILES = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(WORKFLOWS, f));
const ALL_FILES = [...WORKFLOW_FILES, ACTION_FILE];

/** The committed stacks: one Pulumi.<stack>.yaml each in the repository root. */
const COMMITTED_STACKS = fs
  .readdirSync(ROOT)
  .map((f) => /^Pulumi\.([\w.-]+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

// ---------------------------------------------------------------------------------------------
// Reading a workflow

const jobsOf = (wf: Dict) => Object.entries(dict(wf.jobs)).map(([id, job]) => ({ id, job: dict(job) }));
const stepsOf = (job: Dict) => list(job.steps).map(dict);
const triggersOf = (wf: Dict): string[] => {
  const on = wf.on;
  if (typeof on === 'string') return [on];
  if (Array.isArray(on)) return on.map(str);
  return Object.keys(dict(on));
};
const isPulumiAction = (step: Dict) => /^pulumi\/actions@/.test(str(step.uses));
const pulumiCommand = (step: Dict) => str(dict(step.with).command).trim();
/** A `run:` that runs a Pulumi command which changes state or resources. */
const MUTATING_RUN = /\bpulumi\s+(?:[^\n;&|]*\s)?(up|update|destroy|refresh|import|cancel|state)\b/;

/** The stacks a job's matrix lists (as `stack:` values or `include:` entries). */
function matrixStacks(job: Dict): string[] {
  const matrix = dict(dict(job.strategy).matrix);
  const stacks = [...list(matrix.stack).map(str), ...list(matrix.include).map((e) => str(dict(e).stack))];
  return [...new Set(stacks.filter(Boolean))].sort();
}

/** The choices of a workflow_dispatch input. */
const dispatchOptions = (wf: Dict, input: string): string[] =>
  list(dict(dict(dict(dict(wf.on).workflow_dispatch).inputs)[input]).options).map(str);

/** The stacks a pulumi/actions step runs on: its stack-name, through the job's matrix or the dispatch input. */
function stepStacks(wf: Dict, job: Dict, step: Dict): string[] {
  const name = str(dict(step.with)['stack-name']).trim();
  if (/^\$\{\{\s*matrix\.stack\s*\}\}$/.test(name)) return matrixStacks(job);
  if (/^\$\{\{\s*inputs\.stack\s*\}\}$/.test(name)) return dispatchOptions(wf, 'stack');
  return name ? [name] : [];
}

// ---------------------------------------------------------------------------------------------
// The checks: each returns the problems it finds.

/** action-validator's verdict on one file (a workflow, or an action named action.yml). */
function validatorProblems(file: string): string[] {
  const result = spawnSync(VALIDATOR, [file], { encoding: 'utf8' });
  return result.status === 0 ? [] : [`${path.basename(file)}: action-validator exit ${result.status}: ${result.stderr}${result.stdout}`];
}

/**
 * Pull requests: the test suite, db:check and db:lint run, previews wait for them; every Pulumi
 * step is a preview with the policy pack (its dependencies installed first), every committed stack
 * is previewed, no step runs a mutating Pulumi command, and no pull_request_target (which would
 * hand secrets to a fork's code).
 */
function pullRequestProblems(wf: Dict, stacks: string[]): string[] {
  const problems: string[] = [];
  const triggers = triggersOf(wf);
  if (!triggers.includes('pull_request')) problems.push('not triggered by pull_request');
  if (triggers.includes('pull_request_target')) problems.push('triggered by pull_request_target: a fork would run with secrets');

  const jobs = jobsOf(wf);
  const runsIn = (command: RegExp) => jobs.filter(({ job }) => stepsOf(job).some((s) => command.test(str(s.run)))).map(({ id }) => id);
  const gates = { 'bash .ci/run': runsIn(/\bbash \.ci\/run\b/), 'npm run db:check': runsIn(/\bnpm run db:check\b/), 'npm run db:lint': runsIn(/\bnpm run db:lint\b/) };
  for (const [command, ids] of Object.entries(gates)) if (ids.length === 0) problems.push(`no job runs ${command}`);
  // The lint against the base branch, which the checkout must have fetched: else a pull request could baseline its own migrations.
  for (const { id, job } of jobs) {
    const lint = stepsOf(job).find((s) => /\bnpm run db:lint\b/.test(str(s.run)));
    if (!lint) continue;
    if (!/--base-ref\b/.test(str(lint.run)) || !/github\.base_ref/.test(JSON.stringify(lint.env ?? {}) + str(lint.run))) problems.push(`${id}: db:lint runs without --base-ref set to the pull request's base branch`);
    const checkout = stepsOf(job).find((s) => /^actions\/checkout@/.test(str(s.uses)));
    if (str(dict(checkout?.with)['fetch-depth']) !== '0') problems.push(`${id}: the checkout lacks fetch-depth: 0, so db:lint --base-ref cannot read the base branch`);
  }

  const previewed = new Set<string>();
  for (const { id, job } of jobs) {
    const steps = stepsOf(job);
    for (const [i, step] of steps.entries()) {
      if (MUTATING_RUN.test(str(step.run))) problems.push(`${id}: a step runs \`${MUTATING_RUN.exec(str(step.run))![0]}\``);
      if (!isPulumiAction(step)) continue;
      const command = pulumiCommand(step);
      if (command !== 'preview') problems.push(`${id}: pulumi/actions runs \`${command}\`, not preview`);
      // pulumi/actions v7.0.0's input is policyPacks (its action.yml); another spelling is ignored there, and the pack with it.
      const packs = str(dict(step.with).policyPacks).split(/[\s;]+/).filter(Boolean);
      if (!packs.includes('policy')) problems.push(`${id}: the preview does not run the policy pack (policyPacks: policy)`);
      // The pack loads @pulumi/policy from the project's node_modules, a devDependency (policy/package.json has no lock of its own).
      if (!steps.slice(0, i).some((s) => /^npm ci\b(?!.*--omit[= ]dev)/m.test(str(s.run)))) problems.push(`${id}: the policy pack's dependencies are not installed before the preview (npm ci, dev dependencies included)`);
      const needs = list(job.needs).map(str).concat(typeof job.needs === 'string' ? [job.needs] : []);
      for (const [command, ids] of Object.entries(gates)) {
        if (ids.length > 0 && !ids.some((gate) => needs.includes(gate))) problems.push(`${id}: previews without waiting for the job that runs ${command}`);
      }
      for (const stack of stepStacks(wf, job, step)) previewed.add(stack);
    }
  }
  const missing = stacks.filter((s) => !previewed.has(s));
  const extra = [...previewed].filter((s) => !stacks.includes(s));
  if (missing.length > 0) problems.push(`committed stacks not previewed: ${missing.join(', ')}`);
  if (extra.length > 0) problems.push(`previewed stacks with no Pulumi.<stack>.yaml: ${extra.join(', ')}`);
  return problems;
}

/** The values a `docker create` flag has in a container's options: `--flag=value` or `--flag value`. */
function flagValues(options: string, flag: string): string[] {
  const tokens = options.trim().split(/\s+/).filter(Boolean);
  const values: string[] = [];
  for (const [i, token] of tokens.entries()) {
    if (token === flag && i + 1 < tokens.length) values.push(tokens[i + 1]);
    else if (token.startsWith(`${flag}=`)) values.push(token.slice(flag.length + 1));
  }
  return values.flatMap((v) => v.split(','));
}

/** Debian bookworm by the image's tag: 12, or a point release of it (debian:12.15-slim), or a tag naming bookworm. */
function isBookworm(image: string): boolean {
  const [, name = '', tag = ''] = /^(?:(?:docker\.io|index\.docker\.io)\/)?(?:library\/)?([^:@]+)(?::([^@]+))?(?:@.*)?$/.exec(image) ?? [];
  return name === 'debian' && (/^12(\.\d+)?(-slim)?$/.test(tag) || /^bookworm(-\d{8})?(-slim)?$/.test(tag));
}

/**
 * The job that runs .ci/run does so in Debian bookworm, as the project's machines and the CI that
 * judges it do (the suite checks bookworm's adminer, chromium, php and postgresql-15): a container
 * on a Linux runner, its image pinned (a digest, or a point-release tag: stacks/config/checks.ts,
 * imageProblem) and bookworm by its tag. The container may mount (tests/backups-disk-full.test.ts
 * mounts a tmpfs: CAP_SYS_ADMIN, and no AppArmor profile, which denies mount), and no more (not
 * --privileged, no other capability, seccomp kept). git and the CA certificates are installed
 * before actions/checkout, which without git downloads a tarball with no .git; no step uses sudo
 * (the container runs as root and has none); root's git is told the workspace is safe before
 * .ci/run; and no PGDG repository: bookworm's own postgresql-15 is the one the machines run.
 */
function testJobProblems(wf: Dict): string[] {
  const problems: string[] = [];
  const runsCi = (s: Dict) => /\bbash \.ci\/run\b/.test(str(s.run));
  for (const { id, job } of jobsOf(wf).filter(({ job }) => stepsOf(job).some(runsCi))) {
    const runner = str(job['runs-on']);
    const container = typeof job.container === 'string' ? { image: job.container } : dict(job.container);
    const image = str(container.image).trim();
    if (!image) {
      problems.push(`${id}: runs .ci/run on the runner's own system (${runner}), not in a Debian bookworm container`);
      continue;
    }
    if (!/^ubuntu-/.test(runner)) problems.push(`${id}: runs on ${runner}: a container job needs a Linux runner (ubuntu-*)`);
    const unpinned = imageProblem(image);
    if (unpinned) problems.push(`${id}: the container image ${image} is not pinned: it must ${unpinned}`);
    if (!isBookworm(image)) problems.push(`${id}: the container image ${image} is not Debian bookworm by its tag (debian:12.<point release>-slim, with its digest)`);

    const options = str(container.options);
    const caps = flagValues(options, '--cap-add').map((c) => c.toUpperCase().replace(/^CAP_/, ''));
    const securityOpts = flagValues(options, '--security-opt').map((o) => o.toLowerCase());
    const privileged = options.split(/\s+/).some((t) => t === '--privileged' || t === '--privileged=true');
    if (privileged) problems.push(`${id}: the container is --privileged: the tmpfs mount needs CAP_SYS_ADMIN and no AppArmor profile, nothing more`);
    else {
      if (!caps.includes('SYS_ADMIN')) problems.push(`${id}: the container lacks CAP_SYS_ADMIN (--cap-add=SYS_ADMIN): tests/backups-disk-full.test.ts cannot mount its tmpfs`);
      if (!securityOpts.some((o) => /^apparmor[=:]unconfined$/.test(o))) problems.push(`${id}: the container keeps Docker's AppArmor profile, which denies mount (--security-opt=apparmor=unconfined)`);
    }
    const extra = [...caps.filter((c) => c !== 'SYS_ADMIN'), ...securityOpts.filter((o) => /^seccomp[=:]unconfined$/.test(o))];
    if (extra.length > 0) problems.push(`${id}: the container gets more than the tmpfs mount needs: ${extra.join(', ')}`);

    const steps = stepsOf(job);
    const checkout = steps.findIndex((s) => /^actions\/checkout@/.test(str(s.uses)));
    const installs = (pkg: string) => steps.slice(0, Math.max(checkout, 0)).some((s) => new RegExp(`\\bapt-get install\\b[^\\n]*\\s${pkg}(?=\\s|$)`, 'm').test(str(s.run)));
    if (!installs('git')) problems.push(`${id}: git is not installed before actions/checkout, which then downloads a tarball with no .git`);
    if (!installs('ca-certificates')) problems.push(`${id}: ca-certificates is not installed before actions/checkout: git cannot fetch over HTTPS`);
    for (const [i, step] of steps.entries()) {
      const label = `${id}, step ${str(step.name || step.uses) || i + 1}`;
      if (/(?:^|[\s;&|(])sudo\b/m.test(str(step.run))) problems.push(`${label}: runs sudo: the container has none, and runs as root already`);
      if (/apt\.postgresql\.org/.test(str(step.run))) problems.push(`${label}: adds PGDG's repository: bookworm's own postgresql-15 is the one the project's machines run`);
    }
    const ci = steps.findIndex(runsCi);
    const before = [...steps.slice(0, ci).map((s) => str(s.run)), str(steps[ci].run).split(/\bbash \.ci\/run\b/)[0]].join('\n');
    if (!/\bgit config\b[^\n]*\bsafe\.directory\b[^\n]*\$\{?GITHUB_WORKSPACE\b/.test(before)) {
      problems.push(`${id}: the workspace is not a git safe.directory before .ci/run: root's git refuses the checkout, which the runner's user owns`);
    }
  }
  return problems;
}

const USES_LINE = /^\s*(?:-\s+)?uses:\s*(['"]?)([^\s'"#]+)\1\s*(?:#\s*(.*?))?\s*$/;

/**
 * Every `uses:` of a third-party action names a full commit SHA, with the tag it is in a comment
 * (`owner/repo@<40 hex> # vX.Y.Z`); one action is pinned to one commit in every file. Local
 * actions (`./`) are exempt. Reads the raw text: YAML drops comments.
 */
function pinProblems(files: { name: string; text: string }[]): string[] {
  const problems: string[] = [];
  const pins = new Map<string, string>();
  for (const { name, text } of files) {
    for (const [n, line] of text.split('\n').entries()) {
      if (!/^\s*(?:-\s+)?uses:/.test(line)) continue;
      const match = USES_LINE.exec(line);
      const where = `${name}:${n + 1}`;
      if (!match) {
        problems.push(`${where}: cannot read \`${line.trim()}\``);
        continue;
      }
      const [, , ref, comment = ''] = match;
      if (ref.startsWith('./')) continue;
      const pinned = /^([\w.-]+\/[\w.-]+)(\/[\w./-]+)?@([0-9a-f]{40})$/.exec(ref);
      if (!pinned) {
        problems.push(`${where}: ${ref} is not pinned to a full commit SHA`);
        continue;
      }
      if (!/^v\d+\.\d+\.\d+$/.test(comment)) problems.push(`${where}: ${ref} has no version comment (# vX.Y.Z)`);
      const key = pinned[1];
      const pin = `${pinned[3]} ${comment}`;
      if (pins.has(key) && pins.get(key) !== pin) problems.push(`${where}: ${key} pinned to ${pin}, elsewhere to ${pins.get(key)}`);
      pins.set(key, pin);
    }
  }
  return problems;
}

/** Jobs that may comment on the pull request: a pulumi/actions step with comment-on-pr not false. */
const commentingJob = (job: Dict) => stepsOf(job).some((s) => isPulumiAction(s) && ![false, 'false', undefined].includes(dict(s.with)['comment-on-pr'] as never));

/**
 * Permissions: declared for the workflow (nothing granted there) and for every job; nothing
 * written but `pull-requests` by the job that comments, which has it.
 */
function permissionProblems(wf: Dict): string[] {
  const problems: string[] = [];
  if (!('permissions' in wf)) problems.push('the workflow declares no permissions (the default token may write)');
  else if (typeof wf.permissions === 'string' || Object.keys(dict(wf.permissions)).length > 0) {
    problems.push(`the workflow grants ${JSON.stringify(wf.permissions)} to every job; grant per job`);
  }
  for (const { id, job } of jobsOf(wf)) {
    if (!('permissions' in job) || typeof job.permissions === 'string') {
      problems.push(`${id}: no permissions of its own (${JSON.stringify(job.permissions ?? 'the default')})`);
      continue;
    }
    const comments = commentingJob(job);
    for (const [scope, level] of Object.entries(dict(job.permissions))) {
      if (level === 'write' && !(scope === 'pull-requests' && comments)) problems.push(`${id}: ${scope}: write`);
    }
    if (comments && dict(job.permissions)['pull-requests'] !== 'write') problems.push(`${id}: comments on the pull request without pull-requests: write`);
  }
  return problems;
}

const SECRET_EXPRESSION = /\$\{\{[^}]*\bsecrets\b/;
/** A command that prints its arguments or input. */
const PRINTS = /(?:^|[\s;&|(`])(?:echo|printf|cat|tee|print|console\.log|logger)\b/;
/** Something that prints every variable: xtrace, env/printenv with no command, export -p. */
const DUMPS = /(?:^|[\s;&|])(?:set\s+-[a-z]*x\b|set\s+-o\s+xtrace\b|printenv\s*(?:$|[;&|>])|env\s*(?:$|[;&|>])|export\s+-p\b|declare\s+-p\b)/m;

/**
 * No secret reaches a shell but through env, and no step prints a variable bound to one. A
 * variable is bound to a secret when its env value names `secrets`, or (in the action) one of its
 * inputs that the workflows fill from secrets (`secretInputs`).
 */
function secretProblems(doc: Dict, secretInputs: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const secretInput = (value: string) => [...value.matchAll(/\$\{\{[^}]*\binputs\.([\w-]+)/g)].some((m) => secretInputs.has(m[1]));
  const bound = (env: unknown) => Object.entries(dict(env)).filter(([, v]) => SECRET_EXPRESSION.test(str(v)) || secretInput(str(v))).map(([k]) => k);
  const scopes: { where: string; inherited: string[]; steps: Dict[] }[] = [];
  if ('jobs' in doc) for (const { id, job } of jobsOf(doc)) scopes.push({ where: id, inherited: [...bound(doc.env), ...bound(job.env)], steps: stepsOf(job) });
  if ('runs' in doc) scopes.push({ where: 'action', inherited: [], steps: list(dict(doc.runs).steps).map(dict) });
  for (const { where, inherited, steps } of scopes) {
    for (const [i, step] of steps.entries()) {
      const run = str(step.run);
      if (!run) continue;
      const label = `${where}, step ${str(step.name || step.id) || i + 1}`;
      if (SECRET_EXPRESSION.test(run)) problems.push(`${label}: \${{ secrets... }} inside run: (pass it through env:)`);
      if (secretInput(run)) problems.push(`${label}: a secret input inside run: (pass it through env:)`);
      const secretVars = [...inherited, ...bound(step.env)];
      if (secretVars.length > 0 && DUMPS.test(run)) problems.push(`${label}: prints every variable (${DUMPS.exec(run)![0].trim()}) with secrets in its environment`);
      for (const line of run.split('\n')) {
        if (!PRINTS.test(line)) continue;
        const printed = secretVars.filter((name) => new RegExp(`\\$\\{?${name}\\b`).test(line));
        if (printed.length > 0) problems.push(`${label}: prints ${printed.join(', ')}: \`${line.trim()}\``);
      }
    }
  }
  return problems;
}

/** The action's inputs that some workflow fills from a secret. */
function secretInputsOf(workflows: Dict[]): Set<string> {
  const inputs = new Set<string>();
  for (const wf of workflows) {
    for (const { job } of jobsOf(wf)) {
      for (const step of stepsOf(job)) {
        if (str(step.uses) !== './.github/actions/stack-access') continue;
        for (const [k, v] of Object.entries(dict(step.with))) if (SECRET_EXPRESSION.test(str(v))) inputs.add(k);
      }
    }
  }
  return inputs;
}

/** Drift: scheduled; staging and prod each previewed with --refresh and --expect-no-changes, nothing else. */
function driftProblems(wf: Dict): string[] {
  const problems: string[] = [];
  if (list(dict(wf.on).schedule).length === 0) problems.push('no schedule');
  const checked = new Set<string>();
  for (const { id, job } of jobsOf(wf)) {
    for (const step of stepsOf(job)) {
      if (MUTATING_RUN.test(str(step.run))) problems.push(`${id}: a step runs \`${MUTATING_RUN.exec(str(step.run))![0]}\``);
      if (!isPulumiAction(step)) continue;
      const w = dict(step.with);
      if (pulumiCommand(step) !== 'preview') problems.push(`${id}: pulumi/actions runs \`${pulumiCommand(step)}\`, not preview`);
      else if (!isTrue(w.refresh)) problems.push(`${id}: the preview does not refresh (refresh: true)`);
      else if (!isTrue(w['expect-no-changes'])) problems.push(`${id}: the preview does not fail on changes (expect-no-changes: true)`);
      else for (const stack of stepStacks(wf, job, step)) checked.add(stack);
    }
  }
  for (const stack of ['staging', 'prod']) if (!checked.has(stack)) problems.push(`${stack} is not checked for drift`);
  return problems;
}

/** The environment a job runs in for a stack chosen as the dispatch input `stack`. */
function environmentFor(job: Dict, stack: string): string {
  const env = job.environment;
  const name = typeof env === 'object' && env !== null ? str(dict(env).name) : str(env);
  return name.replace(/\$\{\{\s*inputs\.stack\s*\}\}/g, stack);
}

/**
 * Deploy: by hand only (workflow_dispatch with a choice of committed stacks, prod among them); the
 * job that runs `up` for a stack runs in the environment of that stack's name, with the policy pack.
 */
function deployProblems(wf: Dict, stacks: string[]): string[] {
  const problems: string[] = [];
  const triggers = triggersOf(wf);
  if (triggers.join() !== 'workflow_dispatch') problems.push(`triggered by ${triggers.join(', ')}, not only workflow_dispatch`);
  const input = dict(dict(dict(dict(wf.on).workflow_dispatch).inputs).stack);
  if (input.type !== 'choice') problems.push('the stack input is not a choice');
  const options = dispatchOptions(wf, 'stack');
  if (!options.includes('prod')) problems.push('prod cannot be chosen');
  for (const option of options) if (!stacks.includes(option)) problems.push(`${option} is not a committed stack`);
  const deployed = new Set<string>();
  for (const { id, job } of jobsOf(wf)) {
    for (const step of stepsOf(job).filter((s) => isPulumiAction(s) && ['up', 'update'].includes(pulumiCommand(s)))) {
      if (!str(dict(step.with).policyPacks).split(/[\s;]+/).includes('policy')) problems.push(`${id}: up without the policy pack`);
      for (const stack of stepStacks(wf, job, step)) {
        deployed.add(stack);
        const environment = environmentFor(job, stack);
        if (environment !== stack) problems.push(`${id}: ${stack} deploys in environment "${environment}", not "${stack}"`);
      }
    }
  }
  if (!deployed.has('prod')) problems.push('no job deploys prod');
  return problems;
}

/** The committed stacks whose config turns backupBeforeMigrate on (their Pulumi.<stack>.yaml, else Pulumi.yaml's default). */
function backupFirstStacks(stacks: string[], root = ROOT): string[] {
  const fallback = isTrue(dict(dict(parse(path.join(root, 'Pulumi.yaml')).config).backupBeforeMigrate).default);
  return stacks.filter((stack) => {
    const config = dict(parse(path.join(root, `Pulumi.${stack}.yaml`)).config);
    const key = 'pronunciation-assistant:backupBeforeMigrate';
    return key in config ? isTrue(config[key]) : fallback;
  });
}

/** Whether a step of the deploy job runs for a stack: no `if`, always(), or an `if` that names it (inputs.stack == '<stack>'). */
function runsFor(step: Dict, stack: string): boolean {
  const condition = str(step.if).trim();
  if (condition === '' || /^(\$\{\{\s*)?always\(\)(\s*\}\})?$/.test(condition)) return true;
  return [...condition.matchAll(/inputs\.stack\s*==\s*'([^']+)'/g)].some((m) => m[1] === stack);
}

const PGDG_FINGERPRINT = 'B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8';

/**
 * Deploy, for each stack with backupBeforeMigrate on: before `up`, PGDG's apt repository is added
 * with its key's fingerprint checked and postgresql-client-15 installed (the post-deploy step's
 * pg_dump must be the server's major, 15; ubuntu-24.04 has 16 only); after it, the backup taken
 * before migrating is kept as an artifact (actions/upload-artifact), even when `up` failed, for a
 * set number of days, with no failure when none was taken.
 */
function deployBackupProblems(wf: Dict, backupStacks: string[]): string[] {
  const problems: string[] = [];
  for (const { id, job } of jobsOf(wf)) {
    const steps = stepsOf(job);
    const up = steps.findIndex((s) => isPulumiAction(s) && ['up', 'update'].includes(pulumiCommand(s)));
    if (up < 0) continue;
    for (const stack of stepStacks(wf, job, steps[up]).filter((s) => backupStacks.includes(s))) {
      const before = steps.slice(0, up).filter((s) => runsFor(s, stack));
      const pgdg = before.findIndex((s) => /https:\/\/apt\.postgresql\.org\/pub\/repos\/apt\b/.test(str(s.run)));
      const install = before.findIndex((s) => /\bapt-get install\b[^\n]*\bpostgresql-client-15\b/.test(str(s.run)));
      if (pgdg < 0) problems.push(`${id}: ${stack} backs up before migrating, but PGDG's apt repository is not added before up`);
      else if (!str(before[pgdg].run).includes(PGDG_FINGERPRINT) || !/gpg --show-keys/.test(str(before[pgdg].run))) {
        problems.push(`${id}: PGDG's signing key is added without checking its fingerprint`);
      }
      if (install < 0) problems.push(`${id}: ${stack} backs up before migrating, but postgresql-client-15 is not installed before up`);
      else if (pgdg > install) problems.push(`${id}: postgresql-client-15 is installed before PGDG's apt repository is added`);
      const upload = steps.slice(up + 1).find((s) => /^actions\/upload-artifact@/.test(str(s.uses)) && runsFor(s, stack));
      if (!upload) {
        problems.push(`${id}: ${stack}'s backup taken before migrating is not uploaded after up`);
        continue;
      }
      const w = dict(upload.with);
      if (!/\bbackups\/[^\n]*before-migrate/.test(str(w.path))) problems.push(`${id}: the artifact does not hold backups/<stack>-before-migrate-*`);
      if (!/always\(\)/.test(str(upload.if))) problems.push(`${id}: the backup is not uploaded when up fails (if: always())`);
      if (str(w['if-no-files-found']) !== 'ignore') problems.push(`${id}: no backup taken (nothing pending) would fail or warn (if-no-files-found: ignore)`);
      const days = Number(w['retention-days']);
      if (!(Number.isInteger(days) && days >= 1 && days <= 90)) problems.push(`${id}: the artifact's retention-days is not set (1 to 90)`);
    }
  }
  return [...new Set(problems)];
}

// ---------------------------------------------------------------------------------------------
// Planting mistakes

/** The first step of a workflow that satisfies `pick`, to change in a copy. */
function stepWhere(wf: Dict, pick: (step: Dict) => boolean): Dict {
  for (const { job } of jobsOf(wf)) for (const step of stepsOf(job)) if (pick(step)) return step;
  throw new Error('no such step');
}
const jobWhere = (wf: Dict, pick: (job: Dict) => boolean): Dict => {
  const found = jobsOf(wf).find(({ job }) => pick(job));
  if (!found) throw new Error('no such job');
  return found.job;
};
const previewJob = (wf: Dict) => jobWhere(wf, (job) => stepsOf(job).some(isPulumiAction));

// ---------------------------------------------------------------------------------------------

describe('action-validator', () => {
  test.each(ALL_FILES.map((f) => path.relative(ROOT, f)))('%s is valid', (file) => {
    expect(validatorProblems(path.join(ROOT, file))).toEqual([]);
  });

  test('the check itself: a job without runs-on, and an unknown input type, are refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-workflows-'));
    try {
      const noRunner = path.join(dir, 'no-runner.yml');
      fs.writeFileSync(noRunner, read(path.join(WORKFLOWS, 'drift.yml')).replace(/^(\s+)runs-on:/m, '$1runs_on:'));
      expect(validatorProblems(noRunner)).toHaveLength(1);
      const badType = path.join(dir, 'bad-type.yml');
      fs.writeFileSync(badType, read(path.join(WORKFLOWS, 'deploy.yml')).replace('type: choice', 'type: chioce'));
      expect(validatorProblems(badType)).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pull requests', () => {
  test('the committed stacks are the ones the test expects to find', () => {
    expect(COMMITTED_STACKS).toEqual(expect.arrayContaining(['dev', 'external', 'prod', 'staging']));
  });

  test('run the tests, db:check and db:lint, then preview every committed stack with the policy pack, and never deploy', () => {
    expect(pullRequestProblems(PR, COMMITTED_STACKS)).toEqual([]);
  });

  test('the check itself: each planted mistake is found', () => {
    const up = clone(PR);
    dict(stepWhere(up, isPulumiAction).with).command = 'up';
    expect(pullRequestProblems(up, COMMITTED_STACKS)).toEqual([expect.stringMatching(/runs `up`, not preview/)]);

    const shellUp = clone(PR);
    list(previewJob(shellUp).steps).push({ run: 'pulumi up --yes --stack dev' });
    expect(pullRequestProblems(shellUp, COMMITTED_STACKS)).toEqual([expect.stringMatching(/runs `pulumi up`/)]);

    const noPolicy = clone(PR);
    delete dict(stepWhere(noPolicy, isPulumiAction).with).policyPacks;
    expect(pullRequestProblems(noPolicy, COMMITTED_STACKS)).toEqual([expect.stringMatching(/policy pack/)]);

    const noPolicyDeps = clone(PR);
    const steps = list(previewJob(noPolicyDeps).steps);
    const npmCi = steps.findIndex((s) => /^npm ci\b/.test(str(dict(s).run)));
    steps[npmCi] = { run: 'npm ci --omit=dev' };
    expect(pullRequestProblems(noPolicyDeps, COMMITTED_STACKS)).toEqual([expect.stringMatching(/dependencies are not installed/)]);

    const stackDropped = clone(PR);
    const matrix = dict(dict(previewJob(stackDropped).strategy).matrix);
    matrix.include = list(matrix.include).filter((e) => dict(e).stack !== 'external');
    expect(pullRequestProblems(stackDropped, COMMITTED_STACKS)).toEqual(['committed stacks not previewed: external']);

    // A new Pulumi.qa.yaml without a preview.
    expect(pullRequestProblems(PR, [...COMMITTED_STACKS, 'qa'])).toEqual(['committed stacks not previewed: qa']);

    const noWait = clone(PR);
    previewJob(noWait).needs = ['checks'];
    expect(pullRequestProblems(noWait, COMMITTED_STACKS)).toEqual([expect.stringMatching(/without waiting for the job that runs bash \.ci\/run/)]);

    const noLint = clone(PR);
    const lint = stepWhere(noLint, (s) => /db:lint/.test(str(s.run)));
    lint.run = 'true';
    expect(pullRequestProblems(noLint, COMMITTED_STACKS)).toEqual(['no job runs npm run db:lint']);

    const ownBaseline = clone(PR);
    stepWhere(ownBaseline, (s) => /db:lint/.test(str(s.run))).run = 'npm run db:lint';
    expect(pullRequestProblems(ownBaseline, COMMITTED_STACKS)).toEqual([expect.stringMatching(/db:lint runs without --base-ref/)]);

    const shallow = clone(PR);
    delete dict(stepWhere(shallow, (s) => /^actions\/checkout@/.test(str(s.uses)) && dict(s.with)['fetch-depth'] !== undefined).with)['fetch-depth'];
    expect(pullRequestProblems(shallow, COMMITTED_STACKS)).toEqual([expect.stringMatching(/lacks fetch-depth: 0/)]);

    const target = clone(PR);
    dict(target.on).pull_request_target = null;
    expect(pullRequestProblems(target, COMMITTED_STACKS)).toEqual([expect.stringMatching(/pull_request_target/)]);
  });
});

describe('the test job', () => {
  const testJob = (wf: Dict) => dict(dict(wf.jobs).test);
  const container = (wf: Dict) => dict(testJob(wf).container);
  const withImage = (image: string) => {
    const wf = clone(PR);
    container(wf).image = image;
    return testJobProblems(wf);
  };
  const withOptions = (options: string) => {
    const wf = clone(PR);
    container(wf).options = options;
    return testJobProblems(wf);
  };
  const DIGEST = `sha256:${'0'.repeat(64)}`;

  test('runs .ci/run in a pinned Debian bookworm container, which may mount a tmpfs and no more; git before the checkout; no sudo, no PGDG', () => {
    expect(testJobProblems(PR)).toEqual([]);
    // Not vacuous: the job that runs .ci/run is the one checked, and it has a container.
    expect(str(container(PR).image)).toMatch(/^debian:12\.\d+-slim@sha256:[0-9a-f]{64}$/);
  });

  test('the check itself: each planted mistake is found', () => {
    // Unpinned: a moving tag, no tag, latest.
    expect(withImage('debian:bookworm-slim')).toEqual([expect.stringMatching(/debian:bookworm-slim is not pinned: it must pin a full version/)]);
    expect(withImage('debian:12-slim')).toEqual([expect.stringMatching(/debian:12-slim is not pinned/)]);
    expect(withImage('debian')).toEqual([expect.stringMatching(/debian is not pinned/), expect.stringMatching(/not Debian bookworm/)]);
    // Not bookworm: another Debian release, Ubuntu, or a digest alone (which says nothing of the release).
    expect(withImage(`debian:13.6-slim@${DIGEST}`)).toEqual([expect.stringMatching(/debian:13\.6-slim@sha256:0+ is not Debian bookworm/)]);
    expect(withImage('ubuntu:24.04')).toEqual([expect.stringMatching(/ubuntu:24\.04 is not Debian bookworm/)]);
    expect(withImage(`debian@${DIGEST}`)).toEqual([expect.stringMatching(/not Debian bookworm by its tag/)]);
    // The point-release tag alone, or a tag naming bookworm with a digest, is pinned bookworm.
    expect(withImage('debian:12.15-slim')).toEqual([]);
    expect(withImage(`debian:bookworm-slim@${DIGEST}`)).toEqual([]);
    expect(withImage('docker.io/library/debian:12.15')).toEqual([]);

    // Ubuntu without a container, as before: the runner's own packages.
    const onUbuntu = clone(PR);
    delete testJob(onUbuntu).container;
    expect(testJobProblems(onUbuntu)).toEqual(["test: runs .ci/run on the runner's own system (ubuntu-24.04), not in a Debian bookworm container"]);
    const stringForm = clone(PR);
    testJob(stringForm).container = 'debian:bookworm';
    expect(testJobProblems(stringForm)).toEqual([expect.stringMatching(/not pinned/), expect.stringMatching(/lacks CAP_SYS_ADMIN/), expect.stringMatching(/AppArmor/)]);
    const onMac = clone(PR);
    testJob(onMac)['runs-on'] = 'macos-15';
    expect(testJobProblems(onMac)).toEqual(['test: runs on macos-15: a container job needs a Linux runner (ubuntu-*)']);

    // The tmpfs mount: too little, and too much.
    expect(withOptions('')).toEqual([expect.stringMatching(/lacks CAP_SYS_ADMIN/), expect.stringMatching(/keeps Docker's AppArmor profile/)]);
    expect(withOptions('--cap-add SYS_ADMIN')).toEqual([expect.stringMatching(/keeps Docker's AppArmor profile/)]);
    expect(withOptions('--security-opt apparmor=unconfined')).toEqual([expect.stringMatching(/lacks CAP_SYS_ADMIN/)]);
    expect(withOptions('--cap-add CAP_SYS_ADMIN --security-opt apparmor:unconfined')).toEqual([]);
    expect(withOptions('--privileged')).toEqual([expect.stringMatching(/is --privileged/)]);
    expect(withOptions('--cap-add=ALL --security-opt=apparmor=unconfined')).toEqual([expect.stringMatching(/lacks CAP_SYS_ADMIN/), expect.stringMatching(/more than the tmpfs mount needs: ALL/)]);
    expect(withOptions('--cap-add=SYS_ADMIN --security-opt=apparmor=unconfined --security-opt=seccomp=unconfined')).toEqual([expect.stringMatching(/more than .*: seccomp=unconfined/)]);

    // git (and its CA certificates) before the checkout.
    const isInstall = (s: unknown) => /apt-get install/.test(str(dict(s).run)) && !/\.ci\/run/.test(str(dict(s).run));
    const noGit = clone(PR);
    testJob(noGit).steps = list(testJob(noGit).steps).filter((s) => !isInstall(s));
    expect(testJobProblems(noGit)).toEqual([expect.stringMatching(/git is not installed before actions\/checkout/), expect.stringMatching(/ca-certificates is not installed/)]);
    const gitAfter = clone(PR);
    const steps = list(testJob(gitAfter).steps);
    steps.splice(2, 0, steps.splice(steps.findIndex(isInstall), 1)[0]);
    expect(testJobProblems(gitAfter)).toEqual([expect.stringMatching(/git is not installed before/), expect.stringMatching(/ca-certificates is not installed before/)]);
    const gitManOnly = clone(PR);
    const install = dict(list(testJob(gitManOnly).steps).find(isInstall));
    install.run = str(install.run).replace(/ git /, ' git-man ');
    expect(testJobProblems(gitManOnly)).toEqual([expect.stringMatching(/git is not installed before/)]);

    // sudo, no safe.directory, PGDG.
    const withSudo = clone(PR);
    const ci = dict(list(testJob(withSudo).steps).find((s) => /\.ci\/run/.test(str(dict(s).run))));
    ci.run = str(ci.run).replace(/^bash \.ci\/run$/m, 'sudo env "PATH=$PATH" bash .ci/run');
    expect(testJobProblems(withSudo)).toEqual(['test, step bash .ci/run: runs sudo: the container has none, and runs as root already']);
    const unsafe = clone(PR);
    const ciStep = dict(list(testJob(unsafe).steps).find((s) => /\.ci\/run/.test(str(dict(s).run))));
    ciStep.run = 'bash .ci/run';
    expect(testJobProblems(unsafe)).toEqual([expect.stringMatching(/not a git safe\.directory before \.ci\/run/)]);
    const safeAfter = clone(PR);
    const lastStep = dict(list(testJob(safeAfter).steps).find((s) => /\.ci\/run/.test(str(dict(s).run))));
    lastStep.run = 'bash .ci/run\ngit config --system --add safe.directory "$GITHUB_WORKSPACE"\n';
    expect(testJobProblems(safeAfter)).toEqual([expect.stringMatching(/not a git safe\.directory before/)]);
    const pgdg = clone(PR);
    const deployPgdg = stepWhere(DEPLOY, (s) => /apt\.postgresql\.org\/pub/.test(str(s.run)));
    list(testJob(pgdg).steps).splice(3, 0, clone(deployPgdg));
    expect(testJobProblems(pgdg)).toEqual([
      expect.stringMatching(/PostgreSQL 15's apt repository \(PGDG\): runs sudo/),
      expect.stringMatching(/PostgreSQL 15's apt repository \(PGDG\): adds PGDG's repository/),
    ]);
  });
});

describe('pinned actions', () => {
  const files = ALL_FILES.map((f) => ({ name: path.relative(ROOT, f), text: read(f) }));

  test('every third-party action is pinned to a full commit SHA, with its version in a comment', () => {
    expect(pinProblems(files)).toEqual([]);
    // Not vacuous: the files do use third-party actions.
    expect(files.some(({ text }) => /uses: pulumi\/actions@[0-9a-f]{40} # v\d/.test(text))).toBe(true);
  });

  test('the check itself: a tag, a missing comment, a short SHA and two pins of one action are found', () => {
    const pr = files.find((f) => f.name.endsWith('pull-request.yml'))!;
    const withTag = pr.text.replace(/actions\/checkout@[0-9a-f]{40} # v[\d.]+/, 'actions/checkout@v7');
    expect(pinProblems([{ name: 'planted.yml', text: withTag }])).toEqual([expect.stringMatching(/actions\/checkout@v7 is not pinned/)]);
    const noComment = pr.text.replace(/(pulumi\/actions@[0-9a-f]{40}) # v[\d.]+/, '$1');
    expect(pinProblems([{ name: 'planted.yml', text: noComment }])).toEqual([expect.stringMatching(/no version comment/)]);
    const shortSha = pr.text.replace(/(actions\/setup-node@)([0-9a-f]{7})[0-9a-f]{33}/, '$1$2');
    expect(pinProblems([{ name: 'planted.yml', text: shortSha }])).toEqual([expect.stringMatching(/not pinned to a full commit SHA/)]);
    const other = 'steps:\n  - uses: pulumi/actions@0123456789abcdef0123456789abcdef01234567 # v6.6.1\n';
    expect(pinProblems([{ name: 'a.yml', text: pr.text }, { name: 'b.yml', text: other }])).toEqual([expect.stringMatching(/pinned to .*, elsewhere to/)]);
  });
});

describe('permissions', () => {
  test.each([
    ['pull-request.yml', PR],
    ['drift.yml', DRIFT],
    ['deploy.yml', DEPLOY],
  ])('%s: declared per job, the least each needs; pull-requests: write only where it comments', (_name, wf) => {
    expect(permissionProblems(wf)).toEqual([]);
  });

  test('only the preview job may comment, and it has what commenting needs', () => {
    const commenting = jobsOf(PR).filter(({ job }) => commentingJob(job)).map(({ id }) => id);
    expect(commenting).toEqual(['preview']);
  });

  test('the check itself: each planted mistake is found', () => {
    const extraWrite = clone(PR);
    dict(dict(dict(extraWrite.jobs).test).permissions)['pull-requests'] = 'write';
    expect(permissionProblems(extraWrite)).toEqual(['test: pull-requests: write']);

    const undeclared = clone(DRIFT);
    delete dict(dict(undeclared.jobs).drift).permissions;
    expect(permissionProblems(undeclared)).toEqual([expect.stringMatching(/^drift: no permissions of its own/)]);

    const writeAll = clone(DEPLOY);
    writeAll.permissions = 'write-all';
    expect(permissionProblems(writeAll)).toEqual([expect.stringMatching(/grants "write-all"/)]);

    const cannotComment = clone(PR);
    delete dict(dict(dict(cannotComment.jobs).preview).permissions)['pull-requests'];
    expect(permissionProblems(cannotComment)).toEqual(['preview: comments on the pull request without pull-requests: write']);

    const contentsWrite = clone(DEPLOY);
    dict(dict(dict(contentsWrite.jobs).up).permissions).contents = 'write';
    expect(permissionProblems(contentsWrite)).toEqual(['up: contents: write']);
  });
});

describe('secrets', () => {
  const secretInputs = secretInputsOf([PR, DRIFT, DEPLOY]);

  test('the action knows which of its inputs carry secrets', () => {
    expect([...secretInputs].sort()).toEqual(['backend-url', 'docker-host', 'passphrase', 'ssh-key']);
  });

  test.each([
    ['pull-request.yml', PR],
    ['drift.yml', DRIFT],
    ['deploy.yml', DEPLOY],
    ['stack-access/action.yml', ACTION],
  ])('%s: secrets reach shells only through env, and no step prints one', (_name, doc) => {
    expect(secretProblems(doc, secretInputs)).toEqual([]);
  });

  test('the check itself: each planted mistake is found', () => {
    const inline = clone(PR);
    list(previewJob(inline).steps).push({ run: 'pulumi preview --stack prod # ${{ secrets.PULUMI_CONFIG_PASSPHRASE_PROD }}' });
    expect(secretProblems(inline)).toEqual([expect.stringMatching(/secrets\.\.\. }} inside run/)]);

    const echoed = clone(DEPLOY);
    list(dict(dict(echoed.jobs).up).steps).push({ env: { PASS: '${{ secrets.PULUMI_CONFIG_PASSPHRASE_PROD }}' }, run: 'set -e\necho "passphrase: ${PASS}"' });
    expect(secretProblems(echoed)).toEqual([expect.stringMatching(/prints PASS/)]);

    const allSecrets = clone(DEPLOY);
    list(dict(dict(allSecrets.jobs).up).steps).push({ env: { ALL: '${{ toJSON(secrets) }}' }, run: 'echo "$ALL" > /dev/null' });
    expect(secretProblems(allSecrets)).toEqual([expect.stringMatching(/prints ALL/)]);

    const noPolicyInput = clone(PR);
    const previewWith = dict(stepWhere(noPolicyInput, isPulumiAction).with);
    previewWith['policy-packs'] = previewWith.policyPacks;
    delete previewWith.policyPacks;
    expect(pullRequestProblems(noPolicyInput, COMMITTED_STACKS)).toEqual([expect.stringMatching(/policy pack/)]);

    const jobLevel = clone(DRIFT);
    const drift = dict(dict(jobLevel.jobs).drift);
    drift.env = { BACKEND: '${{ secrets.PULUMI_BACKEND_URL }}' };
    list(drift.steps).push({ run: 'printf "%s\\n" "$BACKEND" | tee backend.txt' });
    expect(secretProblems(jobLevel)).toEqual([expect.stringMatching(/prints BACKEND/)]);

    const xtrace = clone(PR);
    list(previewJob(xtrace).steps).push({ env: { KEY: '${{ secrets.DOCKER_SSH_KEY }}' }, run: 'set -x\nssh-add - <<< "$KEY"' });
    expect(secretProblems(xtrace)).toEqual([expect.stringMatching(/prints every variable \(set -x\)/)]);

    const inAction = clone(ACTION);
    const check = list(dict(inAction.runs).steps).map(dict).find((s) => s.id === 'check')!;
    check.run = `${str(check.run)}\necho "key: $SSH_KEY"`;
    expect(secretProblems(inAction, secretInputs)).toEqual([expect.stringMatching(/prints SSH_KEY/)]);

    const inputInRun = clone(ACTION);
    const first = list(dict(inputInRun.runs).steps).map(dict)[0];
    first.run = `${str(first.run)}\ntest -n "\${{ inputs.passphrase }}"`;
    expect(secretProblems(inputInRun, secretInputs)).toEqual([expect.stringMatching(/secret input inside run/)]);
  });
});

describe('drift', () => {
  test('staging and prod are previewed with --refresh and --expect-no-changes, on a schedule', () => {
    expect(driftProblems(DRIFT)).toEqual([]);
  });

  test('the check itself: each planted mistake is found', () => {
    const noRefresh = clone(DRIFT);
    delete dict(stepWhere(noRefresh, isPulumiAction).with).refresh;
    expect(driftProblems(noRefresh)).toEqual([
      expect.stringMatching(/does not refresh/),
      'staging is not checked for drift',
      'prod is not checked for drift',
    ]);

    const changesAllowed = clone(DRIFT);
    dict(stepWhere(changesAllowed, isPulumiAction).with)['expect-no-changes'] = false;
    expect(driftProblems(changesAllowed)).toContainEqual(expect.stringMatching(/does not fail on changes/));

    const noProd = clone(DRIFT);
    dict(dict(previewJob(noProd).strategy).matrix).stack = ['staging'];
    expect(driftProblems(noProd)).toEqual(['prod is not checked for drift']);

    const unscheduled = clone(DRIFT);
    delete dict(unscheduled.on).schedule;
    expect(driftProblems(unscheduled)).toEqual(['no schedule']);
  });
});

describe('deploy', () => {
  test('by hand, a stack at a time; each stack in the environment of its name (prod: the protected one), with the policy pack', () => {
    expect(deployProblems(DEPLOY, COMMITTED_STACKS)).toEqual([]);
    const job = previewJob(DEPLOY);
    expect(environmentFor(job, 'prod')).toBe('prod');
  });

  test('pull requests and drift never run up', () => {
    for (const wf of [PR, DRIFT]) {
      for (const { job } of jobsOf(wf)) for (const step of stepsOf(job)) if (isPulumiAction(step)) expect(pulumiCommand(step)).toBe('preview');
    }
  });

  test('the check itself: each planted mistake is found', () => {
    const noEnvironment = clone(DEPLOY);
    delete previewJob(noEnvironment).environment;
    expect(deployProblems(noEnvironment, COMMITTED_STACKS)).toEqual([
      'up: staging deploys in environment "", not "staging"',
      'up: prod deploys in environment "", not "prod"',
      'up: external deploys in environment "", not "external"',
    ]);

    const fixedEnvironment = clone(DEPLOY);
    previewJob(fixedEnvironment).environment = { name: 'staging' };
    expect(deployProblems(fixedEnvironment, COMMITTED_STACKS)).toEqual([
      'up: prod deploys in environment "staging", not "prod"',
      'up: external deploys in environment "staging", not "external"',
    ]);

    const onPush = clone(DEPLOY);
    dict(onPush.on).push = { branches: ['main'] };
    expect(deployProblems(onPush, COMMITTED_STACKS)).toEqual([expect.stringMatching(/not only workflow_dispatch/)]);

    const noPolicy = clone(DEPLOY);
    delete dict(stepWhere(noPolicy, isPulumiAction).with).policyPacks;
    expect(deployProblems(noPolicy, COMMITTED_STACKS)).toEqual(['up: up without the policy pack']);
  });
});

describe('deploy, with backupBeforeMigrate', () => {
  const BACKUP_STACKS = backupFirstStacks(COMMITTED_STACKS);
  const upJob = (wf: Dict) => dict(dict(wf.jobs).up);
  const stepIndex = (wf: Dict, pick: (s: Dict) => boolean) => list(upJob(wf).steps).findIndex((s) => pick(dict(s)));
  const isInstall = (s: Dict) => /postgresql-client-15/.test(str(s.run));
  const isPgdg = (s: Dict) => /apt\.postgresql\.org\/pub/.test(str(s.run));
  const isUpload = (s: Dict) => /^actions\/upload-artifact@/.test(str(s.uses));

  test('staging and prod back up before migrating: deploy installs PostgreSQL 15\'s client from PGDG before up, and keeps the backup as an artifact', () => {
    expect(BACKUP_STACKS).toEqual(['prod', 'staging']);
    expect(deployBackupProblems(DEPLOY, BACKUP_STACKS)).toEqual([]);
  });

  test('the check itself: each planted mistake is found', () => {
    const noInstall = clone(DEPLOY);
    list(upJob(noInstall).steps).splice(stepIndex(noInstall, isInstall), 1);
    expect(deployBackupProblems(noInstall, BACKUP_STACKS)).toEqual(['up: staging backs up before migrating, but postgresql-client-15 is not installed before up', 'up: prod backs up before migrating, but postgresql-client-15 is not installed before up']);

    const client16 = clone(DEPLOY);
    const install = dict(list(upJob(client16).steps)[stepIndex(client16, isInstall)]);
    install.run = str(install.run).replace(/postgresql-client-15/g, 'postgresql-client-16');
    expect(deployBackupProblems(client16, BACKUP_STACKS)).toEqual([expect.stringMatching(/staging .*postgresql-client-15 is not installed/), expect.stringMatching(/prod .*postgresql-client-15 is not installed/)]);

    const onlyExternal = clone(DEPLOY);
    dict(list(upJob(onlyExternal).steps)[stepIndex(onlyExternal, isInstall)]).if = "inputs.stack == 'external'";
    expect(deployBackupProblems(onlyExternal, BACKUP_STACKS)).toHaveLength(2);

    const onlyProd = clone(DEPLOY);
    dict(list(upJob(onlyProd).steps)[stepIndex(onlyProd, isInstall)]).if = "inputs.stack == 'prod'";
    expect(deployBackupProblems(onlyProd, BACKUP_STACKS)).toEqual(['up: staging backs up before migrating, but postgresql-client-15 is not installed before up']);

    const unchecked = clone(DEPLOY);
    const pgdg = dict(list(upJob(unchecked).steps)[stepIndex(unchecked, isPgdg)]);
    pgdg.run = str(pgdg.run).replace(PGDG_FINGERPRINT, 'ANY');
    expect(deployBackupProblems(unchecked, BACKUP_STACKS)).toEqual(["up: PGDG's signing key is added without checking its fingerprint"]);

    const installAfterUp = clone(DEPLOY);
    const steps = list(upJob(installAfterUp).steps);
    steps.push(steps.splice(stepIndex(installAfterUp, isInstall), 1)[0]);
    expect(deployBackupProblems(installAfterUp, BACKUP_STACKS)).toHaveLength(2);

    const noUpload = clone(DEPLOY);
    list(upJob(noUpload).steps).splice(stepIndex(noUpload, isUpload), 1);
    expect(deployBackupProblems(noUpload, BACKUP_STACKS)).toEqual([expect.stringMatching(/staging's backup .* not uploaded/), expect.stringMatching(/prod's backup .* not uploaded/)]);

    const forever = clone(DEPLOY);
    const upload = dict(list(upJob(forever).steps)[stepIndex(forever, isUpload)]);
    delete dict(upload.with)['retention-days'];
    dict(upload.with)['if-no-files-found'] = 'error';
    delete upload.if;
    expect(deployBackupProblems(forever, BACKUP_STACKS)).toEqual([
      'up: the backup is not uploaded when up fails (if: always())',
      'up: no backup taken (nothing pending) would fail or warn (if-no-files-found: ignore)',
      "up: the artifact's retention-days is not set (1 to 90)",
    ]);

    // external turned on: the committed workflow installs for every stack, so nothing to add there.
    expect(deployBackupProblems(DEPLOY, [...BACKUP_STACKS, 'external'])).toEqual([]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-backup-stacks-'));
    try {
      fs.copyFileSync(path.join(ROOT, 'Pulumi.yaml'), path.join(dir, 'Pulumi.yaml'));
      fs.writeFileSync(path.join(dir, 'Pulumi.qa.yaml'), 'config:\n  pronunciation-assistant:backupBeforeMigrate: true\n');
      fs.writeFileSync(path.join(dir, 'Pulumi.lab.yaml'), 'config:\n  pronunciation-assistant:demoData: true\n');
      expect(backupFirstStacks(['lab', 'qa'], dir)).toEqual(['qa']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the stack-access action', () => {
  const checkScript = str(list(dict(ACTION.runs).steps).map(dict).find((s) => s.id === 'check')!.run);
  const VALUES = {
    BACKEND_URL: 's3://state-bucket-value/pronunciation-assistant',
    PASSPHRASE: 'passphrase-value-of-sixteen+',
    DOCKER_HOST_URL: 'ssh://deploy@docker-host-value.example',
    SSH_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nkey-value\n-----END OPENSSH PRIVATE KEY-----',
    KNOWN_HOSTS: 'docker-host-value.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA',
  };

  function runCheck(env: Record<string, string>) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-stack-access-'));
    try {
      const output = path.join(dir, 'output');
      const summary = path.join(dir, 'summary');
      fs.writeFileSync(output, '');
      fs.writeFileSync(summary, '');
      const script = path.join(dir, 'check.sh');
      fs.writeFileSync(script, checkScript);
      // As the runner runs a `shell: bash` step; every variable of the step's env is set, empty when its input is.
      const unset = Object.fromEntries(['STACK', 'REQUIRED', 'DOCKER', ...Object.keys(VALUES)].map((k) => [k, '']));
      const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, ...unset, ...env },
      });
      return { status: result.status, log: result.stdout + result.stderr, output: read(output), summary: read(summary) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const secretValues = [VALUES.BACKEND_URL, VALUES.PASSPHRASE, VALUES.DOCKER_HOST_URL, 'key-value'];

  test('every secret set: ready, and nothing printed', () => {
    const result = runCheck({ STACK: 'prod', REQUIRED: 'false', DOCKER: 'true', ...VALUES });
    expect(result).toMatchObject({ status: 0, log: '', output: 'ready=true\n', summary: '' });
  });

  test('a fork (no secrets): not ready, the summary names what is missing, no value anywhere', () => {
    const result = runCheck({ STACK: 'prod', REQUIRED: 'false', DOCKER: 'true', BACKEND_URL: VALUES.BACKEND_URL, KNOWN_HOSTS: VALUES.KNOWN_HOSTS });
    expect(result.status).toBe(0);
    expect(result.output).toBe('ready=false\n');
    expect(result.summary).toContain('secret PULUMI_CONFIG_PASSPHRASE_PROD, secret DOCKER_HOST_PROD, secret DOCKER_SSH_KEY');
    expect(result.summary).not.toContain('PULUMI_BACKEND_URL');
    for (const value of secretValues) expect(result.log + result.summary).not.toContain(value);
  });

  test('required (drift, deploy): a missing secret fails the step, naming it', () => {
    const result = runCheck({ STACK: 'external', REQUIRED: 'true', DOCKER: 'false', PASSPHRASE: VALUES.PASSPHRASE });
    expect(result.status).toBe(1);
    expect(result.log).toContain('::error::stack external: missing secret PULUMI_BACKEND_URL');
    expect(result.log + result.summary).not.toContain(VALUES.PASSPHRASE);
  });

  test('a Docker host that is not ssh:// is refused without printing it', () => {
    const result = runCheck({ STACK: 'staging', REQUIRED: 'false', DOCKER: 'true', ...VALUES, DOCKER_HOST_URL: 'tcp://docker-host-value.example:2376' });
    expect(result.status).toBe(1);
    expect(result.log).toContain('DOCKER_HOST_STAGING must be an ssh:// URL');
    expect(result.log).not.toContain('docker-host-value');
  });

  test('forwarded-ports.js: the PostgreSQL and MinIO ports each committed stack connects to', () => {
    const ports = (stack: string, root = ROOT) => spawnSync('node', [PORTS_SCRIPT, stack, root], { encoding: 'utf8' });
    const expected: Record<string, string> = { dev: '15432\n19000\n', staging: '25432\n29000\n', prod: '5432\n9000\n', external: '' };
    for (const stack of COMMITTED_STACKS) expect({ stack, out: ports(stack).stdout }).toEqual({ stack, out: expected[stack] });

    // A stack whose ports are bound to another address cannot be reached through a loopback forward.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-ports-'));
    try {
      fs.copyFileSync(path.join(ROOT, 'Pulumi.yaml'), path.join(dir, 'Pulumi.yaml'));
      fs.writeFileSync(path.join(dir, 'Pulumi.lan.yaml'), 'config:\n  pronunciation-assistant:bindAddress: 10.0.0.5\n');
      const result = ports('lan', dir);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('bindAddress is 10.0.0.5');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
