import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';

/**
 * The configuration `pulumi up` hands the program, assembled from Pulumi.yaml and a stack file the
 * way the Pulumi CLI v3.248.0 (the SDK this project pins) does it. Each step names the file of
 * pulumi/pulumi it follows, so that the program's tests see what a real `pulumi up` passes, not
 * what the stack file alone says:
 *
 * 1. The project file: shorthand `key: value` entries become a default (or, outside the project's
 *    namespace, a value): sdk/go/common/workspace/project.go, RewriteShorthandConfigValues. Its own
 *    checks: not both default and value, a default of the declared type (Project.Validate).
 * 2. The stack file: keys without a namespace get the project's (workspace/loaders.go,
 *    LoadProjectStackBytes); a scalar becomes its JSON text, `secure:` a ciphertext, anything else
 *    an object in JSON (sdk/go/common/resource/config/object.go, MarshalString).
 * 3. mergeConfig (sdk/go/common/workspace/config.go): for every key Pulumi.yaml declares, in key
 *    order, a key the stack does not set takes its `value:` or `default:` as a PLAIN value
 *    (createConfigValue: `fmt.Sprintf("%v")` of a scalar, JSON otherwise); a key of the project's
 *    namespace with neither is missing, and all missing keys fail together.
 * 4. validateStackConfigValues (same file): a `secret: true` key whose value is not encrypted fails,
 *    defaults included; a typed key's value must be of its type (project.go, ValidateConfigValue:
 *    strconv.Atoi for integers, "true"/"false" for booleans).
 * 5. Decryption with the passphrase secrets manager (pkg/secrets/passphrase, and
 *    sdk/go/common/resource/config/crypt.go: PBKDF2-SHA256 with 1,000,000 iterations, AES-256-GCM,
 *    "v1:<nonce>:<ciphertext>"), the passphrase first checked against `encryptionsalt`.
 * 6. What the language host puts in the program's environment
 *    (sdk/nodejs/cmd/pulumi-language-nodejs/main.go, constructConfig and constructConfigSecretKeys):
 *    PULUMI_CONFIG, a JSON object keyed `<namespace>:config:<name>`, and PULUMI_CONFIG_SECRET_KEYS,
 *    the keys (`<namespace>:<name>`) whose value was `secure:`
 *    (pkg/resource/deploy/source_eval.go: Config.Decrypt and Config.SecureKeys).
 */

export interface ProjectConfigType {
  type?: string;
  items?: { type: string };
  default?: unknown;
  value?: unknown;
  secret?: boolean;
  description?: string;
}

export interface ProjectFile {
  name: string;
  config?: Record<string, ProjectConfigType | string | number | boolean | unknown[]>;
}

export interface StackFile {
  encryptionsalt?: string;
  config?: Record<string, unknown>;
}

/** The program's environment, as the language host sets it. */
export interface ProgramConfig {
  PULUMI_CONFIG: string;
  PULUMI_CONFIG_SECRET_KEYS: string;
}

/** The CLI's refusal, with the CLI's own words. */
export class CliConfigError extends Error {}

interface Value {
  text: string;
  secure: boolean;
  object: boolean;
}

const projectKey = (project: string, key: string) => (key.includes(':') ? key : `${project}:${key}`);
const namespaceOf = (key: string) => key.slice(0, key.indexOf(':'));
const nameOf = (key: string) => key.slice(key.indexOf(':') + 1);

/** object.go MarshalString: bool and numbers as JSON text, strings as they are, `secure:` a ciphertext, the rest JSON. */
function stackValue(raw: unknown): Value {
  if (typeof raw === 'string') return { text: raw, secure: false, object: false };
  if (typeof raw === 'boolean' || typeof raw === 'number') return { text: JSON.stringify(raw), secure: false, object: false };
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && Object.keys(raw).length === 1 && 'secure' in raw) {
    return { text: String((raw as { secure: unknown }).secure), secure: true, object: false };
  }
  if (JSON.stringify(raw).includes('"secure"')) throw new Error('secure values inside objects are not modelled here');
  return { text: JSON.stringify(raw), secure: false, object: true };
}

