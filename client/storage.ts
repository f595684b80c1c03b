import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Client } from 'minio';
import { APP_ENV, bucketVariable, type BucketKey } from '../common/names';
import { withTimeout } from '../lib/health/check';
import { accessProblem, type Credential, CREDENTIAL_VARIABLES, describeStorageError, type Endpoint, parseEndpoint, scrub, storageClient } from '../lib/storage/object-store';
import { systemSettings } from '../schema/system';
import { ClientError, InvalidArgumentError, InvalidVariableError, parseVariable, requireVariable, type Variables } from './errors';
import { wholeNumberOption } from './options';

// The errors every client module shares, from this entry point too: the package exports the modules, not errors.ts.
export { ClientError, InvalidArgumentError, InvalidVariableError, MissingVariableError } from './errors';

/**
 * The app's object storage: where each user's documents and recordings live, uploads within the
 * size limit the database sets, presigned downloads scoped to one user, and public links to temp
 * files. The stack's app credential (S3_ACCESS_KEY, stacks/inside/storage-policies.ts appPolicy)
 * may read, write and delete objects in documents, recordings and temp, and nothing else; temp
 * alone may be read anonymously (anonymousDownloadPolicy: GetObject, never a listing).
 */

/** The buckets that hold a user's private objects; temp holds public links. */
export type PrivateKind = 'documents' | 'recordings';
const PRIVATE_KINDS: readonly PrivateKind[] = ['documents', 'recordings'];

/** The system_settings row holding the upload limit (schema/seeds/reference.ts seeds it: 50). */
export const UPLOAD_LIMIT_SETTING = 'max_file_size_mb';
/** A "MB" of max_file_size_mb: a mebibyte, as upload limits (nginx's client_max_body_size 50m) count it. */
const MIB = 1024 * 1024;
/**
 * The largest object this module stores. minio-js 8.0.7's putObject sends an object of up to its
 * part size (node_modules/minio/dist/main/internal/client.js: `partSize = 64 * 1024 * 1024`) in one
 * PUT (putObject: `size <= partSize` -> uploadBuffer), and anything larger as a multipart upload
 * (uploadStream) that it never aborts on failure and resumes from the server's parts next time
 * (findUploadId, listParts): so an upload is kept to one PUT, which stores all of it or nothing.
 */
export const SINGLE_PUT_MAX_BYTES = 64 * MIB;
/**
 * A presigned download's life when the service names none, and the longest it may ask for: long
 * enough for a page to fetch or play the file, short enough that a leaked link (a log, a shared
 * screen) soon stops working. A link meant to last is a temp upload's public URL.
 */
export const PRESIGN_DEFAULT_SECONDS = 300;
export const PRESIGN_MAX_SECONDS = 3600;
/** The longest file name kept in a key, in characters (the key goes into file_path, varchar(500)). */
const FILE_NAME_MAX = 100;
const UUID_SOURCE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UUID = new RegExp(`^${UUID_SOURCE}$`, 'i');
/** A temp link's random part: 128 bits, so that a link cannot be guessed (the bucket refuses listings). */
const TOKEN_BYTES = 16;

// ---------------------------------------------------------------- errors

/** An upload is larger than max_file_size_mb allows (or than SINGLE_PUT_MAX_BYTES): nothing was stored. */
export class UploadTooLargeError extends ClientError {
  override name = 'UploadTooLargeError';
  constructor(readonly limitBytes: number, message: string) {
    super('UPLOAD_TOO_LARGE', message);
  }
}

/** The content's SHA-256 is not the one the service gave: nothing was stored. */
export class ChecksumMismatchError extends ClientError {
  override name = 'ChecksumMismatchError';
  constructor(readonly expected: string, readonly actual: string) {
    super('CHECKSUM_MISMATCH', `the upload's SHA-256 is ${actual}, not the ${expected} it was given: the content changed on the way, or the checksum is of another file. Nothing was stored; send it again.`);
  }
}

