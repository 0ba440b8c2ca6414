#!/usr/bin/env bash
# Registers mewm's custom search attributes on an existing Temporal cluster (the dev server does
# it at start). Uses TEMPORAL_ADDRESS (default localhost:7233) and TEMPORAL_NAMESPACE (default).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cli="$("$here/temporal-cli.sh")"
for name in MewmCohortId MewmCaseId MewmStatus; do
  "$cli" operator search-attribute create --address "${TEMPORAL_ADDRESS:-localhost:7233}" \
    --namespace "${TEMPORAL_NAMESPACE:-default}" --name "$name" --type Keyword
done
