/**
 * For `bench:search --profile`: each statement a search sends, named and timed as the client sees
 * it (round trip included), so that the slowest queries can be told apart by the statements they
 * took.
 */
import type { Client } from 'pg';

export interface SentStatement {
  /** The statement of schema/document-search.ts it is: the tsquery, or a pass ('title', 'head', ...). */
  kind: string;
  ms: number;
}

/**
 * Which of the search's statements an SQL text is, read from schema/document-search.ts. The checks
 * run in order, each on a marker the statements after it lack: the tsquery statement's column, the
 * newest pass's MATERIALIZED, the recent pass's probe, the phrase pass's search_pairs, the either
 * pass's regexp_matches, the head pass's description; then the title pass is the remaining
 * `WITH page AS` statement and the full pass the remaining `UNION ALL` one. A new pass needs a
 * marker of its own here (tests/bench-statements.test.ts names every SearchPass, so it fails until
 * then).
 */
export function statementKind(text: string): string {
  if (/ AS tsquery$/.test(text)) return 'tsquery';
  if (text.includes('MATERIALIZED')) return 'newest';
  if (text.includes(') probe ')) return 'recent';
  if (text.includes('search_pairs(')) return 'phrase';
  if (text.includes('regexp_matches(')) return 'either';
  if (text.includes("coalesce(description, '')")) return 'head';
  if (text.includes('WITH page AS')) return 'title';
  if (text.includes('UNION ALL')) return 'full';
  return 'other';
}

/**
 * Times every query `client` sends from now on; `take()` returns those sent since its last call.
 * Wraps client.query, which drizzle's node-postgres driver calls for each statement.
 */
export function recordStatements(client: Client): { take: () => SentStatement[] } {
  let sent: SentStatement[] = [];
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text;
    const started = process.hrtime.bigint();
    const result = await query(...args);
    sent.push({ kind: statementKind(text.trim()), ms: Number(process.hrtime.bigint() - started) / 1e6 });
    return result;
  };
  return {
    take: () => {
      const taken = sent;
      sent = [];
      return taken;
    },
  };
}
