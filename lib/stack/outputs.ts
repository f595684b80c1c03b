import { execFile } from 'node:child_process';
import { UserFacingError } from '../postgres/connection';
import { appEnvEntries, parseStackOutputs } from './env-file';
import { ROOT } from '../../common/paths';

export const PULUMI_INSTALL_HINT = 'install it (https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`) and put it on PATH';

/** What `pulumi stack output` printed on stdout. Its stdout is never put in a message: it holds the secrets. */
export function readStackOutputs(stack: string): Promise<string> {
  const args = ['stack', 'output', '--json', '--show-secrets', '--stack', stack];
  const command = `pulumi ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = execFile('pulumi', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const e = error as { code?: unknown; signal?: NodeJS.Signals | null };
      if (e.code === 'ENOENT') {
        return reject(new UserFacingError(`the Pulumi CLI is not installed or not on PATH (cannot run \`${command}\`): ${PULUMI_INSTALL_HINT}.`));
      }
      const detail = stderr.trim() === '' ? '' : `:\n${stderr.trimEnd()}`;
      if (typeof e.code === 'number') return reject(new UserFacingError(`\`${command}\` failed (exit status ${e.code})${detail}`));
      if (e.signal) return reject(new UserFacingError(`\`${command}\` was stopped by ${e.signal}${detail}`));
      // Not pulumi's own failure (a spawn error, too much output): say so by code; never show its output.
      const reason = typeof e.code === 'string' ? e.code : 'unknown error';
      return reject(new UserFacingError(`cannot run \`${command}\` (${reason})${detail}`));
    });
    child.stdin?.end(); // pulumi must not wait for an answer (a passphrase prompt, say): it fails and says why instead
  });
}

/** The application's variables (common/names.ts) from a deployed stack's outputs, in .env order; throws naming any missing output. */
export async function stackAppEnv(stack: string): Promise<Array<[name: string, value: string]>> {
  return appEnvEntries(stack, parseStackOutputs(stack, await readStackOutputs(stack)));
}
