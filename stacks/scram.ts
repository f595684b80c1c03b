import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

/** PostgreSQL's default iteration count for SCRAM-SHA-256 (scram_iterations). */
export const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 secret PostgreSQL would store for this password and salt (RFC 5802,
 * PostgreSQL's "SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey"). Given to PostgreSQL and to
 * PgBouncer's auth_file in place of the password: neither container ever sees the password, and
 * both holding the same secret is what lets PgBouncer pass a client's SCRAM login through.
 * Passwords must be ASCII (ours are generated so), which SASLprep leaves unchanged.
 */
export function scramSha256Secret(password: string, saltBase64: string, iterations = SCRAM_ITERATIONS): string {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error('SCRAM secrets are computed only for printable ASCII passwords');
  const salt = Buffer.from(saltBase64, 'base64');
  if (salt.length < 16) throw new Error('the SCRAM salt must be at least 16 bytes');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest('base64');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey}:${serverKey}`;
}
