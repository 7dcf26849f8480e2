#!/bin/sh
# Control-plane image entrypoint.
#   serve    (default) apply pending migrations (replicas serialise on an advisory lock), then serve API + dashboard
#   migrate  apply pending migrations and exit (Kubernetes Job / init container, compose one-shot service)
#   users …  operator CLI (create-user, …)
# Settings are environment variables (apps/control-plane/README.md). Any VAR_FILE=/path sets VAR from the file's
# first line, for secrets mounted as files (compose/Kubernetes secrets).
set -eu
for kv in $(env | sed -n 's/^\([A-Z0-9_]*\)_FILE=.*/\1/p'); do
  eval "file=\${${kv}_FILE}"
  # shellcheck disable=SC2154
  [ -r "$file" ] || { echo "diad-control-plane: ${kv}_FILE: cannot read $file" >&2; exit 2; }
  value=$(cat "$file")
  export "$kv=$value"
  unset "${kv}_FILE"
done
cmd=${1:-serve}
[ $# -gt 0 ] && shift
case "$cmd" in
  serve) exec node /app/apps/control-plane/dist/main.js "$@" ;;
  migrate) exec node /app/apps/control-plane/dist/db/migrate-cli.js "$@" ;;
  users) exec node /app/apps/control-plane/dist/cli.js "$@" ;;
  *) echo "usage: diad-control-plane [serve|migrate|users ...]" >&2; exit 2 ;;
esac
