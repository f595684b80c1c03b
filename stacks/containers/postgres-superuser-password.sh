#!/bin/sh
# The postgres container runs this before the image's own entrypoint (stacks/containers/postgres.ts).
#
# On a data directory initialised before, by an earlier deployment of the stack (its volume kept by
# `pulumi destroy`), the superuser gets this deployment's password: the image's entrypoint reads
# POSTGRES_PASSWORD_FILE only to initialise an empty directory, and the program logs in with the
# password it has just generated. Single-user mode, before the server starts: no port is open, and
# the secret travels on standard input, never in arguments or in the log (log_min_error_statement).
# Single-user mode exits 0 after a failed statement, so its output is read for errors too.
set -eu
[ -s "$PGDATA/PG_VERSION" ] || exit 0
if [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
  echo "pronunciation-assistant: $POSTGRES_PASSWORD_FILE is missing or empty: no password to give the superuser of $PGDATA" >&2
  exit 1
fi
as_postgres=
if [ "$(id -u)" = 0 ]; then as_postgres='gosu postgres'; fi
status=0
out=$(printf 'ALTER ROLE "%s" PASSWORD '\''%s'\'';\n' "$POSTGRES_USER" "$(cat "$POSTGRES_PASSWORD_FILE")" |
  $as_postgres postgres --single -D "$PGDATA" -c log_min_error_statement=panic -c log_min_messages=warning postgres 2>&1 >/dev/null) || status=$?
case "$out" in
  *ERROR:* | *FATAL:* | *PANIC:*) [ "$status" != 0 ] || status=1 ;;
esac
if [ "$status" != 0 ]; then
  echo "pronunciation-assistant: could not give the superuser this deployment's password on the existing data directory $PGDATA (exit $status): $out" >&2
  exit 1
fi
echo "pronunciation-assistant: the superuser of the existing data directory $PGDATA has this deployment's password."
