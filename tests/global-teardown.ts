import type { PostgresServer } from './helpers/postgres';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __postgres?: PostgresServer }).__postgres?.stop();
}
