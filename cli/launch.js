#!/usr/bin/env node
'use strict';
// The operator tool's executable (package.json `bin`, and every `npm run db:*` alias): runs
// cli/main.ts from a compiled copy of the TypeScript sources.
//
// Why: loading TypeScript at run time (tsx, ts-node) costs 0.15-0.6 s per command, and the
// post-deploy step runs these commands on every `pulumi up`. The copy lives in
// .build/<hash of the sources>/, so an edited source is always recompiled before it runs: a stale
// build cannot be used. Compilation is per file with the project's own TypeScript (no type check:
// `npm test` and `pulumi up` do that), written to a temporary folder and renamed into place, so
// concurrent first runs never see a half-written build.
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SOURCE_DIRS = ['cli', 'common', 'lib', 'schema'];
const BUILD_ROOT = path.join(ROOT, '.build');
const COMPLETE = '.complete';
const STALE_BUILD_MS = 60 * 60 * 1000;

function listSources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return full === path.join(ROOT, 'schema', 'migrations') ? [] : listSources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function sourceHash(files) {
  const hash = createHash('sha256');
  hash.update(fs.readFileSync(path.join(ROOT, 'tsconfig.json')));
  hash.update(require('typescript/package.json').version);
  for (const file of files) hash.update(`\0${path.relative(ROOT, file)}\0`).update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

function build(files, buildDir) {
  const ts = require('typescript');
  const configPath = path.join(ROOT, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const tmp = `${buildDir}.tmp-${process.pid}`;
  for (const file of files) {
    const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      compilerOptions: { ...options, noEmit: false, sourceMap: false },
      fileName: file,
      reportDiagnostics: true,
    });
    if (out.diagnostics && out.diagnostics.length > 0) {
      const text = out.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n');
      throw new Error(`${path.relative(ROOT, file)}: ${text}`);
    }
    const target = path.join(tmp, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, out.outputText);
  }
  fs.writeFileSync(path.join(tmp, COMPLETE), '');
  try {
    fs.renameSync(tmp, buildDir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(buildDir, COMPLETE))) throw e;
  }
  pruneOldBuilds(buildDir);
}

function pruneOldBuilds(keep) {
  for (const name of fs.readdirSync(BUILD_ROOT)) {
    const dir = path.join(BUILD_ROOT, name);
    try {
      if (dir !== keep && Date.now() - fs.statSync(dir).mtimeMs > STALE_BUILD_MS) {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      // another run pruned it first
    }
  }
}

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

/** The compiled copy of the current sources, built first if there is none: its folder. */
function ensureBuilt() {
  try {
    require.resolve('typescript');
  } catch {
    fail(`TypeScript is not installed in ${ROOT}: run \`npm ci\` (it is a dependency of the commands and of \`pulumi up\`).`);
  }
  const files = SOURCE_DIRS.flatMap((dir) => listSources(path.join(ROOT, dir))).sort();
  const buildDir = path.join(BUILD_ROOT, sourceHash(files));
  if (!fs.existsSync(path.join(buildDir, COMPLETE))) {
    try {
      fs.mkdirSync(BUILD_ROOT, { recursive: true });
      build(files, buildDir);
    } catch (e) {
      const readOnly = e && (e.code === 'EACCES' || e.code === 'EROFS' || e.code === 'EPERM');
      fail(
        readOnly
          ? `cannot write ${BUILD_ROOT} (${e.code}): the commands are compiled into it when their sources change. Make it writable, ` +
              'or build them where it is writable (`npm ci` does, and so does any command run once), so that the build is there.'
          : `cannot compile the command-line tools: ${e.message}`,
      );
    }
  }
  return buildDir;
}

module.exports = { ensureBuilt };

if (require.main === module) require(path.join(ensureBuilt(), 'cli', 'main.js'));
