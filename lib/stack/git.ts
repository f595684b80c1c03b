import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { UserFacingError } from '../postgres/connection';

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

function git(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, timeout: 10_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const failure = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (failure?.code === 'ENOENT') reject(new UserFacingError('git is not installed (or not on PATH): it is needed to read another revision of the files'));
      else if (failure && typeof failure.code !== 'number') reject(new UserFacingError(`git ${args[0]} failed in ${cwd}: ${failure.message}`));
      else resolve({ code: typeof failure?.code === 'number' ? failure.code : 0, stdout, stderr });
    });
  });
}

/**
 * Reads the files of `dir` (relative names) as they are in the revision `ref`: each one's text, or
 * undefined where the revision does not have it. An unknown revision is an error naming it.
 */
export async function filesAtRevision(dir: string, ref: string, names: string[]): Promise<Map<string, string | undefined>> {
  const known = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], dir);
  if (known.code !== 0) {
    throw new UserFacingError(
      `git does not know the revision ${JSON.stringify(ref)} in ${dir}: fetch it first (git fetch origin <branch>; in GitHub Actions, actions/checkout with fetch-depth: 0).`,
    );
  }
  const files = new Map<string, string | undefined>();
  for (const name of names) {
    // `REF:./NAME` is NAME in the folder git runs in, as that folder is at REF.
    const shown = await git(['show', `${ref}:./${name}`], dir);
    files.set(name, shown.code === 0 ? shown.stdout : undefined);
  }
  return files;
}
