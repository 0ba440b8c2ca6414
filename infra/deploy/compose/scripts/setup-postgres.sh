#!/bin/sh
# Creates Temporal's two Postgres databases and brings their schemas to the version shipped in
# the admin-tools image. Safe to rerun: `create` tolerates an existing database, and
# update-schema only applies missing versions. Env: POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, SQL_PASSWORD,
# SCHEMA_ROOT (default: the admin-tools image's; infra/production/run-overnight.sh passes the Go module's).
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (Postgres host) is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
port="${DB_PORT:-5432}"
schema_root="${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
  database="${pair%%:*}"
  schema="${pair##*:}"
  echo "setup-postgres: $database"
  sql_tool --db "$database" create || echo "setup-postgres: $database already exists"
  # setup-schema -v 0.0 only records the initial version; it fails harmlessly once done.
  sql_tool --db "$database" setup-schema -v 0.0 || true
  sql_tool --db "$database" update-schema -d "$schema_root/$schema/versioned"
done
echo "setup-postgres: done"
