import { createCipheriv, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { signV4 } from 'minio/dist/main/signing.js';
import type { PolicyDocument } from '../../stacks/storage-policies';
import type { MinioServer } from './minio';

/**
 * The three calls of MinIO's admin API (v3) that `mc admin user add` and `mc admin policy
 * create/attach` make, and that the stack's provider makes for its users: a canned policy, a user
 * with a secret key, and the policy attached to the user. Signed as root with SigV4, as mc does.
 */

const ADMIN_PATH = '/minio/admin/v3';
/** MinIO's region unless told otherwise: what admin requests are signed for. */
const ADMIN_REGION = 'us-east-1';

/**
 * madmin's EncryptData, in its PBKDF2-SHA256 + AES-256-GCM variant (id 0x02, which every MinIO
 * decrypts; Node has no Argon2id), for payloads under one 16 KiB sio fragment:
 *   salt (32) | id (1) | nonce (8) | ciphertext | tag (16)
 * sio-go seals the fragment with the nonce followed by its sequence number (little-endian, from 1)
 * and, as additional data, 0x80 (the final fragment) followed by the tag of an empty message
 * sealed with sequence number 0.
 */
export function madminEncrypt(password: string, plaintext: Buffer): Buffer {
  if (plaintext.length > 16 * 1024) throw new Error('madminEncrypt handles one sio fragment (16 KiB) only');
  const salt = randomBytes(32);
  const nonce = randomBytes(8);
  const key = pbkdf2Sync(password, salt, 8192, 32, 'sha256');
  const seal = (sequence: number, aad: Buffer, data: Buffer) => {
    const iv = Buffer.alloc(12);
    nonce.copy(iv);
    iv.writeUInt32LE(sequence, 8);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad);
    return Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
  };
  const aad = Buffer.concat([Buffer.from([0x80]), seal(0, Buffer.alloc(0), Buffer.alloc(0))]);
  return Buffer.concat([salt, Buffer.from([0x02]), nonce, seal(1, aad, plaintext)]);
}

/** One admin API call, signed as root (madmin-go v1.7.5's executeMethod); returns the response body. */
export async function adminCall(server: MinioServer, api: string, query: Record<string, string>, body: Buffer = Buffer.alloc(0), method = 'PUT'): Promise<string> {
  const path = `${ADMIN_PATH}/${api}?${new URLSearchParams(query).toString()}`;
  const date = new Date();
  const sha256 = createHash('sha256').update(body).digest('hex');
  const headers: Record<string, string> = { host: `${server.endPoint}:${server.port}`, 'x-amz-date': date.toISOString().replace(/[-:]|\.\d{3}/g, ''), 'x-amz-content-sha256': sha256 };
  headers.authorization = signV4({ protocol: 'http:', method, path, headers }, server.rootUser, server.rootPassword, ADMIN_REGION, date, sha256);
  const response = await fetch(`${server.url}${path}`, { method, headers, body: method === 'GET' || method === 'DELETE' ? undefined : body });
  const text = await response.text();
  if (!response.ok) throw new Error(`MinIO admin ${api} failed: HTTP ${response.status} ${text}`);
  return text;
}

/** A MinIO user (not a temporary STS credential) allowed exactly `policy`, as the stack creates the app's and the backups'. */
export async function createUser(server: MinioServer, user: { accessKey: string; secretKey: string; policyName: string; policy: PolicyDocument }): Promise<void> {
  await adminCall(server, 'add-canned-policy', { name: user.policyName }, Buffer.from(JSON.stringify(user.policy)));
  const account = Buffer.from(JSON.stringify({ secretKey: user.secretKey, status: 'enabled' }));
  await adminCall(server, 'add-user', { accessKey: user.accessKey }, madminEncrypt(server.rootPassword, account));
  await adminCall(server, 'set-user-or-group-policy', { policyName: user.policyName, userOrGroup: user.accessKey, isGroup: 'false' }, Buffer.alloc(0));
}
