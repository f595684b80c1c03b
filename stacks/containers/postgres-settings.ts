/**
 * PostgreSQL settings derived from the container's memory limit, after pgtune's "web
 * application" profile on SSD storage (https://pgtune.leopard.in.ua). At 1024 MiB they are the
 * spec's settings, except effective_cache_size: the spec's 1GB is the whole memory limit, and the
 * cgroup that enforces the limit also charges the page cache, so pgtune's three quarters is what
 * can really stay cached.
 */

/** Below this, shared_buffers and per-connection memory no longer leave room for 200 connections. */
export const POSTGRES_MIN_MEMORY_MB = 256;

/** Connections PostgreSQL itself accepts; clients normally come through PgBouncer's pool. */
export const MAX_CONNECTIONS = 200;

/** Kept free for the superuser, migrations and admin tools when PgBouncer's pool is full. */
export const RESERVED_CONNECTIONS = 20;

export type PostgresSettings = Record<string, string>;

const kB = (n: number) => `${Math.floor(n)}kB`;
const MB = (n: number) => `${Math.floor(n)}MB`;

export function postgresSettings(memoryMb: number): PostgresSettings {
  if (!Number.isInteger(memoryMb) || memoryMb < POSTGRES_MIN_MEMORY_MB) {
    throw new RangeError(`PostgreSQL needs at least ${POSTGRES_MIN_MEMORY_MB} MiB, got ${memoryMb}`);
  }
  const sharedBuffersMb = memoryMb / 4;
  // Per sort or hash node, and a query may run several: pgtune divides what shared_buffers leaves
  // by three per connection.
  const workMemKb = Math.max(64, ((memoryMb - sharedBuffersMb) * 1024) / (MAX_CONNECTIONS * 3));
  return {
    max_connections: String(MAX_CONNECTIONS),
    superuser_reserved_connections: '3',
    shared_buffers: MB(sharedBuffersMb),
    effective_cache_size: MB((memoryMb * 3) / 4),
    maintenance_work_mem: MB(Math.min(2048, memoryMb / 16)),
    work_mem: kB(workMemKb),
    // WAL segments are 16MB; buffering more than one gains nothing.
    wal_buffers: MB(Math.min(16, sharedBuffersMb / 16)),
    checkpoint_completion_target: '0.9',
    min_wal_size: '1GB',
    max_wal_size: '4GB',
    default_statistics_target: '100',
    random_page_cost: '1.1',
    effective_io_concurrency: '200',
    password_encryption: 'scram-sha-256',
  };
}

/** `postgres -c name=value ...`, in a stable order so an unchanged config never restarts the container. */
export function postgresCommand(settings: PostgresSettings): string[] {
  return ['postgres', ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}
