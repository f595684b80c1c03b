import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserFacingError } from '../lib/postgres/connection';
import { DEFAULT_PULUMI_TIMEOUT_SECONDS, PULUMI_TIMEOUT_VARIABLE, pulumiTimeoutMs, readStackOutputs } from '../lib/stack/outputs';
import { alive, hangingPulumi, pgid } from './helpers/hanging-pulumi';

/**
 * `pulumi stack output`, as `env` and `health --stack` run it (lib/stack/outputs.ts), bounded in
 * time. The Pulumi CLI is not here: a stand-in on PATH answers, or hangs as a backend that never
 * answers would make it hang, with processes of its own as pulumi's plugins are.
 */

const COMMAND = 'pulumi stack output --json --show-secrets --stack dev';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** An environment with a stand-in pulumi first on PATH. */
function withPulumiIn(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  dirs.push(dir);
  return { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH}`, ...extra };
}

describe('readStackOutputs', () => {
  test('returns what pulumi printed on stdout', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-pulumi-ok-'));
    fs.writeFileSync(path.join(dir, 'pulumi'), '#!/bin/sh\necho \'{"redisUrl": "redis://x"}\'\n', { mode: 0o755 });
    await expect(readStackOutputs('dev', { timeoutMs: 10_000, env: withPulumiIn(dir) })).resolves.toBe('{"redisUrl": "redis://x"}\n');
  });

  test('past the bound, pulumi and every process it started are killed, those in process groups of their own too, and the message says so', async () => {
    const stub = hangingPulumi();
    const started = Date.now();
    const outcome = readStackOutputs('dev', { timeoutMs: 2000, env: withPulumiIn(stub.dir) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // While it hangs: the plugin-like process is in a process group other than pulumi's.
    const { pids } = await stub.started();
    expect(pgid(pids.plugin)).not.toBe(pgid(pids.pulumi));
    const error = await outcome;
    const elapsed = Date.now() - started;

    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toBe(
      `\`${COMMAND}\` did not finish within 2 s and was stopped, with the processes it started: check that the stack's state backend ` +
        "answers (PULUMI_BACKEND_URL, the network, `pulumi whoami`); if it is only slow, allow more seconds with " +
        `--pulumi-timeout <seconds> or PA_DATA_PULUMI_TIMEOUT=<seconds> (default 60):\nlogging in to the backend`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(2000 + 3000);
    expect(Object.values(pids).filter(alive)).toEqual([]);
  });

  test(`without a bound of its own it takes ${PULUMI_TIMEOUT_VARIABLE}'s`, async () => {
    const stub = hangingPulumi();
    const started = Date.now();
    await expect(readStackOutputs('dev', { env: withPulumiIn(stub.dir, { [PULUMI_TIMEOUT_VARIABLE]: '1' }) })).rejects.toThrow(`\`${COMMAND}\` did not finish within 1 s and was stopped`);
    expect(Date.now() - started).toBeLessThan(1000 + 3000);
    expect(Object.values((await stub.started()).pids).filter(alive)).toEqual([]);
  });
});

describe(`${PULUMI_TIMEOUT_VARIABLE}`, () => {
  test(`unset or empty: ${DEFAULT_PULUMI_TIMEOUT_SECONDS} s; else whole seconds from 1 to 3600`, () => {
    expect(pulumiTimeoutMs({})).toBe(60_000);
    expect(pulumiTimeoutMs({ [PULUMI_TIMEOUT_VARIABLE]: '' })).toBe(60_000);
    expect(pulumiTimeoutMs({ [PULUMI_TIMEOUT_VARIABLE]: '1' })).toBe(1000);
    expect(pulumiTimeoutMs({ [PULUMI_TIMEOUT_VARIABLE]: '300' })).toBe(300_000);
    expect(pulumiTimeoutMs({ [PULUMI_TIMEOUT_VARIABLE]: '3600' })).toBe(3_600_000);
  });

  test.each(['0', '-5', '1.5', '2m', '3601'])('refuses %j, naming the variable and what it takes', (value) => {
    expect(() => pulumiTimeoutMs({ [PULUMI_TIMEOUT_VARIABLE]: value })).toThrow(
      new UserFacingError(
        `PA_DATA_PULUMI_TIMEOUT must be a whole number of seconds from 1 to 3600, not ${JSON.stringify(value)}: it bounds \`pulumi stack output\` (default 60)`,
      ),
    );
  });
});
