# The scheduled backup container's image (stacks/containers/backups.ts): the repository's own
# operator tool, as one bundled file, with pg_dump of the server's PostgreSQL major. `pulumi up`
# builds it on the Docker host with the repository root as build context (.dockerignore there lets
# in only what is copied here) and passes every ARG below, from config (BASE_IMAGE) and
# stacks/services.ts.
ARG BASE_IMAGE

# Stage 1: the tool compiled (cli/launch.js) and bundled with every library it uses (cli/bundle.js).
# Production dependencies only (esbuild is one), no install scripts: esbuild's platform binary is a
# package of its own.
FROM ${BASE_IMAGE} AS bundle
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY cli/ cli/
COPY common/ common/
COPY lib/ lib/
COPY schema/ schema/
RUN node cli/bundle.js /out

# Stage 2: what runs: Node.js, the PostgreSQL client and the bundle; no node_modules.
FROM ${BASE_IMAGE}
ARG POSTGRES_MAJOR
ARG APP_DIR
ARG BACKUP_DIR

# Debian bookworm ships PostgreSQL 15's client; pg_dump must match the server's major.
RUN apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${POSTGRES_MAJOR}" \
 && rm -rf /var/lib/apt/lists/*

WORKDIR ${APP_DIR}
COPY --from=bundle /out/ ./
# Fails the build if the backup command cannot start.
RUN node dist/pa-data.js backup --help > /dev/null

# The backup volume's mount point, owned by `node`: Docker copies this ownership into a new, empty volume.
RUN mkdir -p "${BACKUP_DIR}" && chown node:node "${BACKUP_DIR}"
USER node
