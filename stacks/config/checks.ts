import { ADMINER, POSTGRES } from '../services';

/** A host name or address, as a server elsewhere is named: no scheme, port, path or spaces. */
export const hostProblem = (v: string) => (v === '' || /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$/.test(v) ? undefined : 'be a host name or IP address, without scheme or port');

/** An absolute path: the providers and the post-deploy step run in other folders than the one it was typed in. */
export const pemPathProblem = (v: string) => (v === '' || (v.startsWith('/') && !/[\s?&#]/.test(v)) ? undefined : 'be an absolute path without spaces, ? & or #');

/**
 * The backup image is built FROM it (stacks/containers/backup.Dockerfile): Debian bookworm, whose apt has the
 * client of the server's PostgreSQL major; Node.js from 20.6, which reads the credentials file (--env-file).
 */
export function backupNodeImageProblem(ref: string): string | undefined {
  const pinned = imageProblem(ref);
  if (pinned) return pinned;
  const tag = /:([\w][\w.-]*)(?:@sha256:[a-f0-9]{64})?$/.exec(ref.slice(ref.lastIndexOf('/') + 1))?.[1] ?? '';
  if (!tag.includes('bookworm')) return `be a Debian bookworm image, its tag naming bookworm (node:<version>-bookworm-slim): the image installs bookworm's postgresql-client-${POSTGRES.major}`;
  const [major, minor] = (/^(\d+)\.(\d+)/.exec(tag) ?? []).slice(1).map(Number);
  if (!(major > 20 || (major === 20 && minor >= 6))) return 'be Node.js 20.6 or newer, which reads the credentials file (node --env-file)';
  return undefined;
}

/**
 * The Adminer image is built FROM it (stacks/containers/adminer.Dockerfile): Debian bookworm, whose apt has the
 * adminer release the tests run (ADMINER.debianVersion) and the PHP they run it with. Debian's point
 * release tags (debian:12.15-slim) name bookworm by its version, other tags by its name
 * (debian:bookworm-slim@sha256:..., node:22.21.1-bookworm-slim). The Dockerfile checks it again.
 */
export function adminerBaseImageProblem(ref: string): string | undefined {
  const pinned = imageProblem(ref);
  if (pinned) return pinned;
  const [name, tag = ''] = ref.slice(ref.lastIndexOf('/') + 1).split('@')[0].split(':');
  if (tag.includes('bookworm') || (name === 'debian' && /^12\.\d+(-slim)?$/.test(tag))) return undefined;
  return `be a Debian bookworm image (debian:12.<point release>-slim, or a tag naming bookworm): the image installs bookworm's adminer ${ADMINER.debianVersion}, the release the tests run`;
}

/** S3's bucket naming rules, which MinIO enforces too. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'may hold only lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit';
  }
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) return 'must not have two dots, or a dot next to a hyphen';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not look like an IP address';
  if (name.startsWith('xn--') || name.startsWith('sthree-') || name.endsWith('-s3alias') || name.endsWith('--ol-s3')) {
    return 'uses a prefix or suffix S3 reserves';
  }
  return undefined;
}

/**
 * An image is pinned when it names a digest, or a tag holding a full version (15.10-alpine,
 * RELEASE.2024-01-01T16-36-33Z): a moving tag such as latest, 15 or alpine would let two
 * deployments of one commit run different software.
 */
export function imageProblem(ref: string, major?: number): string | undefined {
  const match = /^((?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::([\w][\w.-]{0,127}))?(?:@sha256:([a-f0-9]{64}))?$/.exec(ref);
  if (!match) return 'be an image reference such as postgres:15.10-alpine';
  const [, , tag, digest] = match;
  if (!digest) {
    if (tag === undefined) return 'name a version tag or a digest (no tag means latest)';
    if (tag === 'latest') return 'not be latest: pin a version tag such as 15.10-alpine, or a digest';
    if (!/\d+\.\d+|^RELEASE\.\d{4}-\d\d-\d\dT/.test(tag)) return `pin a full version, not the moving tag "${tag}"`;
  }
  if (major !== undefined && tag !== undefined && tag !== 'latest') {
    const version = /(\d+)(?:\.\d+)?/.exec(tag);
    if (version && Number(version[1]) !== major) return `be version ${major}, not ${tag}`;
  }
  return undefined;
}

/** How a value the user typed is quoted in a message: exactly, white space and all. */
export const show = (text: string | undefined) => JSON.stringify(text);
