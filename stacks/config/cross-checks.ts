import { bucketNameProblem, show } from './checks';
import type { ConfigKey, External, StackConfig } from './keys';

/** What is wrong with the values together, once each is valid on its own. */
export function crossChecks(
  c: Omit<StackConfig, 'stack' | 'buckets' | 'external' | 'names'>,
  buckets: StackConfig['buckets'],
  external: External,
  set: (key: ConfigKey) => boolean,
): string[] {
  const problems: string[] = [];
  if (external.postgres && !set('externalPostgresAdminPassword')) {
    problems.push('externalPostgresAdminPassword: required with externalPostgresHost; set it with `pulumi config set --secret externalPostgresAdminPassword`.');
  }
  if (external.storage && !set('externalS3AccessKey')) {
    problems.push('externalS3AccessKey: required with externalS3Endpoint; set it with `pulumi config set --secret externalS3AccessKey`.');
  }
  if (external.storage && !set('externalS3SecretKey')) {
    problems.push('externalS3SecretKey: required with externalS3Endpoint; set it with `pulumi config set --secret externalS3SecretKey`.');
  }
  if (external.storage && !c.bucketPrefix) {
    problems.push(
      'bucketPrefix: required with externalS3Endpoint, whose buckets other stacks may share: give this stack\'s a prefix of its own ' +
        '(`pulumi config set bucketPrefix <name>-`).',
    );
  }
  if (c.adminTools && (external.postgres || external.storage)) {
    problems.push('adminTools: the admin tools run beside the stack\'s own PostgreSQL and MinIO containers; turn it off for a stack on external servers.');
  }
  if (c.backupIntervalHours > 0 && (external.postgres || external.storage)) {
    problems.push(
      'backupIntervalHours: scheduled backups run in a container beside the stack\'s own PostgreSQL and MinIO; for a stack on ' +
        'external servers set it to 0 (`pulumi config rm backupIntervalHours`) and rely on the managed service\'s own backups, or run `npm run db:backup -- --stack <name>` yourself.',
    );
  }
  // The bucket must still hold the last backup when the next one is due.
  const minRetentionDays = Math.floor(c.backupIntervalHours / 24) + 1;
  if (c.backupIntervalHours > 0 && c.backupRetentionDays < minRetentionDays) {
    problems.push(
      `backupRetentionDays: ${c.backupRetentionDays} would empty the backups bucket between two backups ${c.backupIntervalHours} hours apart ` +
        `(backupIntervalHours); raise it to at least ${minRetentionDays}.`,
    );
  }
  const published: [ConfigKey, number][] = [];
  if (!external.postgres) published.push(['postgresPort', c.postgresPort], ['pgbouncerPort', c.pgbouncerPort]);
  if (!external.redis) published.push(['redisPort', c.redisPort]);
  if (!external.storage) published.push(['minioApiPort', c.minioApiPort]);
  if (c.adminTools) published.push(['minioConsolePort', c.minioConsolePort], ['adminerPort', c.adminerPort]);
  const byPort = new Map<number, ConfigKey[]>();
  for (const [key, p] of published) byPort.set(p, [...(byPort.get(p) ?? []), key]);
  for (const [p, keys] of byPort) {
    if (keys.length > 1) problems.push(`${keys.join(', ')}: all are ${p}; each service needs its own host port.`);
  }
  const maxmemoryLimit = Math.floor((c.redisMemoryMb * 3) / 4);
  if (c.redisMaxmemoryMb > maxmemoryLimit) {
    problems.push(
      `redisMaxmemoryMb: ${c.redisMaxmemoryMb} is more than three quarters of redisMemoryMb (${c.redisMemoryMb}); ` +
        `lower it to ${maxmemoryLimit} or raise redisMemoryMb to ${Math.ceil((c.redisMaxmemoryMb * 4) / 3)}, ` +
        'or the append-only rewrite can push Redis over its memory limit.',
    );
  }
  // One message for the prefix, naming the first bucket it breaks.
  const broken = Object.entries(buckets).find(([, name]) => bucketNameProblem(name));
  if (broken) {
    const [key, name] = broken;
    problems.push(`bucketPrefix: ${show(c.bucketPrefix)} makes the ${key} bucket ${show(name)}, which ${bucketNameProblem(name)}.`);
  }
  return problems;
}