/** config.go createConfigValue: isPrimitiveValue (string, int, bool) as fmt's %v, anything else as a JSON object value. */
function projectValue(raw: unknown): Value {
  if (typeof raw === 'string' || typeof raw === 'boolean' || (typeof raw === 'number' && Number.isInteger(raw))) {
    return { text: String(raw), secure: false, object: false };
  }
  return { text: JSON.stringify(raw), secure: false, object: true };
}

/** project.go ValidateConfigValue. */
function validValue(type: string, items: ProjectConfigType['items'], value: unknown): boolean {
  if (type === 'string') return typeof value === 'string';
  if (type === 'integer') {
    if (typeof value === 'number') return Number.isInteger(value);
    // strconv.Atoi: an optional sign and decimal digits, within int64.
    return typeof value === 'string' && /^[+-]?\d+$/.test(value) && Math.abs(Number(value)) <= Number.MAX_SAFE_INTEGER;
  }
  if (type === 'boolean') return value === 'true' || value === 'false' || typeof value === 'boolean';
  if (type === 'object') return !!value && typeof value === 'object' && !Array.isArray(value);
  return Array.isArray(value) && !!items && value.every((item) => validValue(items.type, undefined, item));
}

/** project.go RewriteShorthandConfigValues and Project.Validate. */
function projectConfigTypes(project: ProjectFile): Record<string, ProjectConfigType> {
  const types: Record<string, ProjectConfigType> = {};
  for (const [key, raw] of Object.entries(project.config ?? {})) {
    const own = !key.includes(':') || key.startsWith(`${project.name}:`);
    const t: ProjectConfigType =
      raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as ProjectConfigType) : own ? { default: raw } : { value: raw };
    if (t.default !== undefined && t.value !== undefined) {
      throw new CliConfigError(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
    }
    if (own && t.type !== undefined && t.default !== undefined && !validValue(t.type, t.items, t.default)) {
      throw new CliConfigError(`The default value specified for configuration key '${key}' is not of the expected type '${t.type}'`);
    }
    types[key] = t;
  }
  return types;
}

const derived = new Map<string, Buffer>();
/** crypt.go NewSymmetricCrypterFromPassphrase (a million PBKDF2 rounds: computed once per passphrase and salt). */
function passphraseKey(passphrase: string, salt: Buffer): Buffer {
  const id = `${passphrase}\0${salt.toString('base64')}`;
  if (!derived.has(id)) derived.set(id, pbkdf2Sync(passphrase, salt, 1_000_000, 32, 'sha256'));
  return derived.get(id)!;
}

function decryptValue(key: Buffer, ciphertext: string): string {
  const [v1, nonce, sealed] = ciphertext.split(':');
  if (v1 !== 'v1' || !nonce || !sealed) throw new CliConfigError('bad value');
  const bytes = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64'));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString();
}

function encryptValue(key: Buffer, plaintext: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `v1:${nonce.toString('base64')}:${sealed.toString('base64')}`;
}

/** The stack's key from its encryptionsalt, which must open to "pulumi" (pkg/secrets/passphrase/manager.go). */
function stackKey(encryptionsalt: string, passphrase: string): Buffer {
  const [v1, salt, ...check] = encryptionsalt.split(':');
  if (v1 !== 'v1' || !salt) throw new CliConfigError('unknown encryptionsalt');
  const key = passphraseKey(passphrase, Buffer.from(salt, 'base64'));
  let opened: string | undefined;
  try {
    opened = decryptValue(key, check.join(':'));
  } catch {
    // a wrong passphrase fails GCM's check
  }
  if (opened !== 'pulumi') throw new CliConfigError('incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase');
  return key;
}

const salts = new Map<string, string>();
/**
 * What `pulumi stack init` (with the passphrase manager) and `pulumi config set --secret` write to a
 * stack file: an encryptionsalt, and each secret as `secure:` ciphertext.
 */
