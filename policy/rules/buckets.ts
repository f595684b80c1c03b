import type { ResourceValidationPolicy } from '@pulumi/policy';
import type { BucketKey } from '../../common/names';
import { storageNames } from '../../common/stack-names';
import { onTypes, type Settings, subject, TYPES, withSettings } from './common';

/**
 * The buckets anyone may read from: `temp`, whose links are handed out without credentials
 * (README, "Inside the servers"; stacks/inside/storage.ts gives it the anonymous-download policy).
 */
export const PUBLIC_BUCKETS: readonly BucketKey[] = ['temp'];

/** What an anonymous client may do in a public bucket: download an object by its name. No listing, no upload. */
const PUBLIC_ACTIONS = ['s3:GetObject'];

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

/** Whether a statement's principal is anyone: "*", or { AWS: "*" } / { AWS: ["*"] }. */
function anonymous(principal: unknown): boolean {
  if (principal === '*') return true;
  if (principal && typeof principal === 'object') return Object.values(principal).some((p) => asList(p).includes('*'));
  return false;
}

/** What is wrong with a bucket policy document: any grant to anyone beyond downloads from a public bucket. */
export function bucketPolicyProblems(bucket: string, document: string, publicNames: string[]): string[] {
  let parsed: { Statement?: unknown };
  try {
    parsed = JSON.parse(document) as { Statement?: unknown };
  } catch {
    return ['its policy is not JSON, so what it grants cannot be checked'];
  }
  const problems: string[] = [];
  for (const statement of asList(parsed.Statement) as { Effect?: string; Principal?: unknown; Action?: unknown; Resource?: unknown; Sid?: string }[]) {
    if (statement.Effect !== 'Allow' || !anonymous(statement.Principal)) continue;
    const sid = statement.Sid ? ` (statement ${statement.Sid})` : '';
    if (!publicNames.includes(bucket)) {
      problems.push(`grants anonymous access to ${bucket}${sid}, a private bucket; only ${publicNames.join(', ')} may be public`);
      continue;
    }
    const extra = asList(statement.Action).filter((a) => !PUBLIC_ACTIONS.includes(String(a)));
    if (extra.length > 0) problems.push(`lets anyone ${extra.join(', ')} in ${bucket}${sid}; anyone may only download (${PUBLIC_ACTIONS.join(', ')})`);
    const outside = asList(statement.Resource).filter((r) => r !== `arn:aws:s3:::${bucket}/*`);
    if (outside.length > 0) problems.push(`opens ${outside.join(', ')} to anyone${sid}; only the objects of ${bucket} (arn:aws:s3:::${bucket}/*) may be`);
  }
  return problems;
}

export const bucketsPrivate = (settings: Settings): ResourceValidationPolicy => ({
  name: 'buckets-private',
  description: `Every bucket is private, except ${PUBLIC_BUCKETS.join(', ')} (with the stack's bucketPrefix), where anyone may download an object by its name but neither list nor upload.`,
  enforcementLevel: 'mandatory',
  validateResource: onTypes([TYPES.bucket, TYPES.bucketPolicy], (args, report) =>
    withSettings(settings, report, ({ bucketPrefix }) => {
      const names = storageNames(undefined, bucketPrefix).buckets;
      const publicNames = PUBLIC_BUCKETS.map((key) => names[key]);
      const bucket = String(args.props.bucket ?? '');
      if (args.type === TYPES.bucket) {
        // No ACL is the provider's default, private (aminueza/terraform-provider-minio docs/S3_BUCKET.md).
        const acl = args.props.acl ?? 'private';
        if (acl !== 'private') report(`${subject(args)} has the canned ACL ${JSON.stringify(acl)}; make it private, and grant public downloads with a bucket policy (stacks/inside/storage-policies.ts, anonymousDownloadPolicy), only on ${publicNames.join(', ')}.`);
        return;
      }
      for (const problem of bucketPolicyProblems(bucket, String(args.props.policy ?? ''), publicNames)) {
        report(`${subject(args)} ${problem}; change the policy document (stacks/inside/storage-policies.ts).`);
      }
    }),
  ),
});
