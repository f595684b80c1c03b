import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { adminRequest } from '../../lib/storage/minio-admin';
import { parseEndpoint } from '../../lib/storage/object-store';
import type { PolicyDocument } from '../../stacks/inside/storage-policies';
import type { MinioServer } from './minio';

/**
 * The calls of MinIO's admin API (v3) that `mc admin user add` and `mc admin policy create/attach`
 * make, and that the stack's provider makes for its users: a canned policy, a user with a secret
 * key, and the policies attached to a user. Signed as root with SigV4, as mc does.
 */

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

/** One admin API call, signed as root through the commands' own request (lib/storage/minio-admin.ts); the response body. */
export async function adminCall(server: MinioServer, api: string, query: Record<string, string>, body: Buffer = Buffer.alloc(0), method: 'GET' | 'PUT' | 'DELETE' = 'PUT'): Promise<string> {
  const login = { endpoint: parseEndpoint(server.url, 'the test MinIO'), region: ADMIN_REGION, accessKey: server.rootUser, secretKey: server.rootPassword };
  const response = await adminRequest(login, method, api, query, body);
  if (response.status < 200 || response.status >= 300) throw new Error(`MinIO admin ${api} failed: HTTP ${response.status} ${response.body}`);
  return response.body;
}

/** AddUser (madmin SetUser, enabled), whether the name exists or not. */
export async function addUser(server: MinioServer, name: string, secret: string): Promise<void> {
  await adminCall(server, 'add-user', { accessKey: name }, madminEncrypt(server.rootPassword, Buffer.from(JSON.stringify({ secretKey: secret, status: 'enabled' }))));
}

/** AddCannedPolicy, whether the name exists or not. */
export const addCannedPolicy = (server: MinioServer, name: string, policy: string) => adminCall(server, 'add-canned-policy', { name }, Buffer.from(policy));

/** SetPolicy: the user's whole list of policies. */
export async function setUserPolicies(server: MinioServer, user: string, policies: string[]): Promise<void> {
  await adminCall(server, 'set-user-or-group-policy', { policyName: policies.join(','), userOrGroup: user, isGroup: 'false' });
}

/** A MinIO user (not a temporary STS credential) allowed exactly `policy`, as the stack creates the app's and the backups'. */
export async function createUser(server: MinioServer, user: { accessKey: string; secretKey: string; policyName: string; policy: PolicyDocument }): Promise<void> {
  await addCannedPolicy(server, user.policyName, JSON.stringify(user.policy));
  await addUser(server, user.accessKey, user.secretKey);
  await setUserPolicies(server, user.accessKey, [user.policyName]);
}
