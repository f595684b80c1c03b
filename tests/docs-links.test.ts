/**
 * Every link of the README and of docs/ works in a fresh clone: a relative link names a file of the
 * repository (never one outside it, as ../shared once was), and a #fragment names a heading of
 * the page it points to.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../common/paths';

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const headings = (file: string) =>
  new Set(
    fs
      .readFileSync(file, 'utf8')
      .replace(/```[\s\S]*?```/g, '')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => anchor(l.replace(/^#+ /, ''))),
  );

const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean));
const pages = ['README.md', ...[...tracked].filter((f) => f.startsWith('docs/') && f.endsWith('.md'))];

describe.each(pages)('the links of %s', (page) => {
  const text = fs.readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));

  test('point at files of the repository, and at headings that exist', () => {
    const broken: string[] = [];
    for (const link of links) {
      const [file, fragment] = link.split('#');
      const target = file === '' ? page : path.normalize(path.join(path.dirname(page), file));
      if (target.startsWith('..') || !(tracked.has(target) || [...tracked].some((t) => t.startsWith(`${target}/`)))) {
        broken.push(`${link}: ${target} is not a file of the repository`);
        continue;
      }
      if (fragment && target.endsWith('.md') && !headings(path.join(ROOT, target)).has(fragment)) broken.push(`${link}: no heading #${fragment} in ${target}`);
    }
    expect(broken).toEqual([]);
  });
});

test('the check itself: it refuses a link outside the repository and a missing heading', () => {
  const outside = path.normalize(path.join('.', '../shared/spec/stage-2-database-and-containers.md'));
  expect(outside.startsWith('..')).toBe(true);
  expect(headings(path.join(ROOT, 'README.md')).has('no-such-heading')).toBe(false);
  expect(headings(path.join(ROOT, 'README.md')).has(anchor('The life of a stack'))).toBe(true);
});

/**
 * npm takes the flags typed before `--` for itself (cli/program.ts npmSwallowedFlags): every
 * `npm run <script>` example of the README and docs/ puts the command's flags after `--`. npm's own
 * flags (--silent, --prefix) go before the script's name.
 */
function carelessExamples(text: string): string[] {
  return [...text.matchAll(/npm (?:--\S+ )*run (?:--\S+ )*[\w:.-]+((?: +[^\s`|;&)]+)*)/g)]
    .filter((m) => {
      const words = m[1].trim().split(/\s+/).filter(Boolean);
      const dashDash = words.indexOf('--');
      const firstFlag = words.findIndex((w) => w.startsWith('-') && w !== '--');
      return firstFlag !== -1 && (dashDash === -1 || firstFlag < dashDash);
    })
    .map((m) => m[0]);
}

test('the check itself: it finds a flag typed before `--`, and only that', () => {
  expect(carelessExamples('run `npm run db:migrate --dry-run` now')).toEqual(['npm run db:migrate --dry-run']);
  expect(carelessExamples('npm run --silent health --json')).toEqual(['npm run --silent health --json']);
  expect(carelessExamples('npm run db:migrate -- --dry-run; npm run --silent db:seed; npm --prefix x run env -- --stack dev')).toEqual([]);
});

describe.each(pages)('the npm examples of %s', (page) => {
  test("put the command's flags after `--`", () => {
    expect(carelessExamples(fs.readFileSync(path.join(ROOT, page), 'utf8'))).toEqual([]);
  });
});

describe.each(pages)('the files %s names', (page) => {
  test('exist: every `folder/file` it quotes is in the repository', () => {
    const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
    const named = new Set(
      [...text.matchAll(/`((?:[\w.-]+\/)+[\w.-]+\.(?:ts|js|md|sh|yaml|json|sql|Dockerfile))`/g)].map((m) => m[1]).filter((p) => !p.startsWith('node_modules/')),
    );
    const missing = [...named].filter((p) => !tracked.has(p) && !fs.existsSync(path.join(ROOT, p)));
    expect(missing).toEqual([]);
  });
});