export function withSecrets(stack: StackFile, project: string, passphrase: string, secrets: Record<string, string>): StackFile {
  let encryptionsalt = stack.encryptionsalt;
  if (!encryptionsalt) {
    encryptionsalt = salts.get(passphrase);
    if (!encryptionsalt) {
      const salt = randomBytes(8);
      encryptionsalt = `v1:${salt.toString('base64')}:${encryptValue(passphraseKey(passphrase, salt), 'pulumi')}`;
      salts.set(passphrase, encryptionsalt);
    }
  }
  const key = stackKey(encryptionsalt, passphrase);
  const config = { ...stack.config };
  for (const [name, value] of Object.entries(secrets)) config[projectKey(project, name)] = { secure: encryptValue(key, value) };
  return { ...stack, encryptionsalt, config };
}

/** What the CLI passes the program for this stack, or the CLI's error. */
export function cliConfig(project: ProjectFile, stackName: string, stack: StackFile, passphrase?: string): ProgramConfig {
  const types = projectConfigTypes(project);
  // LoadProjectStackBytes and config.Map: keys namespaced, values as MarshalString leaves them.
  const values = new Map<string, Value>();
  for (const [key, raw] of Object.entries(stack.config ?? {})) values.set(projectKey(project.name, key), stackValue(raw));

  // mergeConfig: project values and defaults for keys the stack does not set.
  const missing: string[] = [];
  for (const key of Object.keys(types).sort()) {
    const t = types[key];
    const full = projectKey(project.name, key);
    if (values.has(full)) continue;
    if (t.value === undefined && t.default === undefined) {
      if (namespaceOf(full) === project.name) missing.push(key);
      continue;
    }
    values.set(full, projectValue(t.default !== undefined ? t.default : t.value));
  }
  if (missing.length > 0) {
    const list = missing.length === 1 ? `'${missing[0]}'` : `${missing.slice(0, -1).map((k) => `'${k}'`).join(', ')} and '${missing[missing.length - 1]}'`;
    throw new CliConfigError(`Stack '${stackName}' is missing configuration ${missing.length === 1 ? 'value' : 'values'} ${list}`);
  }

  // The secrets manager opens the stack's key first: a wrong passphrase fails everything.
  const key = stack.encryptionsalt ? stackKey(stack.encryptionsalt, passphrase ?? '') : undefined;
  if (!key && [...values.values()].some((v) => v.secure)) throw new CliConfigError('the stack has secure values but no encryptionsalt');
  const plaintext = (v: Value) => (v.secure ? decryptValue(key!, v.text) : v.text);

  // validateStackConfigValues: secrets encrypted, typed keys of their type.
  for (const name of Object.keys(types).sort()) {
    const t = types[name];
    if (t.type === undefined) continue;
    const v = values.get(projectKey(project.name, name))!;
    if (t.secret && !v.secure) throw new CliConfigError(`Stack '${stackName}' with configuration key '${name}' must be encrypted as it's secret`);
    const content = v.object ? JSON.parse(plaintext(v)) : plaintext(v);
    if (!validValue(t.type, t.items, content)) {
      throw new CliConfigError(`Stack '${stackName}' with configuration key '${name}' must be of type '${t.type}'`);
    }
  }

  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [full, v] of values) {
    config[`${namespaceOf(full)}:config:${nameOf(full)}`] = plaintext(v);
    if (v.secure) secretKeys.push(full);
  }
  return { PULUMI_CONFIG: JSON.stringify(config), PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys) };
}

/** This project's Pulumi.yaml and a stack file of it, as committed. */
export function readProjectFiles(root: string, stack: string): { project: ProjectFile; stackFile: StackFile } {
  return {
    project: load(readFileSync(path.join(root, 'Pulumi.yaml'), 'utf8')) as ProjectFile,
    stackFile: (load(readFileSync(path.join(root, `Pulumi.${stack}.yaml`), 'utf8')) ?? {}) as StackFile,
  };
}
