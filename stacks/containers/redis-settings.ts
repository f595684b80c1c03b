import { createHash } from 'node:crypto';
import { REDIS } from '../services';

export const REDIS_MIN_MEMORY_MB = 64;

export interface RedisSettings {
  maxmemoryMb: number;
  maxmemoryPolicy: string;
}

/** `redis-server` arguments: ACL users from a file, append-only persistence, bounded memory. */
export function redisCommand(s: RedisSettings): string[] {
  return [
    'redis-server',
    '--port', String(REDIS.port),
    '--dir', REDIS.dataDir,
    '--aclfile', REDIS.aclFile,
    // Every client must log in (see redisAcl); protected mode would refuse the other containers.
    '--protected-mode', 'no',
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--maxmemory', `${s.maxmemoryMb}mb`,
    '--maxmemory-policy', s.maxmemoryPolicy,
  ];
}

/**
 * The ACL file. The default user may only PING, which is all the health check needs, so the check
 * carries no password. The app user is stored as a SHA-256 hash: the file holds no password either.
 */
export function redisAcl(appPassword: string): string {
  const hash = createHash('sha256').update(appPassword).digest('hex');
  return [
    'user default on nopass resetchannels -@all +ping',
    `user ${REDIS.appUser} on #${hash} ~* &* +@all -@admin -@dangerous +info`,
    '',
  ].join('\n');
}
