import { DEV_PASSPHRASE } from '../stacks/config';
import { CliConfigError, cliConfig, type ProjectFile, readProjectFiles, type StackFile, withSecrets } from './helpers/cli-config';
import { PROJECT, programConfig, ROOT, STACK_SECRETS, STACKS } from './helpers/stack-files';

/**
 * helpers/cli-config.ts assembles the configuration `pulumi up` passes the program. These are the
 * cases pulumi/pulumi v3.248.0 tests in sdk/go/common/workspace/project_test.go, with the CLI's
 * messages, and what that assembly means for this project's own files.
 */

const passphrase = 'a-passphrase-for-these-tests';
const config = (project: ProjectFile, stack: StackFile = {}) => JSON.parse(cliConfig(project, 'dev', stack, passphrase).PULUMI_CONFIG);
const refusal = (project: ProjectFile, stack: StackFile = {}) => {
  try {
    cliConfig(project, 'dev', stack, passphrase);
  } catch (error) {
    if (error instanceof CliConfigError) return error.message;
    throw error;
  }
  return undefined;
};

describe("the CLI's own cases (project_test.go)", () => {
  test('keys with neither default nor value are required, all named at once', () => {
    expect(refusal({ name: 'test', config: { values: { type: 'array', items: { type: 'string' } } } })).toBe("Stack 'dev' is missing configuration value 'values'");
    expect(refusal({ name: 'test', config: { another: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } } })).toBe(
      "Stack 'dev' is missing configuration values 'another' and 'values'",
    );
    expect(refusal({ name: 'test', config: { hello: { type: 'integer' }, values: { type: 'array', items: { type: 'string' } }, world: { type: 'string' } } })).toBe(
      "Stack 'dev' is missing configuration values 'hello', 'values' and 'world'",
    );
  });

  test('a stack value of the wrong type is refused; keys the project does not declare pass', () => {
    expect(refusal({ name: 'test', config: { importantNumber: { type: 'integer' } } }, { config: { 'test:importantNumber': 'hello' } })).toBe(
      "Stack 'dev' with configuration key 'importantNumber' must be of type 'integer'",
    );
    expect(refusal({ name: 'test' }, { config: { hello: 21, world: 42 } })).toBeUndefined();
  });

  test('a secret: true key must be encrypted: a plain value is refused, and so is its own default', () => {
    const project: ProjectFile = { name: 'test', config: { importantNumber: { type: 'integer', secret: true } } };
    expect(refusal(project, { config: { 'test:importantNumber': 20 } })).toBe("Stack 'dev' with configuration key 'importantNumber' must be encrypted as it's secret");
    expect(refusal(project, withSecrets({}, 'test', passphrase, { importantNumber: '20' }))).toBeUndefined();
    // mergeConfig sets a default as a plain value, and the check that follows refuses it.
    expect(refusal({ name: 'test', config: { token: { type: 'string', secret: true, default: '' } } })).toBe(
      "Stack 'dev' with configuration key 'token' must be encrypted as it's secret",
    );
  });

  test('defaults arrive as plain text, as fmt %v prints them; stack values as their JSON text; objects as JSON', () => {
    const project: ProjectFile = {
      name: 'test',
      config: { port: { type: 'integer', default: 5432 }, on: { type: 'boolean', default: true }, empty: { type: 'string', default: '' }, 'pulumi:x': { value: ['a', 'b'] } },
    };
    expect(config(project, { config: { 'test:port': 15432 } })).toEqual({ 'test:config:port': '15432', 'test:config:on': 'true', 'test:config:empty': '', 'pulumi:config:x': '["a","b"]' });
  });

  test('a wrong passphrase fails before anything', () => {
    const stack = withSecrets({}, 'test', passphrase, { a: 'b' });
    expect(() => cliConfig({ name: 'test' }, 'dev', stack, 'another passphrase')).toThrow(/^incorrect passphrase/);
  });
});

describe("this project's files, as the CLI reads them", () => {
  test.each(STACKS)('%s after README set-up: every declared key arrives, the secret keys empty and plain unless set with --secret', (stack) => {
    const { PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS } = programConfig(stack);
    const values = JSON.parse(PULUMI_CONFIG) as Record<string, string>;
    const { project } = readProjectFiles(ROOT, stack);
    for (const key of Object.keys(project.config ?? {}).filter((k) => !k.includes(':'))) expect(Object.keys(values)).toContain(`${PROJECT}:config:${key}`);
    const secrets = STACK_SECRETS[stack] ?? {};
    expect(JSON.parse(PULUMI_CONFIG_SECRET_KEYS).sort()).toEqual(Object.keys(secrets).map((k) => `${PROJECT}:${k}`).sort());
    if (!secrets.externalRedisUrl) expect(values[`${PROJECT}:config:externalRedisUrl`]).toBe('');
    expect(values['pulumi:config:disable-default-providers']).toBe('["postgresql","minio"]');
  });

  test("the committed dev encryptionsalt opens with the documented dev passphrase, and no other", () => {
    const { project, stackFile } = readProjectFiles(ROOT, 'dev');
    expect(() => cliConfig(project, 'dev', stackFile, DEV_PASSPHRASE)).not.toThrow();
    expect(() => cliConfig(project, 'dev', stackFile, 'not-the-dev-passphrase')).toThrow(/^incorrect passphrase/);
  });

  test('a value of the wrong type in a stack file is refused by the CLI before the program runs', () => {
    expect(() => programConfig('dev', { config: { postgresPort: '54x2' } })).toThrow("Stack 'dev' with configuration key 'postgresPort' must be of type 'integer'");
  });
});
