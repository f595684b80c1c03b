import { execFile } from 'node:child_process';
import * as path from 'node:path';

/** git's verdict on a file: true, false, or undefined when it cannot tell (no git, not in a work tree). */
function gitSays(args: string[], file: string): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    execFile('git', [...args, '--', path.basename(file)], { cwd: path.dirname(file), timeout: 10_000 }, (error) => {
      if (!error) return resolve(true);
      resolve((error as { code?: unknown }).code === 1 ? false : undefined);
    });
  });
}

/** Whether git ignores the file (`git check-ignore` exits 0 for yes, 1 for no). */
export const gitIgnores = (file: string) => gitSays(['check-ignore', '--quiet'], file);

/** Whether git tracks the file (`git ls-files --error-unmatch` exits 0 for yes, 1 for no). */
export const gitTracks = (file: string) => gitSays(['ls-files', '--error-unmatch'], file);
