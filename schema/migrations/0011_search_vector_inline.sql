-- Keep documents.search_vector in the table's own row, and let content go to the TOAST table
-- instead. By default (storage EXTENDED) PostgreSQL moved the larger of the two out of line, the
-- search vector (about 1.5 kB at 150 words), so every match the search ranks cost a TOAST lookup
-- as well as its row; the search never reads content. MAIN makes the toaster compress and move
-- EXTENDED columns out first (src/backend/access/heap/heaptoast.c, heap_toast_insert_or_update).
-- Measured on 98,041 public documents (bench/RESULTS.md): ranking the 10,693 matches of the most
-- common word 68-74 ms instead of 128-178 ms. Rows written before this migration keep their
-- layout until they are next updated (or the table rewritten, VACUUM FULL).
SET LOCAL lock_timeout = '5s';
--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "search_vector" SET STORAGE MAIN;
