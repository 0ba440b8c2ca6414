#!/usr/bin/env bash
# Starts the Temporal dev server for mewm in the foreground: state in a SQLite file under the
# project data dir (survives restarts), mewm's custom search attributes registered.
#   MEWM_DATA_DIR (default ./.data), MEWM_TEMPORAL_PORT (default 7233), MEWM_TEMPORAL_UI_PORT
#   (default: headless). `mewm server` does the same from TypeScript.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cli="$("$here/temporal-cli.sh")"
data="${MEWM_DATA_DIR:-$root/.data}"
mkdir -p "$data/temporal"
ui=(--headless)
[ -n "${MEWM_TEMPORAL_UI_PORT:-}" ] && [ "${MEWM_TEMPORAL_UI_PORT}" != 0 ] && ui=(--ui-port "$MEWM_TEMPORAL_UI_PORT")
exec "$cli" server start-dev \
  --db-filename "$data/temporal/temporal.sqlite" \
  --ip 127.0.0.1 --port "${MEWM_TEMPORAL_PORT:-7233}" "${ui[@]}" \
  --log-level warn --sqlite-pragma journal_mode=WAL \
  --search-attribute MewmCohortId=Keyword \
  --search-attribute MewmCaseId=Keyword \
  --search-attribute MewmStatus=Keyword
