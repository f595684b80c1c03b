import * as path from 'node:path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { ROOT } from '../../common/paths';
import type { StackConfig } from '../config';
import { serviceContainer } from './container';
import type { Naming } from '../naming';
import { ADMIN_BIND_ADDRESS, ADMINER, PGBOUNCER } from '../services';

export interface AdminArgs {
  config: StackConfig;
  naming: Naming;
  network: docker.Network;
}

/** The Adminer image's Dockerfile, relative to the repository root. */
export const ADMINER_DOCKERFILE = 'stacks/containers/adminer.Dockerfile';

/**
 * Its build context: the Dockerfile's folder, of which adminer.Dockerfile.dockerignore lets in
 * nothing (the image copies nothing from the repository). pulumi-docker reads `<Dockerfile>.dockerignore`
 * before the context's .dockerignore, both for the context it hashes and for the one it sends
 * (pulumi/pulumi-docker provider/provider.go getIgnorePatterns, used by hashContext and by
 * provider/image.go dockerBuild; the same from v5.1.0 to the newest commit, so in 5.2.0). So the
 * image is rebuilt, and the container replaced, only when the Dockerfile or a build argument
 * changes, not with every change of the repository.
 */
export const ADMINER_CONTEXT = path.dirname(ADMINER_DOCKERFILE);

/** The Dockerfile's build arguments: the base image from config, the package version and the entry script the command names. */
export function adminerBuildArgs(baseImage: string): Record<string, string> {
  return { BASE_IMAGE: baseImage, ADMINER_VERSION: ADMINER.debianVersion, ADMINER_ENTRY: ADMINER.entryScript };
}

/**
 * PHP's built-in web server, as the official adminer image's standalone variant runs Adminer
 * (`php -S [::]:8080 -t /var/www/html`: TimWolla/docker-adminer, 4/Dockerfile): every IPv4 address
 * of the container (Docker publishes its port on 127.0.0.1 of the host), documents from Debian's
 * Adminer folder. Debian's entry script is conf.php, not the index.php the server looks for, so it
 * is also the router script, which the server runs for every request: every path is Adminer's,
 * including the resources Adminer serves itself (?file=...). The container's command;
 * tests/admin-tools.test.ts runs it as it is, with only the address moved.
 */
export function adminerCommand(): string[] {
  return ['php', '-S', `0.0.0.0:${ADMINER.port}`, '-t', ADMINER.docroot, ADMINER.entryScript];
}

/**
 * How the server is stopped. As the container's first process, PHP's built-in server ignores
 * SIGTERM (the kernel drops signals PID 1 has no handler for) and exits on SIGINT, which it
 * handles; Docker's stop would otherwise wait out stopGraceSeconds and kill it. The official
 * adminer image sets STOPSIGNAL SIGINT for the same server (TimWolla/docker-adminer, 4/Dockerfile).
 * tests/admin-tools.test.ts stops its server with it.
 */
export const ADMINER_STOP_SIGNAL = 'SIGINT';

/** Healthy when the login page answers 200 (file_get_contents gives false on an error status or no answer; Debian's php.ini allows URLs). */
export const ADMINER_HEALTHCHECK = [
  'CMD', 'php', '-r', `exit(@file_get_contents('http://127.0.0.1:${ADMINER.port}/') === false ? 1 : 0);`,
];

/**
 * Adminer's login form, filled in but for the password: PostgreSQL, the read-only role through
 * PgBouncer by its name on the stack's network (what `readonlyDatabaseUrl` reaches on the host's
 * published port; inside the Adminer container 127.0.0.1 is Adminer itself), and the database,
 * which must be named: PgBouncer serves only that one, and Adminer otherwise logs in to `postgres`
 * (drivers/pgsql.inc.php, connect). Adminer fills the form from these URL parameters (the login
 * form: the driver's parameter is the server, then `username` and `db`).
 */
export function adminerLoginUrl(config: StackConfig): string {
  const { database, roles } = config.names.postgres;
  const login = new URLSearchParams({ pgsql: `${PGBOUNCER.alias}:${PGBOUNCER.port}`, username: roles.readonly, db: database });
  return `http://${ADMIN_BIND_ADDRESS}:${config.adminerPort}/?${login}`;
}

/**
 * Adminer, a database admin UI for development stacks; it holds no credentials, you log in. Built
 * on the Docker host from Debian bookworm's adminer package (stacks/containers/adminer.Dockerfile), as the
 * backup image is built, and kept there: no registry.
 */
export class Admin extends pulumi.ComponentResource {
  readonly image: docker.Image;
  readonly container: docker.Container;
  readonly url: string;

  constructor(name: string, args: AdminArgs, opts?: pulumi.ComponentResourceOptions) {
    super('pronunciation:stack:Admin', name, {}, opts);
    const { config, naming } = args;
    this.image = new docker.Image(
      'adminer-image',
      {
        // Docker repository names are lowercase.
        imageName: `${naming.docker('adminer').toLowerCase()}:local`,
        build: {
          context: path.join(ROOT, ADMINER_CONTEXT),
          dockerfile: path.join(ROOT, ADMINER_DOCKERFILE),
          args: adminerBuildArgs(config.adminerBaseImage),
        },
        skipPush: true,
      },
      { parent: this },
    );
    this.container = serviceContainer(
      {
        service: 'adminer',
        naming,
        // The build's image ID: a rebuilt image replaces the container.
        image: { built: this.image.repoDigest },
        network: args.network,
        alias: ADMINER.alias,
        memoryMb: ADMINER.memoryMb,
        command: adminerCommand(),
        ports: [{ internal: ADMINER.port, external: config.adminerPort, ip: ADMIN_BIND_ADDRESS }],
        stopGraceSeconds: 5,
        stopSignal: ADMINER_STOP_SIGNAL,
        healthcheck: ADMINER_HEALTHCHECK,
      },
      this,
      [this.image],
    );
    this.url = adminerLoginUrl(config);
    this.registerOutputs({ url: this.url });
  }
}