/** The body held another number of bytes than the `size` the service declared: nothing was stored. */
export class SizeMismatchError extends ClientError {
  override name = 'SizeMismatchError';
  constructor(readonly declared: number, readonly actual: number) {
    super('SIZE_MISMATCH', `the upload declared size ${declared} bytes but held ${actual}: nothing was stored. Pass the body's real length as size, or leave size out.`);
  }
}

/** A key of another user, or not of this module's layout: refused before anything reaches the store. */
export class ForeignObjectError extends ClientError {
  override name = 'ForeignObjectError';
  constructor(message: string) {
    super('NOT_USERS_OBJECT', message);
  }
}

/** No object at that key (deleted, expired by the bucket's lifecycle, or never stored). */
export class ObjectNotFoundError extends ClientError {
  override name = 'ObjectNotFoundError';
  constructor(readonly bucket: string, readonly key: string) {
    super('OBJECT_NOT_FOUND', `no object ${key} in bucket ${bucket}: it was deleted, expired (the bucket's lifecycle rule), or never stored`);
  }
}

/** max_file_size_mb could not be read, or is not a size: uploads are refused until it is fixed. */
export class UploadLimitUnavailableError extends ClientError {
  override name = 'UploadLimitUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('UPLOAD_LIMIT_UNAVAILABLE', message, options);
  }
}

/** The object store failed or refused a request (unreachable, credentials, policy): the message says which and what to check. */
export class StorageRequestError extends ClientError {
  override name = 'StorageRequestError';
  constructor(readonly s3Code: string | undefined, message: string) {
    super('STORAGE_REQUEST_FAILED', message);
  }
}

// ---------------------------------------------------------------- keys

/** A user's object: which bucket, whose, which row (the document's or recording's id), and its file name. */
export interface ObjectRef {
  kind: PrivateKind;
  userId: string;
  id: string;
  fileName: string;
}

function uuid(argument: string, value: string): string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new InvalidArgumentError(argument, `must be a UUID (the row's id, e.g. 0f8fad5b-d9cb-469f-a165-70867728950e); got ${JSON.stringify(value)?.slice(0, 60)}`);
  }
  return value.toLowerCase();
}

function privateKind(kind: string): PrivateKind {
  if (!PRIVATE_KINDS.includes(kind as PrivateKind)) throw new InvalidArgumentError('kind', `must be one of ${PRIVATE_KINDS.join(', ')}; got ${JSON.stringify(kind)}`);
  return kind as PrivateKind;
}

/**
 * A file name as it may stand in a key and a URL: the last segment of whatever path a browser
 * sent ("C:\\fakepath\\a.pdf", "../../a.pdf"), in Unicode NFC, letters, marks and digits of any
 * script kept with . _ -, every other run of characters (spaces, slashes, %, ?, #, quotes,
 * controls) one "-" (none before a dot), no leading or trailing dot or dash, at most 100
 * characters with the extension kept.
 * Refused when nothing is left. A name it returns, it returns unchanged (idempotent): parseObjectKey
 * takes a key's file name only if it is its own safeFileName.
 */
export function safeFileName(name: string): string {
  if (typeof name !== 'string') throw new InvalidArgumentError('fileName', `must be a string; got ${typeof name}`);
  const last = name.normalize('NFC').split(/[\\/]/).pop() ?? '';
  let safe = last
    .replace(/[^\p{L}\p{M}\p{N}._-]+/gu, '-')
    .replace(/-+\./g, '.')
    .replace(/^[-.]+/, '')
    .replace(/[-.]+$/, '');
  const chars = [...safe];
  if (chars.length > FILE_NAME_MAX) {
    const dot = safe.lastIndexOf('.');
    const extension = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : '';
    // The cut may end in dots and dashes: they go, as at the end of any name. Then the name keeps
    // every rule above: the stem starts as `safe` does and ends in neither, the extension is one dot
    // and no dash before it, and it ends as `safe` does. (A pattern over the whole name, such as
    // /[-.]+(\.[^.]*)?$/, can match at an earlier ".." and leave a trailing dash: a name that the
    // next pass changes, and a key parseObjectKey refuses.)
    const stem = chars
      .slice(0, FILE_NAME_MAX - [...extension].length)
      .join('')
      .replace(/[-.]+$/, '');
    safe = stem + extension;
  }
  if (!/[\p{L}\p{N}]/u.test(safe)) {
    throw new InvalidArgumentError('fileName', `${JSON.stringify(name.slice(0, 60))} has no letter or digit left once made safe for a key: give the file a name`);
  }
  return safe;
}

