import { PgDialect } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';
import { statementKind } from '../bench/statements';
import { documentSearchSql, oneWordTitleSql, type SearchPass, searchQueryTextSql } from '../schema/document-search';

// `bench:search --profile` names each statement the search sends from its SQL text: a change of
// the statements in schema/document-search.ts that the names no longer follow fails here.
const text = (statement: SQL) => new PgDialect().sqlToQuery(statement).sql;
const options = { userId: '00000000-0000-4000-b000-000000000001' };

test('names the tsquery statement and the one-word title statement', () => {
  expect(statementKind(text(searchQueryTextSql({ ...options, query: 'vowel' })))).toBe('tsquery');
  expect(statementKind(text(oneWordTitleSql({ ...options, query: 'vowel' })))).toBe('title');
});

// A tsquery for each pass: `satisfies` makes a new SearchPass a type error here until it is listed.
const tsqueries = {
  title: "'vowel'",
  either: "'vowel' | 'stress'",
  head: "'vowel'",
  recent: "'vowel' & !'stress'",
  newest: "'vowel' & !'stress'",
  phrase: "'vowel' <-> 'stress'",
  full: "'vowel' & 'stress'",
} satisfies Record<SearchPass, string>;

test.each(Object.entries(tsqueries) as [SearchPass, string][])('names the %s pass', (pass, tsquery) => {
  expect(statementKind(text(documentSearchSql(pass, tsquery, options)))).toBe(pass);
});

test('names what is none of them "other"', () => {
  expect(statementKind('SELECT 1')).toBe('other');
});
