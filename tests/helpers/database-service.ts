/**
 * A service as client/database.ts's README example writes one, in a process of its own: what
 * tests/client-database.test.ts runs. `node --import tsx tests/helpers/database-service.ts EMAIL TITLE`,
 * with the stack's variables in the environment. It writes a user and their document through
 * DATABASE_URL and prints their ids as one JSON line; then, for each line read on its standard input
 * (the test restarts PgBouncer first), reads the document's title back through the same pool and
 * prints it. It ends when its input does, closing the database.
 */
import * as readline from 'node:readline';
import { eq } from 'drizzle-orm';
import { connectDatabase } from '../../client/database';
import { documents, users } from '../../schema';

async function main(): Promise<void> {
  const [email, title] = process.argv.slice(2);
  const database = await connectDatabase({ applicationName: 'test-service' });
  try {
    const ids = await database.db.transaction(async (tx) => {
      const [user] = await tx.insert(users).values({ email, name: 'Service Test' }).returning({ id: users.id });
      const [document] = await tx.insert(documents).values({ userId: user.id, title, content: 'Written by a service.' }).returning({ id: documents.id });
      return { userId: user.id, documentId: document.id };
    });
    console.log(JSON.stringify(ids));
    for await (const _line of readline.createInterface({ input: process.stdin })) {
      const [row] = await database.db.select({ title: documents.title }).from(documents).where(eq(documents.id, ids.documentId));
      console.log(JSON.stringify(row));
    }
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  process.exitCode = 1;
});