/**
 * The key of a user's object: users/<userId>/<documents|recordings>/<id>/<file name>. Only a key
 * that parseObjectKey reads back as this ref is made: read() and presignDownload() take keys
 * through it, so a key it refused would be an object stored that the service cannot reach.
 */
export function objectKey(ref: ObjectRef): string {
  const userId = uuid('userId', ref.userId);
  const kind = privateKind(ref.kind);
  const id = uuid('id', ref.id);
  const fileName = safeFileName(ref.fileName);
  const key = `users/${userId}/${kind}/${id}/${fileName}`;
  let back: ObjectRef | undefined;
  try {
    back = parseObjectKey(key);
  } catch {
    back = undefined;
  }
  if (back?.userId !== userId || back.kind !== kind || back.id !== id || back.fileName !== fileName) {
    throw new InvalidArgumentError(
      'fileName',
      `${JSON.stringify(String(ref.fileName).slice(0, 60))} makes a key (${JSON.stringify(key.slice(0, 200))}) that this module would not read back: nothing was stored. Rename the file; this is a defect of safeFileName to report.`,
    );
  }
  return key;
}

/** safeFileName's answer, or undefined where it refuses: for telling a key's name apart, without its error. */
function safeFileNameOrNothing(name: string): string | undefined {
  try {
    return safeFileName(name);
  } catch {
    return undefined;
  }
}

/** The UUIDs in lowercase, as objectKey() writes them: one object has one key. */
const KEY_LAYOUT = new RegExp(`^users/(${UUID_SOURCE})/(documents|recordings)/(${UUID_SOURCE})/([^/]+)$`);

/** A key this module made, read back; anything else (another layout, an unsafe name) is refused. */
export function parseObjectKey(key: string): ObjectRef {
  const match = typeof key === 'string' ? KEY_LAYOUT.exec(key) : null;
  const fileName = match?.[4];
  if (!match || fileName === undefined || safeFileNameOrNothing(fileName) !== fileName) {
    throw new ForeignObjectError(
      `${JSON.stringify(String(key).slice(0, 200))} is not a key of a user's object (users/<userId>/<documents|recordings>/<id>/<file name>, as objectKey() makes them): pass the file_path stored at upload`,
    );
  }
  return { userId: match[1], kind: match[2] as PrivateKind, id: match[3], fileName };
}

const TEMP_LAYOUT = /^links\/([0-9a-f]{32})\/([^/]+)$/;

/** A temp link's key: links/<128 random bits>/<file name>. No user id: the URL is public. */
function tempKey(fileName: string): string {
  return `links/${randomBytes(TOKEN_BYTES).toString('hex')}/${safeFileName(fileName)}`;
}

// ---------------------------------------------------------------- the upload limit

/** Where max_file_size_mb comes from: the value of its system_settings row as stored (JSON), or undefined without a row. */
export interface UploadLimitSource {
  maxFileSizeMb(): Promise<unknown>;
}

/**
 * The limit from the app's own Drizzle database (any driver): one small query on its pool, so the
 * storage module opens no connection of its own.
 */
export function uploadLimitFromDb(db: PgDatabase<PgQueryResultHKT, any, any>): UploadLimitSource {
  return {
    async maxFileSizeMb() {
      const rows = await db.select({ value: systemSettings.value }).from(systemSettings).where(eq(systemSettings.key, UPLOAD_LIMIT_SETTING)).limit(1);
      return rows.length === 0 ? undefined : rows[0].value;
    },
  };
}

interface UploadLimit {
  /** What max_file_size_mb says, in bytes. */
  settingBytes: number;
  /** What is enforced: the setting, or SINGLE_PUT_MAX_BYTES where that is less. */
  bytes: number;
  mb: number;
  readAt: number;
}

const FIX_SETTING = `UPDATE system_settings SET value = '50' WHERE key = '${UPLOAD_LIMIT_SETTING}'`;

