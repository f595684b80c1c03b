-- Services check at start-up that this database has every migration their code was built with
-- (client/database.ts, connectDatabase), but the app role may not read the history: it has no
-- USAGE on schema drizzle (common/privileges.ts grants it `public` only). This function reads the
-- history for its caller, as its owner (the migrator, who runs the migrations), and returns each
-- applied migration's journal time (created_at, the `when` of schema/migrations/meta/_journal.json)
-- and nothing else: no hash, no name.
--
-- PostgreSQL checks the body against the history table now (check_function_bodies): every migrator
-- creates that table before the first migration (lib/migrations/runner.ts, ensureTable; drizzle's
-- own, node_modules/drizzle-orm/pg-core/dialect.cjs, PgDialect.migrate). A body in quotes, not
-- BEGIN ATOMIC, so that the function does not depend on the table: the history can still be
-- dropped and rebuilt (db:baseline), and a call then fails with 42P01, which services report.
--
-- Safe to run as its owner: search_path is pinned to pg_catalog, then pg_temp (last, so that no
-- temporary object can stand in for a catalog one), and the one table it reads is schema-qualified.
-- EXECUTE stays with PUBLIC, CREATE FUNCTION's default, so any role that may connect to this
-- database may call it: what it reveals, the journal times of the applied migrations, is in the
-- committed journal already and says only which migrations this database has. Granting it to the
-- app role alone cannot be written here: role names are namespaced per stack
-- (common/stack-names.ts), and a migration is the same file on every stack.
-- squawk-ignore require-lock-timeout -- the runner's --ddl-lock-timeout bounds the wait; it locks no table
CREATE FUNCTION public.applied_migrations() RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT created_at FROM drizzle.__drizzle_migrations WHERE created_at IS NOT NULL ORDER BY created_at
$$;
--> statement-breakpoint
COMMENT ON FUNCTION public.applied_migrations() IS 'The created_at (journal time) of each applied migration, for services'' start-up check (client/database.ts); runs as its owner, since the app role may not read schema drizzle.';
