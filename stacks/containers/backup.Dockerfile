# The scheduled backup container's image (stacks/containers/backups.ts): the repository's own db-backup
# command, with pg_dump of the server's PostgreSQL major. `pulumi up` builds it on the Docker host
# with the repository root as build context (.dockerignore there lets in only what is copied here)
# and passes every ARG below, from config (BASE_IMAGE) and stacks/services.ts.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG POSTGRES_MAJOR
ARG APP_DIR
ARG BACKUP_DIR

# Debian bookworm ships PostgreSQL 15's client; pg_dump must match the server's major.
RUN apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${POSTGRES_MAJOR}" \
 && rm -rf /var/lib/apt/lists/*

WORKDIR ${APP_DIR}
# Dependencies first: this layer is rebuilt only when the lock file changes. No install scripts run.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY tsconfig.json ./
COPY cli/ cli/
COPY common/ common/
COPY lib/ lib/
COPY schema/ schema/
# Compiles the commands into .build/ now (and fails the build if db-backup cannot start): at run
# time the image's files belong to root and the command runs as `node`, who cannot write them.
RUN node cli/launch.js db-backup --help > /dev/null

# The backup volume's mount point, owned by `node`: Docker copies this ownership into a new, empty volume.
RUN mkdir -p "${BACKUP_DIR}" && chown node:node "${BACKUP_DIR}"
USER node
