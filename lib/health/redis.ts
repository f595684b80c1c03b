import { APP_ENV } from '../../common/names';
import { UserFacingError } from '../postgres/connection';
import { CHECK_TIMEOUT_MS, configurationRow, fail, pass, type HealthRow, type HealthVars } from './check';
import { parseRedisUrl, RedisConnection, RedisReplyError, type RedisTarget } from './redis-client';

/** An INFO reply's `field:value` lines as an object. */
export function parseInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/** The checks in the order they run: a failure ends the run, so it belongs to the first check without a row. */
const CHECKS = ['login', 'ping', 'memory'] as const;

/**
 * Logs in as REDIS_URL's user (the stack's `app`, whose ACL allows INFO but not CONFIG), then PING
 * and the memory bound from `INFO memory`. A failed login or a lost connection ends the checks.
 */
export async function checkRedis(vars: HealthVars): Promise<HealthRow[]> {
  const source = APP_ENV.redisUrl;
  const unset = configurationRow('redis', vars, [source]);
  if (unset) return [unset];
  let target: RedisTarget;
  let connection: RedisConnection;
  try {
    target = parseRedisUrl(vars[source], source);
    connection = await RedisConnection.open(target, CHECK_TIMEOUT_MS);
  } catch (error) {
    return [fail('redis', 'login', (error as Error).message)];
  }
  const user = target.user ?? 'default';
  const rows: HealthRow[] = [];
  try {
    await connection.command(target.user ? ['AUTH', target.user, target.password] : ['AUTH', target.password]);
    rows.push(pass('redis', 'login', `user ${user} at ${target.display} (from ${source})`));

    const pong = await connection.command(['PING']);
    rows.push(pong === 'PONG' ? pass('redis', 'ping', 'PONG') : fail('redis', 'ping', `expected PONG, got ${JSON.stringify(pong)}`));

    const info = parseInfo(String(await connection.command(['INFO', 'memory'])));
    const policy = info.maxmemory_policy ?? 'unknown';
    rows.push(
      Number(info.maxmemory) > 0
        ? pass('redis', 'memory', `maxmemory ${info.maxmemory_human}, used ${info.used_memory_human}, policy ${policy}`)
        : fail('redis', 'memory', `maxmemory is 0 (policy ${policy}): the cache may grow until the host runs out of memory; set maxmemory (the stack's redisMaxmemoryMb)`),
    );
  } catch (error) {
    rows.push(fail('redis', CHECKS[rows.length], describe(error, target, user)));
  } finally {
    connection.close();
  }
  return rows;
}

function describe(error: unknown, target: RedisTarget, user: string): string {
  if (error instanceof UserFacingError) return error.message;
  if (!(error instanceof RedisReplyError)) throw error;
  // The reply was redacted as it was read.
  if (error.code === 'WRONGPASS') {
    return `authentication failed for user ${user} at ${target.display}: check the user and password in ${target.source} (${error.message})`;
  }
  if (error.code === 'NOPERM') return `user ${user} may not run this command (${error.message}): check its ACL`;
  return `Redis at ${target.display} answered: ${error.message}`;
}
