/**
 * What the health checks of `npm run health` share: the row each check yields, the bound on how
 * long a server may take to answer, and the rows for a service that is not configured.
 */

export type Service = 'postgres' | 'redis' | 'storage';

/** One line of the health table. `detail` never holds a secret: text from servers is redacted first. */
export interface HealthRow {
  service: Service;
  check: string;
  ok: boolean;
  detail: string;
}

/** The application's variables (common/names.ts) by name; unset ones are absent or undefined. */
export type HealthVars = Readonly<Record<string, string | undefined>>;

/** How long Redis and the object store may take to answer one request (PostgreSQL: its URL's connect_timeout). */
export const CHECK_TIMEOUT_MS = 5_000;

export const pass = (service: Service, check: string, detail: string): HealthRow => ({ service, check, ok: true, detail });
export const fail = (service: Service, check: string, detail: string): HealthRow => ({ service, check, ok: false, detail });

/** A table cell is one line: server messages and the migrator's lists may span several. */
export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim().replace(/^- /, ''))
    .filter(Boolean)
    .join('; ');
}

/**
 * The row of a service whose variables are not all set, or undefined when they are. A service
 * with none of them set is "not configured"; otherwise the row names the missing ones. Either way
 * its checks are not run: they could only fail for the same reason.
 */
export function configurationRow(service: Service, vars: HealthVars, required: readonly string[]): HealthRow | undefined {
  const missing = required.filter((name) => !vars[name]);
  if (missing.length === 0) return undefined;
  if (missing.length === required.length) {
    return fail(service, 'configuration', `not configured: set ${missing.join(', ')} (or name a stack: npm run health -- --stack <name>)`);
  }
  return fail(service, 'configuration', `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
}

export class CheckTimeout extends Error {
  override name = 'CheckTimeout';
  constructor(readonly ms: number) {
    super(`no answer within ${ms / 1000} s`);
  }
}

/**
 * `work`, or a CheckTimeout once `ms` have passed; `abandon` then releases what `work` holds (a
 * socket, say), so that a server that accepted the connection and went silent cannot hang the run.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, abandon: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abandon();
      reject(new CheckTimeout(ms));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a failed connection's error code means, and what to check, for a server at host:port
 * named by the variable `source`; undefined for an error that is not about reaching the server.
 */
export function networkProblem(code: string | undefined, where: { host: string; port: number; source: string }): string | undefined {
  const reasons: Record<string, string> = {
    ECONNREFUSED: `connection refused: is the server running and listening on ${where.host}:${where.port}?`,
    ENOTFOUND: `host "${where.host}" not found: check the host name in ${where.source}`,
    EAI_AGAIN: `host "${where.host}" could not be resolved now: check DNS or the host name`,
    EHOSTUNREACH: `host ${where.host} is unreachable from here`,
    ECONNRESET: `the server closed the connection: check that it accepts connections from here, and the scheme in ${where.source}`,
  };
  return reasons[code ?? ''];
}
