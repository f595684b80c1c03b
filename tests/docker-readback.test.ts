import * as fs from 'node:fs';
import * as path from 'node:path';
import { ADMINER_CONTEXT, ADMINER_DOCKERFILE } from '../stacks/containers/admin';
import { BACKUP_DOCKERFILE } from '../stacks/containers/backups';
import { goDuration } from '../stacks/containers/container';
import { plain } from './helpers/pulumi-mocks';
import { byType, CONTAINER_STACKS, one, ROOT, runCommittedStacks } from './helpers/program';

/**
 * What the Docker provider reads back in a form of its own, declared in that form, and what its
 * update cannot apply, replaced instead. The provider is kreuzwerker/terraform-provider-docker
 * v4.5.0 (5074970c, the `upstream` of pulumi/pulumi-docker from v5.1.0 on, so of 5.2.0), under
 * internal/provider/:
 * - resource_docker_container_funcs.go, Create: time.ParseDuration of each health check duration;
 *   Read: `container.Config.Healthcheck.Interval.String()` and likewise for timeout, start period.
 * - resource_docker_container_funcs.go, Update: ContainerUpdate for restart and resources only;
 *   a changed health check is recorded and never reaches the container.
 * - resource_docker_network.go: every field ForceNew.
 */

/** Go's time.ParseDuration (src/time/format.go), for the units a health check can use. */
function goParse(text: string): bigint {
  const units: Record<string, bigint> = { ns: 1n, us: 1000n, µs: 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };
  if (text === '0') return 0n;
  const parts = [...text.matchAll(/(\d+)(?:\.(\d+))?(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`time: invalid duration "${text}"`);
  let total = 0n;
  for (const [, whole, frac = '', unit] of parts) {
    const scale = units[unit];
    total += BigInt(whole) * scale + (BigInt(frac || '0') * scale) / 10n ** BigInt(frac.length);
  }
  return total;
}

/** Go's time.Duration.String (src/time/time.go, format with fmtFrac and fmtInt), for durations of a second or more. */
function goString(ns: bigint): string {
  if (ns === 0n) return '0s';
  if (ns < 1_000_000_000n) throw new Error('sub-second durations are not modelled here');
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  let u = ns / 1_000_000_000n;
  let out = `${u % 60n}${frac ? `.${frac}` : ''}s`;
  u /= 60n;
  if (u > 0n) {
    out = `${u % 60n}m${out}`;
    u /= 60n;
    if (u > 0n) out = `${u}h${out}`;
  }
  return out;
}

let runs: Awaited<ReturnType<typeof runCommittedStacks>>;
beforeAll(async () => {
  runs = await runCommittedStacks();
});

test('goDuration prints what Go prints', () => {
  expect([goString(goParse('60s')), goString(goParse('3600s')), goString(goParse('10s')), goString(goParse('90m'))]).toEqual(['1m0s', '1h0m0s', '10s', '1h30m0s']);
  for (let s = 0; s <= 100_000; s += 7) expect(goDuration(s)).toBe(goString(BigInt(s) * 1_000_000_000n));
});

describe.each(CONTAINER_STACKS)('stack %s', (stack) => {
  test('every health check duration is declared as the provider reads it back, so a refresh finds nothing changed', () => {
    const containers = byType(runs.get(stack)!.run, 'docker:index/container:Container');
    expect(containers.length).toBeGreaterThanOrEqual(4);
    for (const d of containers) {
      const { healthcheck } = plain(d.raw);
      for (const field of ['interval', 'timeout', 'startPeriod']) {
        const declared: string = healthcheck[field];
        expect([d.name, field, goString(goParse(declared))]).toEqual([d.name, field, declared]);
      }
    }
  });

  test('a changed health check replaces the container, since the provider cannot apply it to a running one', () => {
    for (const d of byType(runs.get(stack)!.run, 'docker:index/container:Container')) expect([d.name, d.replaceOnChanges]).toEqual([d.name, ['healthcheck']]);
  });

  test('the network is replaced by deleting it first (its name is fixed, and the provider creates before it deletes)', () => {
    const network = one(runs.get(stack)!.run, 'docker:index/network:Network', 'network');
    expect(network.deleteBeforeReplace).toBe(true);
  });
});

/**
 * The ignore file pulumi-docker applies to a build's context (pulumi/pulumi-docker
 * provider/provider.go, getIgnorePatterns: `<Dockerfile>.dockerignore` if it exists, else the
 * context's .dockerignore), for the context it hashes into the image's inputs (hashContext: a
 * changed file there is a changed input, so a rebuild and a new container) and for the one it sends
 * to Docker (provider/image.go, dockerBuild). The same code from v5.1.0 to the newest commit, so in
 * 5.2.0 (docs/resources.md).
 */
function ignoreFileOf(dockerfile: string, context: string): string | undefined {
  return [`${dockerfile}.dockerignore`, path.join(context, '.dockerignore')].find((candidate) => fs.existsSync(candidate));
}

test("the Adminer image's context is its own ignore file's, which lets in nothing: no change elsewhere rebuilds it", () => {
  const build = plain(one(runs.get('dev')!.run, 'docker:index/image:Image', 'adminer-image').raw).build;
  expect([build.dockerfile, build.context]).toEqual([path.join(ROOT, ADMINER_DOCKERFILE), path.join(ROOT, ADMINER_CONTEXT)]);
  expect(ignoreFileOf(build.dockerfile, build.context)).toBe(`${build.dockerfile}.dockerignore`);
  const rules = fs.readFileSync(`${build.dockerfile}.dockerignore`, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  expect(rules).toEqual(['*']);
});

test("the backup image's context is the repository's, with the root .dockerignore (tests/backups-stack.test.ts reads it)", () => {
  const build = plain(one(runs.get('prod')!.run, 'docker:index/image:Image', 'backups-image').raw).build;
  expect(ignoreFileOf(build.dockerfile, build.context)).toBe(path.join(ROOT, '.dockerignore'));
  expect(build.dockerfile).toBe(path.join(ROOT, BACKUP_DOCKERFILE));
});
