# The Adminer image of dev stacks with adminTools (stacks/containers/admin.ts): Debian bookworm's
# adminer package, the release tests/admin-tools.test.ts runs, served by bookworm's PHP (php-cli,
# with php-pgsql for PostgreSQL). `pulumi up` builds it on the Docker host and passes every ARG
# below, from config (BASE_IMAGE) and stacks/services.ts; the container's command line is declared
# there too (adminerCommand), not here. The build context is empty
# (adminer.Dockerfile.dockerignore): nothing of the repository is copied in.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG ADMINER_VERSION
ARG ADMINER_ENTRY

# adminer ${ADMINER_VERSION} is bookworm's: on any other release apt would not find it, or find
# another PHP. Say so rather than leave apt's "version not found".
RUN . /etc/os-release \
 && if [ "${VERSION_CODENAME}" != bookworm ]; then echo "BASE_IMAGE must be Debian bookworm, not ${PRETTY_NAME}" >&2; exit 1; fi

# The same packages, and so the same dependencies, as the test machines install (.ci/run). The
# pin fails the build should bookworm ever ship another adminer: update ADMINER.debianVersion and
# the test machines together. PHP comes from bookworm, bookworm-updates and bookworm-security as
# they are when the image is built: a newer BASE_IMAGE point release rebuilds it with Debian's
# latest PHP fixes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends "adminer=${ADMINER_VERSION}" php-cli php-pgsql \
 && rm -rf /var/lib/apt/lists/*

# Fails the build if the entry script the command names is not there, or is not PHP that parses.
RUN php -l "${ADMINER_ENTRY}"

# Debian's unprivileged web user: the server needs to write only PHP's sessions
# (/var/lib/php/sessions, writable by anyone, sticky) and Adminer's temporary files (/tmp).
USER www-data
