#!/usr/bin/env node
'use strict';
// Writes the operator tool as one file, with every library it uses inside: what the backup
// container's image runs (stacks/containers/backup.Dockerfile), so that the image carries 4 MB of
// JavaScript instead of the project's node_modules. It bundles the launcher's compiled copy, not
// the TypeScript: the compiled code require()s, so esbuild resolves packages by their "require"
// conditions as Node does (minio's "./dist/main/*" export is closed to `import`).
//
// usage: node cli/bundle.js OUT_DIR   (writes OUT_DIR/dist/pa-data.js and OUT_DIR/package.json,
// whose folder common/paths.ts finds as the root)
const fs = require('node:fs');
const path = require('node:path');
const { ensureBuilt } = require('./launch.js');

const ROOT = path.resolve(__dirname, '..');
const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node cli/bundle.js OUT_DIR\n');
  process.exit(2);
}
const buildDir = ensureBuilt();
require('esbuild').buildSync({
  entryPoints: [path.join(buildDir, 'cli', 'main.js')],
  outfile: path.join(out, 'dist', 'pa-data.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  // pg's optional native binding, which pg require()s only when asked to (pg/lib/native).
  external: ['pg-native'],
  logLevel: 'warning',
});
fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(out, 'package.json'));
