'use strict';
// Loads the program the way `pulumi up` does: through @pulumi/pulumi's own entry point (cmd/run),
// which reads package.json "main", registers ts-node (the project's, or the SDK's vendored one)
// with the project's TypeScript and tsconfig.json, type checking on, and runs the program inside
// the Stack resource. The configuration arrives as the nodejs language host passes it, in the
// environment variables PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS (the caller sets them; see
// cli-config.ts). Only the engine is replaced, by Pulumi's mocks.
//   node run-with-pulumi-loader.js <project dir> <stack>
// On exit prints {"types": [...]} (every resource type registered), or the errors it reported.

const [projectDir, stack] = process.argv.slice(2);
const fromProject = (m) => require.resolve(m, { paths: [projectDir] });
const pulumi = require(fromProject('@pulumi/pulumi'));
const { installMocks } = require('./pulumi-mocks');

const recorded = installMocks(pulumi, 'pronunciation-assistant', stack);
// What the nodejs language host passes for a project with `typescript: true`.
process.env.PULUMI_NODEJS_TYPESCRIPT = 'true';
process.on('exit', (code) => {
  if (code === 0) process.stdout.write(JSON.stringify({ types: recorded.declared.map((d) => d.type) }));
});
process.argv = [process.argv[0], 'pulumi-language-nodejs', '--monitor=mocked', `--pwd=${projectDir}`, `--stack=${stack}`, '.'];
require(fromProject('@pulumi/pulumi/cmd/run'));
