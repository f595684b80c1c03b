import { defineConfig } from 'drizzle-kit';
import { MIGRATIONS_DIR, SCHEMA_ENTRY } from './common/paths';

// Only `db:studio` needs a database; generate and check work without DATABASE_URL.
export default defineConfig({
  dialect: 'postgresql',
  schema: SCHEMA_ENTRY,
  out: MIGRATIONS_DIR,
  strict: true,
  verbose: true,
  ...(process.env.DATABASE_URL ? { dbCredentials: { url: process.env.DATABASE_URL } } : {}),
});
