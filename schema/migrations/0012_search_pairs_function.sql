-- The adjacent word pairs of a search vector, for phrase search (schema/document-search.ts, the
-- phrase pass; idx_documents_public_pairs, migration 0013, indexes it). A phrase of two common words
-- otherwise reads every public document holding both words to check their positions, as GIN keeps
-- no positions: `"lowex lowex"` read all 10,693 public documents with `lowex` for its 10 matches, 29
-- ms at 1M documents (bench/RESULTS.md). With this index it reads the documents holding the pair's
-- token: 79, for 0.9 ms.
--
-- Each pair, the two lexemes with a space between, is hashed into one of 65,536 tokens: storing
-- the pairs themselves made a 357 MB index over 98,041 public documents, the tokens 35 MB. A token
-- stands for every pair hashed to it, so the index finds a superset of the documents with the
-- pair, and the search still checks the phrase itself. 65,536 tokens of at most
-- four hex digits keep the vector under tsvector's 1 MB of lexemes whatever the document: it can
-- hold no more tokens than that (src/include/tsearch/ts_type.h, MAXSTRPOS).
-- A pair is two positions one apart (b = a + 1), what `<->` asks for (src/backend/utils/adt/
-- tsvector_op.c, TS_phrase_execute); several lexemes at one position (positions stop at 16,383,
-- MAXENTRYPOS - 1) each pair with the lexemes at the next.
--
-- hashtext is the hash that hash indexes on text store, which pg_upgrade keeps as they are; were a
-- new PostgreSQL to change it, this index would have to be rebuilt (REINDEX) after pg_upgrade, or
-- phrases would miss documents. A restore builds the index anew on the server that then computes
-- the query's tokens.
-- search_path is pinned (pg_catalog, then pg_temp), as for applied_migrations (0008).
-- squawk-ignore require-lock-timeout -- the runner's --ddl-lock-timeout bounds the wait; it locks no table
CREATE FUNCTION public.search_pairs(vector tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(array_to_tsvector(array_agg(DISTINCT to_hex(hashtext(a.lexeme || ' ' || b.lexeme) & 65535))), ''::tsvector)
    FROM (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) a
    JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) b ON b.position = a.position + 1
$$;
--> statement-breakpoint
COMMENT ON FUNCTION public.search_pairs(tsvector) IS 'Adjacent word pairs of a search vector, hashed to 65,536 tokens, for phrase search (schema/document-search.ts).';
