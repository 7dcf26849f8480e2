#!/bin/sh
# Agent image entrypoint: `run --config FILE` (default) or `check --config FILE`; see apps/agent/README.md.
set -eu
exec node /app/apps/agent/dist/cli.js "$@"
