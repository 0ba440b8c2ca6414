#!/usr/bin/env bash
# Builds the full Temporal server (temporal-server) and its SQL schema tool (temporal-sql-tool)
# from the Go module proxy, once, and caches them with the module's Postgres schema:
#   $MEWM_PROD_CACHE/temporal-<version>/{temporal-server,temporal-sql-tool,schema/postgresql/v12/}
# Prints that folder on stdout. Needs Go ≥ the module's go directive (1.26.8 for v1.32.1) and the
# Go module proxy; a cold build takes several minutes on 2 cores (~1 GB of module downloads).
# Env: MEWM_PROD_CACHE (default ~/.cache/mewm-prod), TEMPORAL_SERVER_VERSION (default below), GO.
set -euo pipefail
version="${TEMPORAL_SERVER_VERSION:-v1.32.1}"
cache="${MEWM_PROD_CACHE:-$HOME/.cache/mewm-prod}"
out="$cache/temporal-$version"
go_bin="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

if [ -x "$out/temporal-server" ] && [ -x "$out/temporal-sql-tool" ] && [ -d "$out/schema/postgresql/v12" ]; then
  echo "$out"
  exit 0
fi
[ -x "$go_bin" ] || { echo "build-temporal: no Go toolchain (set GO=/path/to/go)" >&2; exit 1; }
mkdir -p "$out.tmp"
echo "build-temporal: building go.temporal.io/server@$version (minutes; log $out.build.log)" >&2
started=$(date +%s)
# GOTOOLCHAIN=local: use the Go given, never download another toolchain.
if ! GOTOOLCHAIN=local GOBIN="$out.tmp" GOFLAGS=-trimpath nice -n 10 "$go_bin" install \
  "go.temporal.io/server/cmd/server@$version" "go.temporal.io/server/cmd/tools/sql@$version" >"$out.build.log" 2>&1; then
  tail -20 "$out.build.log" >&2
  exit 1
fi
mv "$out.tmp/server" "$out.tmp/temporal-server"
mv "$out.tmp/sql" "$out.tmp/temporal-sql-tool"
module_dir="$(GOTOOLCHAIN=local "$go_bin" mod download -json "go.temporal.io/server@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
mkdir -p "$out.tmp/schema/postgresql"
cp -r "$module_dir/schema/postgresql/v12" "$out.tmp/schema/postgresql/"
chmod -R u+w "$out.tmp/schema"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "build-temporal: built in $(($(date +%s) - started)) s" >&2
echo "$out"
