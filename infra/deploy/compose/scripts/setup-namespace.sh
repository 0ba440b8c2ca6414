#!/bin/sh
# Registers the mewm namespace (with its retention: closed plan histories are the audit record,
# keep them as long as audits need them) and the custom search attributes that
# `temporal workflow list --query` and `mewm status` use. Safe to rerun.
# Env: TEMPORAL_ADDRESS, MEWM_NAMESPACE (default mewm), MEWM_RETENTION (default 90d).
set -eu
namespace="${MEWM_NAMESPACE:-mewm}"
retention="${MEWM_RETENTION:-90d}"

attempt=0
until temporal operator cluster health >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then echo "setup-namespace: Temporal at $TEMPORAL_ADDRESS is not healthy" >&2; exit 1; fi
  sleep 5
done

if temporal operator namespace describe -n "$namespace" >/dev/null 2>&1; then
  temporal operator namespace update -n "$namespace" --retention "$retention"
else
  temporal operator namespace create -n "$namespace" --retention "$retention"
fi

# A new namespace reaches every frontend's cache only after a short delay.
attempt=0
until temporal operator search-attribute list -n "$namespace" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then echo "setup-namespace: namespace $namespace did not become visible" >&2; exit 1; fi
  sleep 2
done

# Keep this list identical to the one the embedded dev server registers (infra/ start script).
for attribute in MewmCohortId MewmCaseId MewmStatus; do
  if temporal operator search-attribute list -n "$namespace" | grep -qw "$attribute"; then
    echo "setup-namespace: search attribute $attribute exists"
  else
    temporal operator search-attribute create -n "$namespace" --name "$attribute" --type Keyword
  fi
done
echo "setup-namespace: namespace $namespace ready"
