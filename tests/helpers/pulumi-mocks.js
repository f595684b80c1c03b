'use strict';
// Pulumi mocks shared by the jest tests and by the child process that loads the program through
// the SDK's own loader (plain JavaScript, so both can require it).
const { randomBytes } = require('node:crypto');

const SECRET_SIG = '4dabf18193072939515e22adb298388d';

/** A password of the kind RandomPassword makes (letters and digits). */
function fakePassword(length) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Installs mocks on the given @pulumi/pulumi module and records every resource registration as
 * the engine would receive it: `raw` keeps the secret markers, so a test can tell a secret input
 * from a plain one.
 */
function installMocks(pulumi, project, stack) {
  const declared = [];
  const generated = [];
  // setMocks is async only in name: it installs the mock monitor before returning its promise.
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state = { ...args.inputs };
        if (args.type === 'random:index/randomPassword:RandomPassword') {
          state.result = fakePassword(args.inputs.length);
          generated.push(state.result);
        } else if (args.type === 'random:index/randomBytes:RandomBytes') {
          state.base64 = randomBytes(args.inputs.length).toString('base64');
          state.hex = Buffer.from(state.base64, 'base64').toString('hex');
        } else if (args.type === 'docker:index/remoteImage:RemoteImage') {
          state.imageId = `sha256:${randomBytes(32).toString('hex')}`;
        } else if (args.type === 'docker:index/image:Image') {
          // A local-only image's repoDigest is the built image's ID, sha256:<hash>
          // (node_modules/@pulumi/docker/image.d.ts, repoDigest): what the backup container runs.
          state.repoDigest = `sha256:${randomBytes(32).toString('hex')}`;
        }
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        throw new Error(`the program made an unexpected provider call: ${args.token}`);
      },
    },
    project,
    stack,
    false,
  );
  const monitor = pulumi.runtime.getMonitor();
  // The engine's end-of-program handshake, which the mock monitor lacks.
  monitor.signalAndWaitForShutdown = (req, callback) => callback(null, {});
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const entry = {
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      parent: req.getParent(),
      raw: req.getObject() ? req.getObject().toJavaScript() : {},
      protect: Boolean(req.getProtect()),
      retainOnDelete: Boolean(req.getRetainondelete()),
      dependencies: req.getDependenciesList(),
      // "<provider URN>::<provider id>", or '' for the package's default provider.
      provider: req.getProvider(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      ignoreChanges: req.getIgnorechangesList(),
      replaceOnChanges: req.getReplaceonchangesList(),
      // Only what the program asked for: unset leaves it to the provider's diff.
      deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
      importId: req.getImportid(),
    };
    declared.push(entry);
    return register(req, (error, response) => {
      if (response) entry.urn = response.getUrn();
      callback(error, response);
    });
  };
  return { declared, generated };
}

/** Visits every string in a raw registration; `inSecret` tells whether it sat inside a secret. */
function walk(raw, visit, inSecret = false) {
  if (Array.isArray(raw)) return raw.forEach((v) => walk(v, visit, inSecret));
  if (raw && typeof raw === 'object') {
    if (raw[SECRET_SIG] === '1b47061264138c4ac30d75fd1eb44270') return walk(raw.value, visit, true);
    return Object.values(raw).forEach((v) => walk(v, visit, inSecret));
  }
  if (typeof raw === 'string') visit(raw, inSecret);
}

/** The inputs as the provider would see them, secrets unwrapped. */
function plain(raw) {
  if (Array.isArray(raw)) return raw.map(plain);
  if (raw && typeof raw === 'object') {
    if (raw[SECRET_SIG] === '1b47061264138c4ac30d75fd1eb44270') return plain(raw.value);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, plain(v)]));
  }
  return raw;
}

module.exports = { installMocks, walk, plain };
