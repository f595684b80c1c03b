/**
 * The PostgreSQL major version the schema is written for. The stack pins its image to it
 * (stacks/services.ts re-exports it) and `npm run health` checks the server runs it. Here rather
 * than in stacks/, because the commands are compiled without stacks/.
 */
export const POSTGRES_MAJOR = 15;
