import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResourceValidationPolicy } from '@pulumi/policy';
import { ROOT } from '../../common/paths';
import { imageProblem } from '../../stacks/config/checks';
import { POSTGRES, REDIS } from '../../stacks/services';
import { onTypes, subject, TYPES, unknownDuringPreview } from './common';

/**
 * The major version an image must have, by the resource that pulls it: `<service>-image`
 * (stacks/containers/container.ts, serviceContainer). The same majors the config check holds
 * postgresImage and redisImage to (stacks/config/keys.ts).
 */
const MAJORS: Record<string, number> = { [`${POSTGRES.alias}-image`]: POSTGRES.major, [`${REDIS.alias}-image`]: REDIS.major };

/**
 * An image ID or a reference with a digest: content-addressed, so it cannot move. What a container
 * here runs: a pulled image's ID (RemoteImage.imageId) or a local build's (Image.repoDigest, "the image
 * ID of the built local image": node_modules/@pulumi/docker/image.d.ts).
 */
const CONTENT_ADDRESSED = /(^|@)sha256:[a-f0-9]{64}$/;

/**
 * The base images a Dockerfile builds FROM, each with what it names: a build argument (FROM
 * ${BASE_IMAGE}), an earlier stage (FROM bundle), `scratch`, or a reference; and the stage's name.
 */
export function dockerfileBases(text: string): { ref: string; line: number; stage?: string }[] {
  const bases: { ref: string; line: number; stage?: string }[] = [];
  text.split('\n').forEach((content, i) => {
    const match = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(content);
    if (match) bases.push({ ref: match[1], line: i + 1, stage: match[2]?.toLowerCase() });
  });
  return bases;
}

/** What is wrong with the base images of a build: each FROM must be pinned, directly or through a pinned build argument. */
export function buildProblems(dockerfile: string, text: string, buildArgs: Record<string, string>): string[] {
  const problems: string[] = [];
  const stages = new Set<string>(['scratch']);
  for (const { ref, line, stage } of dockerfileBases(text)) {
    const where = `${dockerfile}:${line}`;
    const arg = /^\$\{?(\w+)\}?$/.exec(ref)?.[1];
    if (arg !== undefined) {
      const value = buildArgs[arg];
      if (value === undefined) problems.push(`${where} builds FROM \${${arg}}, a build argument the resource does not set: set it to a pinned image`);
      else if (imageProblem(value)) problems.push(`${where} builds FROM \${${arg}} = ${JSON.stringify(value)}, which must ${imageProblem(value)}`);
    } else if (!stages.has(ref.toLowerCase()) && imageProblem(ref)) {
      problems.push(`${where} builds FROM ${JSON.stringify(ref)}, which must ${imageProblem(ref)}`);
    }
    if (stage) stages.add(stage);
  }
  return problems;
}

export const imagesPinned: ResourceValidationPolicy = {
  name: 'images-pinned',
  description:
    'Every image is pinned to a full version or a digest: a pulled image by its reference, a built image by its base images, a container by the image ID it runs. A moving tag (latest, 15, alpine) would let two deployments of one commit run different software.',
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.remoteImage, TYPES.image, TYPES.container], (args, report) => {
    const props = args.props;
    if (args.type === TYPES.remoteImage) {
      const ref = String(props.name ?? '');
      const problem = imageProblem(ref, MAJORS[args.name]);
      if (problem) report(`${subject(args)} pulls ${JSON.stringify(ref)}, which must ${problem}; set the stack's image key (pulumi config set <service>Image ...) to a full version tag or a digest.`);
      return;
    }
    if (args.type === TYPES.image) {
      // Relative paths from the project folder, where Pulumi runs the provider (the pack itself
      // runs in its own folder); without a Dockerfile, the context's. The program gives both absolute.
      const build = props.build ?? {};
      const context = path.resolve(ROOT, String(build.context ?? '.'));
      const dockerfile = build.dockerfile ? path.resolve(ROOT, String(build.dockerfile)) : path.join(context, 'Dockerfile');
      let text: string;
      try {
        text = fs.readFileSync(dockerfile, 'utf8');
      } catch (error) {
        report(`${subject(args)}: its Dockerfile ${dockerfile} cannot be read (${(error as Error).message}), so its base images cannot be checked; run the preview from the project folder.`);
        return;
      }
      const buildArgs = Object.fromEntries(Object.entries((build.args ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      for (const problem of buildProblems(dockerfile, text, buildArgs)) report(`${subject(args)}: ${problem}.`);
      return;
    }
    // A container runs an image ID, which is unknown during a preview that creates the image; the
    // image resource's own check (above) covers that case.
    if (unknownDuringPreview(() => props.image)) return;
    const image = String(props.image ?? '');
    if (!CONTENT_ADDRESSED.test(image) && imageProblem(image)) {
      report(`${subject(args)} runs ${JSON.stringify(image)}, which must ${imageProblem(image)}; run the ID of a pinned docker.RemoteImage (stacks/containers/container.ts) instead.`);
    }
  }),
};
