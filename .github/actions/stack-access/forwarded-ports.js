#!/usr/bin/env node
/**
 * The host ports a stack's program connects to from the machine that runs `pulumi`: PostgreSQL's
 * (the database provider, the prepare step, the post-deploy step) and MinIO's S3 API (the storage
 * provider and its prepare step), each unless the stack uses an external server instead. The
 * program reaches them at `bindAddress` (stacks/urls.ts, hostFor), so on a runner that is not the
 * Docker host they are forwarded over SSH from the runner's loopback to the host's.
 *
 * Usage: node forwarded-ports.js STACK [ROOT]. Prints one port per line (nothing for a stack on
 * external servers). Exits 1, saying why, when bindAddress is not loopback (127.0.0.1, or
 * 0.0.0.0, which is reachable on loopback too): a forward cannot stand in for another address.
 *
 * Values as the Pulumi CLI hands them to the program: the stack file's, else Pulumi.yaml's default.
 */
const fs = require('node:fs');
const path = require('node:path');
const { load } = require('js-yaml');

function stackSettings(root, stack) {
  const project = load(fs.readFileSync(path.join(root, 'Pulumi.yaml'), 'utf8'));
  const stackFile = load(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), 'utf8')) || {};
  const config = stackFile.config || {};
  return (key) => {
    for (const name of [`${project.name}:${key}`, key]) if (config[name] !== undefined) return String(config[name]);
    const declared = (project.config || {})[key];
    return declared && declared.default !== undefined ? String(declared.default) : '';
  };
}

function forwardedPorts(root, stack) {
  const get = stackSettings(root, stack);
  const ports = [];
  if (get('externalPostgresHost') === '') ports.push(Number(get('postgresPort')));
  if (get('externalS3Endpoint') === '') ports.push(Number(get('minioApiPort')));
  const bind = get('bindAddress');
  if (ports.length > 0 && bind !== '127.0.0.1' && bind !== '0.0.0.0') {
    throw new Error(
      `stack "${stack}": bindAddress is ${bind}, so the program connects to ${bind} from the runner; ` +
        'only loopback ports can be forwarded over SSH. Run this workflow on a runner that reaches that address.',
    );
  }
  return ports;
}

module.exports = { forwardedPorts };

if (require.main === module) {
  const [stack, root = path.resolve(__dirname, '../../..')] = process.argv.slice(2);
  if (!stack || !/^[\w.-]+$/.test(stack)) {
    console.error('usage: forwarded-ports.js STACK [ROOT]');
    process.exit(2);
  }
  try {
    for (const port of forwardedPorts(root, stack)) console.log(port);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
