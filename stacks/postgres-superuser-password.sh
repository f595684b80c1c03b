#!/bin/sh
# The postgres container runs this before the image's own entrypoint (stacks/postgres.ts).
#
# On a data directory initialised before, by an earlier deployment of the stack (its volume kept by
# `pulumi destroy`), the superuser gets this deployment's password: the image's entrypoint reads
# POSTGRES_PASSWORD_FILE only to initialise an empty directory, and the program logs in with the
# password it has just generated. Single-user mode, before the server starts: no port is open, and
# the secret travels on standard input, never in arguments or in the log (log_min_error_statement).
set -eu
[ -s "$PGDATA/PG_VERSION" ] || exit 0
as_postgres=
if [ "$(id -u)" = 0 ]; then as_postgres='gosu postgres'; fi
out=$(printf 'ALTER ROLE "%s" PASSWORD '\''%s'\'';\n' "$POSTGRES_USER" "$(cat "$POSTGRES_PASSWORD_FILE")" |
  $as_postgres postgres --single -D "$PGDATA" -c log_min_error_statement=panic -c log_min_messages=warning postgres 2>&1 >/dev/null) || true
case "$out" in
  *ERROR:* | *FATAL:* | *PANIC:*)
    echo "pronunciation-assistant: could not give the superuser this deployment's password on the existing data directory $PGDATA: $out" >&2
    exit 1
    ;;
esac
echo "pronunciation-assistant: $PGDATA holds an earlier deployment's data; its superuser takes this deployment's password."