/** The limit, read at most once per `ttlMs` (concurrent uploads share one read; a failed read is not kept). */
class UploadLimitCache {
  #limit: UploadLimit | undefined;
  #reading: Promise<UploadLimit> | undefined;
  constructor(
    private readonly source: UploadLimitSource,
    private readonly ttlMs: number,
    private readonly timeoutMs: number,
  ) {}

  get(): Promise<UploadLimit> {
    if (this.#limit && Date.now() - this.#limit.readAt < this.ttlMs) return Promise.resolve(this.#limit);
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<UploadLimit> {
    let value: unknown;
    try {
      value = await withTimeout(Promise.resolve().then(() => this.source.maxFileSizeMb()), this.timeoutMs, () => undefined);
    } catch (error) {
      throw new UploadLimitUnavailableError(
        `could not read ${UPLOAD_LIMIT_SETTING} from system_settings (${(error as Error).message ?? String(error)}): uploads are refused until it can be read. Check the database connection the storage module was given.`,
        { cause: error },
      );
    }
    if (value === undefined) {
      throw new UploadLimitUnavailableError(`system_settings has no row ${UPLOAD_LIMIT_SETTING}: seed the database (\`npm run db:seed\`), or insert it: the upload limit in MB, e.g. 50`);
    }
    const mb = value as number;
    if (typeof value !== 'number' || !Number.isFinite(mb) || Math.floor(mb * MIB) < 1) {
      throw new UploadLimitUnavailableError(`system_settings.${UPLOAD_LIMIT_SETTING} is ${JSON.stringify(value)}: it must be a positive number of MB (a JSON number, not a string), e.g. ${FIX_SETTING}`);
    }
    const settingBytes = Math.floor(mb * MIB);
    this.#limit = { settingBytes, bytes: Math.min(settingBytes, SINGLE_PUT_MAX_BYTES), mb, readAt: Date.now() };
    return this.#limit;
  }
}

// ---------------------------------------------------------------- uploads

/** An upload's content: bytes at once, or a stream (a Readable, an HTTP request) of unknown length. */
export type UploadBody = Buffer | Uint8Array | string | AsyncIterable<Uint8Array | string>;

export interface UploadInput {
  fileName: string;
  body: UploadBody;
  /** A MIME type, e.g. application/pdf, audio/webm; codecs=opus. Stored with the object and sent with every download. */
  contentType: string;
  /** The SHA-256 the sender computed (64 hex digits or base64): the upload is refused unless the content has it. */
  sha256?: string;
  /** The length, when known (Content-Length): over the limit is refused before the body is read, and another length is a SizeMismatchError. */
  size?: number;
}

export interface PrivateUpload extends UploadInput {
  kind: PrivateKind;
  /** The document's or recording's row id. */
  id: string;
}

export interface StoredObject {
  bucket: string;
  /** What to keep in file_path: presignDownload() and read() take it. */
  key: string;
  size: number;
  /** The content's SHA-256, hex: the object store checked the bytes it stored against it (see put()). Also kept as the object's metadata `sha256`. */
  sha256: string;
  contentType: string;
  etag: string;
  /** Set in a versioned bucket (documents): an overwrite keeps the previous version for 30 days. */
  versionId: string | null;
}

export interface StoredTempObject extends StoredObject {
  /** Anyone holding it can download the file until the bucket's lifecycle removes it (a day). */
  url: string;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const CONTENT_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\r\\n]*"))*$`);

function contentType(value: string): string {
  if (typeof value !== 'string' || value.length > 255 || !CONTENT_TYPE.test(value.trim())) {
    throw new InvalidArgumentError('contentType', `must be a MIME type such as application/pdf or audio/webm; codecs=opus; got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return value.trim();
}

function expectedSha256(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && /^[0-9a-f]{64}$/i.test(value)) return value.toLowerCase();
  if (typeof value === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(value)) return Buffer.from(value, 'base64').toString('hex');
  throw new InvalidArgumentError('sha256', `must be the content's SHA-256 as 64 hex digits or 44 base64 characters; got ${JSON.stringify(value)?.slice(0, 80)}`);
}

function declaredSize(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError('size', `must be the body's length in bytes, a whole number from 0; got ${String(value)}`);
  return value;
}

function tooLarge(limit: UploadLimit, what: string): UploadTooLargeError {
  const setting = `${UPLOAD_LIMIT_SETTING} = ${limit.mb} (${limit.settingBytes} bytes) in system_settings`;
  const bound =
    limit.bytes < limit.settingBytes
      ? `this client's limit of ${limit.bytes} bytes per object (one PUT: minio-js's part size), though ${setting} allows more`
      : `the limit, ${setting}`;
  return new UploadTooLargeError(limit.bytes, `the upload ${what}, over ${bound}: nothing was stored`);
}

/**
 * The whole body, refused as soon as it holds more than `limit.bytes`: nothing is sent before it
 * is complete and checked. A stream is read through `iterator({ destroyOnReturn: false })`
 * (node:stream, Readable.prototype.iterator), so a refusal stops reading without destroying it: the
 * service can still answer the request it came on (413) before closing it.
 */
async function readBody(body: UploadBody, limit: UploadLimit): Promise<Buffer> {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const bytes = Buffer.from(body);
    if (bytes.length > limit.bytes) throw tooLarge(limit, `holds ${bytes.length} bytes`);
    return bytes;
  }
  if (body === null || typeof body !== 'object' || typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new InvalidArgumentError('body', 'must be a Buffer, a Uint8Array, a string or a stream of them (a Readable, an HTTP request)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const source = body instanceof Readable ? body.iterator({ destroyOnReturn: false }) : body;
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError('body', `yields a ${typeof chunk}: a stream of bytes (Buffer, Uint8Array or string chunks) is needed`);
    }
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += bytes.length;
    if (size > limit.bytes) throw tooLarge(limit, `holds more than ${limit.bytes} bytes (read ${size} so far)`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

// ---------------------------------------------------------------- the store

export interface StorageOptions {
  /** Where the S3 variables are read; process.env by default. */
  vars?: Variables;
  /** Where max_file_size_mb comes from: uploadLimitFromDb(db) with the service's Drizzle database. */
  uploadLimit: UploadLimitSource;
  /** How long a read limit is used before it is read again. Default 30000. */
  uploadLimitCacheMs?: number;
  /** One request to the object store (or the limit's query), from start to answer. Default 30000. */
  requestTimeoutMs?: number;
}

interface Setup {
  endpoint: Endpoint;
  region: string;
  credential: Credential;
  buckets: Record<PrivateKind | 'temp', { name: string; variable: string }>;
}

/** A bucket name as S3 allows it (3-63 lowercase letters, digits, dots and hyphens): checked here so that a typo is named before the first request. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function setupFrom(vars: Variables): Setup {
  const endpointVariable = APP_ENV.s3Endpoint;
  const endpoint = parseVariable(vars, endpointVariable, "the object store's S3 API, e.g. http://127.0.0.1:9000 (the stack's s3Endpoint output)", (value) =>
    parseEndpoint(value.trim(), endpointVariable),
  );
  const region = requireVariable(vars, APP_ENV.s3Region, 'the S3 region requests are signed for (the stack writes us-east-1 for its own MinIO)');
  const names = CREDENTIAL_VARIABLES.app;
  const credential: Credential = {
    accessKey: requireVariable(vars, names.accessKeyVariable, "the app's access key (the stack's s3AccessKey output)"),
    secretKey: requireVariable(vars, names.secretKeyVariable, "the app's secret key (the stack's s3SecretKey output)"),
    ...names,
  };
  const bucket = (key: BucketKey) => {
    const variable = bucketVariable(key);
    const name = requireVariable(vars, variable, `the name of the ${key} bucket (the stack's buckets output, with its bucketPrefix)`).trim();
    if (!BUCKET_NAME.test(name) || name.includes('..')) throw new InvalidVariableError(variable, `is "${name}", not a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens`);
    return { name, variable };
  };
  return { endpoint, region, credential, buckets: { documents: bucket('documents'), recordings: bucket('recordings'), temp: bucket('temp') } };
}

/**
 * The object store as the app's credential reaches it. Creating it reads and checks the variables
 * and sends nothing; each call is one request, bounded by `requestTimeoutMs`.
 */
export class Storage {
  readonly #setup: Setup;
  readonly #limit: UploadLimitCache;
  readonly #timeoutMs: number;
  /** For presigning only: minio-js signs locally when the region is set (client.js, getBucketRegionAsync), so it never sends a request. */
  readonly #signer: Client;

  constructor(options: StorageOptions) {
    if (!options || typeof options.uploadLimit?.maxFileSizeMb !== 'function') {
      throw new InvalidArgumentError('uploadLimit', "must say where max_file_size_mb comes from: uploadLimitFromDb(db) with the service's Drizzle database, or an object with maxFileSizeMb()");
    }
    this.#setup = setupFrom(options.vars ?? process.env);
    this.#timeoutMs = wholeNumberOption('requestTimeoutMs', options.requestTimeoutMs, 30_000, 100, 600_000, 'milliseconds');
    this.#limit = new UploadLimitCache(options.uploadLimit, wholeNumberOption('uploadLimitCacheMs', options.uploadLimitCacheMs, 30_000, 0, 600_000, 'milliseconds'), this.#timeoutMs);
    this.#signer = storageClient(this.#setup.endpoint, this.#setup.region, this.#setup.credential);
  }

  /** The bucket names in use (from S3_BUCKET_<NAME>, with the stack's bucketPrefix). */
  get buckets(): Readonly<Record<PrivateKind | 'temp', string>> {
    const b = this.#setup.buckets;
    return { documents: b.documents.name, recordings: b.recordings.name, temp: b.temp.name };
  }

  /** The storage of one user: every key it makes or takes is that user's. */
  forUser(userId: string): UserStorage {
    return new UserStorage(uuid('userId', userId), {
      put: (kind, key, input) => this.#put(kind, key, input),
      presign: (kind, key, seconds, at) => this.#presign(kind, key, seconds, at),
      read: (kind, key) => this.#read(kind, key),
    });
  }

  /** The largest upload accepted now, in bytes (max_file_size_mb, read at most once per uploadLimitCacheMs). */
  async maxUploadBytes(): Promise<number> {
    return (await this.#limit.get()).bytes;
  }

  /** Stores a file in temp under a key no one can guess, and returns its public URL. */
  async uploadTemp(input: UploadInput): Promise<StoredTempObject> {
    const stored = await this.#put('temp', tempKey(input.fileName), input);
    return { ...stored, url: this.publicUrl(stored.key) };
  }

  /**
   * The URL of a temp object, which the bucket lets anyone GET (anonymousDownloadPolicy). It is
   * the S3_ENDPOINT's address, path-style: what the service can reach, which a browser may not.
   */
  publicUrl(key: string): string {
    if (typeof key !== 'string' || !TEMP_LAYOUT.test(key)) {
      throw new ForeignObjectError(`${JSON.stringify(String(key).slice(0, 200))} is not a temp link's key (links/<32 hex digits>/<file name>, as uploadTemp() makes them)`);
    }
    const path = [this.#setup.buckets.temp.name, ...key.split('/')].map(encodeURIComponent).join('/');
    return `${this.#setup.endpoint.url.origin}/${path}`;
  }

  /**
   * One PUT of the whole, checked content. What is verified on the way (minio-js 8.0.7,
   * node_modules/minio/dist/main/internal/client.js, uploadBuffer and makeRequestStreamAsync):
   * over http the request is signed with the body's SHA-256 (x-amz-content-sha256, computed by
   * hashBinary from the same buffer), and MinIO recomputes it as it reads the body and refuses a
   * difference before storing (minio/minio internal/hash/reader.go, Reader.Read: SHA256Mismatch,
   * XAmzContentSHA256Mismatch; tests/client-storage.test.ts shows it on the stack's release); over
   * https the payload is UNSIGNED-PAYLOAD and minio-js sends Content-MD5 instead, which MinIO checks
   * the same way (BadDigest). Either way the stored bytes are those whose SHA-256 this returns.
   * The sender's own checksum, when given, is compared here, before anything is sent.
   */
  async #put(bucketKey: PrivateKind | 'temp', key: string, input: UploadInput): Promise<StoredObject> {
    const type = contentType(input.contentType);
    const expected = expectedSha256(input.sha256);
    const declared = declaredSize(input.size);
    const limit = await this.#limit.get();
    if (declared !== undefined && declared > limit.bytes) throw tooLarge(limit, `declares ${declared} bytes`);
    const body = await readBody(input.body, limit);
    if (declared !== undefined && body.length !== declared) throw new SizeMismatchError(declared, body.length);
    const sha256 = createHash('sha256').update(body).digest('hex');
    if (expected !== undefined && expected !== sha256) throw new ChecksumMismatchError(expected, sha256);
    const bucket = this.#setup.buckets[bucketKey];
    // Content-Type is a header minio-js passes as it is; any other key becomes X-Amz-Meta-<key> (helper.js, prependXAMZMeta).
    const result = await this.#request('store', bucket, key, (client) => client.putObject(bucket.name, key, body, body.length, { 'Content-Type': type, sha256 }));
    return { bucket: bucket.name, key, size: body.length, sha256, contentType: type, etag: result.etag, versionId: result.versionId ?? null };
  }

  /** A presigned GET of `key` in its bucket, dated `at`; the caller has checked whose it is. */
  async #presign(kind: PrivateKind, key: string, expiresInSeconds: number, at: Date): Promise<string> {
    const bucket = this.#setup.buckets[kind];
    try {
      return await this.#signer.presignedGetObject(bucket.name, key, expiresInSeconds, {}, at);
    } catch (error) {
      throw this.#failure(error, 'presign', bucket, key);
    }
  }

  /**
   * The object's content as a stream. The request is bounded until the answer starts; then the
   * stream fails (StorageRequestError) when no data comes for `requestTimeoutMs`.
   */
  async #read(kind: PrivateKind, key: string): Promise<Readable> {
    const bucket = this.#setup.buckets[kind];
    const agent = this.#agent();
    let stream: Readable;
    try {
      stream = await withTimeout(storageClient(this.#setup.endpoint, this.#setup.region, this.#setup.credential, agent).getObject(bucket.name, key), this.#timeoutMs, () => agent.destroy());
    } catch (error) {
      agent.destroy();
      throw this.#failure(error, 'read', bucket, key);
    }
    // getObject's stream is the response itself (client.js, getPartialObject: makeRequestAsync); its socket's idle timer bounds each wait for data.
    const response = stream as http.IncomingMessage;
    // The stream's own 'error' listener: a service that drops the stream unread, or reads it
    // without one, must not have the timeout's error (or a reset socket's) end the process. Node.js
    // 20 already emits a response's error only to listeners (lib/_http_incoming.js, _destroy and
    // onError: "An error is emitted only if there are listeners"), and the socket's error goes to
    // the request, which minio-js listens to (node_modules/minio/dist/main/internal/request.js,
    // request(): `requestObj.on('error', reject)`); this does not depend on either. A reader is
    // still told: its own listener, `for await`, stream.pipeline() and finished() get the error,
    // and a stream read after it ended rejects with it (readable.errored).
    response.on('error', () => undefined);
    response.setTimeout(this.#timeoutMs, () =>
      response.destroy(new StorageRequestError(undefined, `${this.#where()} stopped sending ${bucket.name}/${key}: no data for ${this.#timeoutMs / 1000} s (requestTimeoutMs)`)),
    );
    response.once('close', () => agent.destroy());
    return response;
  }

  /** One request on an agent of its own, so that a timeout can end this request's socket and no other's. */
  async #request<T>(action: string, bucket: { name: string; variable: string }, key: string, work: (client: Client) => Promise<T>): Promise<T> {
    const agent = this.#agent();
    try {
      return await withTimeout(work(storageClient(this.#setup.endpoint, this.#setup.region, this.#setup.credential, agent)), this.#timeoutMs, () => agent.destroy());
    } catch (error) {
      throw this.#failure(error, action, bucket, key);
    } finally {
      agent.destroy();
    }
  }

  #agent(): http.Agent {
    return this.#setup.endpoint.url.protocol === 'https:' ? new https.Agent() : new http.Agent();
  }

  #where(): string {
    return `the object store at ${this.#setup.endpoint.url.origin} (from ${this.#setup.endpoint.source})`;
  }

  /** minio-js's error in terms of the variables to fix; never the secret key. */
  #failure(error: unknown, action: string, bucket: { name: string; variable: string }, key: string): ClientError {
    if (error instanceof ClientError) return error;
    const code = (error as { code?: string })?.code;
    if (code === 'NoSuchKey') return new ObjectNotFoundError(bucket.name, key);
    const secrets = [this.#setup.credential.secretKey];
    const why = accessProblem(code, this.#setup.credential, bucket) ?? describeStorageError(error, this.#setup.endpoint, secrets);
    return new StorageRequestError(code, scrub(`${this.#where()} could not ${action} ${bucket.name}/${key}: ${why}`, secrets));
  }
}

/** What a presigned download gives: the URL, and when it stops working. */
export interface PresignedDownload {
  url: string;
  expiresAt: Date;
}

/** What a UserStorage may ask of its Storage: the Storage's own private methods, reachable no other way. */
interface StorageAccess {
  put(kind: PrivateKind, key: string, input: UploadInput): Promise<StoredObject>;
  presign(kind: PrivateKind, key: string, expiresInSeconds: number, at: Date): Promise<string>;
  read(kind: PrivateKind, key: string): Promise<Readable>;
}

/**
 * One user's objects (Storage.forUser). Keys are made from the user's id, and a key given back
 * (file_path) is taken only if it is this user's: a service acting for one user cannot presign or
 * read another's. Storage has no public method that takes a private key without a user.
 */
export class UserStorage {
  readonly #storage: StorageAccess;

  /** @internal Storage.forUser() makes them. */
  constructor(
    readonly userId: string,
    storage: StorageAccess,
  ) {
    this.#storage = storage;
  }

  /** The key an object of this user would have (what upload() stores it under). */
  key(kind: PrivateKind, id: string, fileName: string): string {
    return objectKey({ kind, userId: this.userId, id, fileName });
  }

  /** Stores a document or recording within the upload limit; keep the returned key as file_path. */
  async upload(input: PrivateUpload): Promise<StoredObject> {
    const key = this.key(input.kind, input.id, input.fileName);
    return this.#storage.put(input.kind, key, input);
  }

  /**
   * A URL that downloads one of this user's objects without credentials, for `expiresInSeconds`
   * (default PRESIGN_DEFAULT_SECONDS, at most PRESIGN_MAX_SECONDS). It signs that exact key:
   * changing the URL to reach another object voids the signature.
   */
  async presignDownload(key: string, options: { expiresInSeconds?: number } = {}): Promise<PresignedDownload> {
    const ref = this.#own(key);
    // Checked here: minio-js takes 0 or none as its own maximum, 7 days (client.js, presignedUrl: `if (!expires)`).
    const seconds = wholeNumberOption('expiresInSeconds', options.expiresInSeconds, PRESIGN_DEFAULT_SECONDS, 1, PRESIGN_MAX_SECONDS, 'seconds');
    // Signed as of a whole second: X-Amz-Date has no finer unit, and expiresAt is then exact.
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    const url = await this.#storage.presign(ref.kind, key, seconds, at);
    return { url, expiresAt: new Date(at.getTime() + seconds * 1000) };
  }

  /** The content of one of this user's objects, as a stream. */
  async read(key: string): Promise<Readable> {
    const ref = this.#own(key);
    return this.#storage.read(ref.kind, key);
  }

  #own(key: string): ObjectRef {
    const ref = parseObjectKey(key);
    if (ref.userId !== this.userId) {
      throw new ForeignObjectError(`${key} belongs to another user than ${this.userId}: a service acting for a user may only reach that user's objects`);
    }
    return ref;
  }
}

/** The app's object store from S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET_<NAME>. */
export function createStorage(options: StorageOptions): Storage {
  return new Storage(options);
}
