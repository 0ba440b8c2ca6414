#!/usr/bin/env bash
# An overnight cohort on the production topology, on one host, with faults injected while it runs.
#
#   bash infra/production/run-overnight.sh [--patients N] [--seed S] [--work DIR] [--summary FILE]
#                                          [--no-faults] [--keep] [--timeout-min M]
#
# What it does (docs/deployment.md, "Overnight cohort on the production topology"):
#   1. builds the full Temporal server and temporal-sql-tool from the Go module proxy, once
#      (infra/production/build-temporal.sh, cached in ~/.cache/mewm-prod);
#   2. initialises a PostgreSQL cluster in a temporary folder on a loopback port, creates
#      Temporal's two databases and schemas (infra/deploy/compose/scripts/setup-postgres.sh);
#   3. starts temporal-server on it, registers the `mewm` namespace and the search attributes
#      (infra/deploy/compose/scripts/setup-namespace.sh), starts an S3-compatible store (s3rver);
#   4. writes a synthetic cohort of small patients (`mewm synth --size small`);
#   5. reference run: three separate worker processes (`mewm worker --queue gpu|llm|cpu`) plan the
#      cohort (`mewm cohort --detach`) with no fault;
#   6. fault run: fresh workers, a fresh artifact prefix, the same cohort under another cohort id;
#      while it runs: kill -9 of the GPU worker (restarted 2 s later, as a supervisor would), a
#      restart of the Temporal server, a second kill -9 of the GPU worker, a restart of Postgres;
#   7. compares both runs plan by plan and patient by patient (infra/production/summarize.ts) and
#      writes a JSON summary: patients/hour, recovery time of every fault, history sizes, patients
#      lost or planned twice, plans identical to the reference run.
# Exit status 0 only when no patient is lost or planned twice and every plan is identical.
# Every process it starts is stopped on exit (also on Ctrl-C); --keep keeps the data folders.
#
# Env: MEWM_PROD_CACHE (build cache, default ~/.cache/mewm-prod), MEWM_PROD_PORT_BASE (default
# 17200: Postgres +32, Temporal +33..+39 and +43, membership +133..+139, S3 +69), GO, the planning
# knobs below (MEWM_BEAMS, MEWM_REPLICAS, MEWM_ROI_SIZE, …) to override the small-patient preset,
# MEWM_PROD_FAULT_GAP_S (default 40: least seconds between one fault's recovery and the next fault),
# MEWM_PROD_KILL_DELAY_S (default 0.1: a GPU kill waits for a simulation to start, then this long),
# MEWM_PROD_RESTARTS=crash (default graceful: SIGTERM for Temporal, pg_ctl -m fast for Postgres) to
# kill -9 the Temporal server and stop Postgres in immediate mode (crash recovery) instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/infra/production"

patients=60
seed=11
work=""
summary=""
faults=1
keep=0
timeout_min=120
while [ $# -gt 0 ]; do
  case "$1" in
    --patients) patients="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --summary) summary="$2"; shift 2 ;;
    --no-faults) faults=0; shift ;;
    --keep) keep=1; shift ;;
    --timeout-min) timeout_min="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run-overnight: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Prerequisites: PostgreSQL's server binaries (Debian: apt-get install postgresql; its bin folder is
# not on PATH), Go for the first build of the Temporal server, the project set up (infra/setup.sh).
if ! command -v pg_ctl >/dev/null 2>&1; then
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$pg_bin" ] && PATH="$pg_bin:$PATH"
fi
for tool in initdb pg_ctl postgres; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run-overnight: $tool not found: install PostgreSQL (Debian: apt-get install postgresql)" >&2; exit 1; }
done
[ -x "$root/.venv/bin/temporal" ] && [ -d "$root/node_modules" ] || { echo "run-overnight: run bash infra/setup.sh first" >&2; exit 1; }

now_ms() { date +%s%3N; }
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
log() { echo "run-overnight $(date -u +%H:%M:%S) $*" >&2; }

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
work="${work:-$root/.data/prod/run-$stamp}"
summary="${summary:-$work/summary.json}"
mkdir -p "$work/logs"
work="$(cd "$work" && pwd)"
events="$work/events.jsonl"
: >"$events"
event() { echo "$1" >>"$events"; }

base="${MEWM_PROD_PORT_BASE:-17200}"
PG_PORT=$((base + 32))
FRONTEND_PORT=$((base + 33))
HISTORY_PORT=$((base + 34))
MATCHING_PORT=$((base + 35))
WORKER_PORT=$((base + 39))
FRONTEND_HTTP_PORT=$((base + 43))
S3_PORT=$((base + 69))
address="127.0.0.1:$FRONTEND_PORT"
namespace=mewm
cli="$("$root/infra/temporal/temporal-cli.sh")"
tsx=(node --import "file://$root/node_modules/tsx/dist/loader.mjs")

for port in $PG_PORT $FRONTEND_PORT $HISTORY_PORT $MATCHING_PORT $WORKER_PORT $FRONTEND_HTTP_PORT $S3_PORT \
  $((base + 133)) $((base + 134)) $((base + 135)) $((base + 139)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run-overnight: port $port is in use: set MEWM_PROD_PORT_BASE to a free range" >&2
    exit 1
  fi
done

# ---------------------------------------------------------------------------------------------
# Processes and cleanup
pgdata=""
temporal_pid=""
s3_pid=""
declare -A worker_pid=()
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop_pid() { # pid, seconds to wait after SIGTERM before SIGKILL
  local pid="$1" wait_s="${2:-20}" i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  for role in "${!worker_pid[@]}"; do stop_pid "${worker_pid[$role]}" 15; done
  stop_pid "$temporal_pid" 30
  stop_pid "$s3_pid" 10
  if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then pg_as pg_ctl -D "$pgdata" -m fast -w stop >/dev/null 2>&1; fi
  if [ -n "$pgdata" ]; then
    cp "$pgdata/postgres.log" "$work/logs/postgres.log" 2>/dev/null
    if [ "$keep" = 1 ]; then log "kept the Postgres data in $pgdata"; else rm -rf "$pgdata"; fi
  fi
  if [ "$keep" != 1 ]; then rm -rf "$work/s3" "$work/data"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_until() { # seconds, description, command...
  local limit="$1" what="$2" started
  shift 2
  started=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) - started > limit)); then log "timed out after ${limit}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------
# 1. Temporal server binaries
bin_dir="$("$here/build-temporal.sh")"
log "Temporal server: $bin_dir ($("$bin_dir/temporal-server" --version 2>/dev/null | head -1))"

# 2. Postgres
pgdata="$(mktemp -d /tmp/mewm-prod-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then chown postgres "$pgdata"; fi
pg_as initdb -D "$pgdata" -U temporal --auth=trust -E UTF8 >"$work/logs/initdb.log" 2>&1
pg_start() {
  pg_as pg_ctl -D "$pgdata" -l "$pgdata/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$pgdata -c max_connections=200" start >/dev/null
}
pg_start
log "Postgres $(pg_as postgres --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($pgdata)"
PATH="$bin_dir:$PATH" POSTGRES_SEEDS=127.0.0.1 DB_PORT=$PG_PORT POSTGRES_USER=temporal SQL_PASSWORD=temporal \
  SCHEMA_ROOT="$bin_dir/schema/postgresql/v12" sh "$root/infra/deploy/compose/scripts/setup-postgres.sh" >"$work/logs/schema.log" 2>&1

# 3. Temporal server, namespace, S3
sed -e "s/@PG_PORT@/$PG_PORT/g" -e "s/@FRONTEND_PORT@/$FRONTEND_PORT/g" -e "s/@FRONTEND_HTTP_PORT@/$FRONTEND_HTTP_PORT/g" \
  -e "s/@HISTORY_PORT@/$HISTORY_PORT/g" -e "s/@MATCHING_PORT@/$MATCHING_PORT/g" -e "s/@WORKER_PORT@/$WORKER_PORT/g" \
  -e "s/@FRONTEND_MEMBERSHIP_PORT@/$((base + 133))/g" -e "s/@HISTORY_MEMBERSHIP_PORT@/$((base + 134))/g" \
  -e "s/@MATCHING_MEMBERSHIP_PORT@/$((base + 135))/g" -e "s/@WORKER_MEMBERSHIP_PORT@/$((base + 139))/g" \
  -e "s#@DYNAMIC_CONFIG@#$here/dynamicconfig.yaml#g" "$here/temporal.yaml.in" >"$work/temporal.yaml"
temporal_healthy() { "$cli" operator cluster health --address "$address" | grep -q SERVING; }
temporal_start() {
  "$bin_dir/temporal-server" --config-file "$work/temporal.yaml" --allow-no-auth start >>"$work/logs/temporal.log" 2>&1 &
  temporal_pid=$!
  wait_until 180 "the Temporal server" temporal_healthy
}
temporal_start
log "Temporal server (pid $temporal_pid) on $address"
PATH="$(dirname "$cli"):$PATH" TEMPORAL_ADDRESS="$address" MEWM_NAMESPACE=$namespace MEWM_RETENTION=7d \
  sh "$root/infra/deploy/compose/scripts/setup-namespace.sh" >"$work/logs/namespace.log" 2>&1

"${tsx[@]}" "$here/s3-server.ts" --port "$S3_PORT" --dir "$work/s3" --bucket mewm >"$work/logs/s3.log" 2>&1 &
s3_pid=$!
wait_until 60 "the S3 server" grep -q "s3 ready" "$work/logs/s3.log"
log "S3 (s3rver, pid $s3_pid) on 127.0.0.1:$S3_PORT"

# 4. The cohort: small synthetic patients (96 x 96 x 32 CTs)
cohort="$work/cohort"
if [ ! -f "$cohort/manifest.jsonl" ]; then
  nice -n 10 "$root/bin/mewm" synth --patients "$patients" --seed "$seed" --size small --out "$cohort" 2>"$work/logs/synth.log"
fi
log "cohort: $patients synthetic patients (seed $seed, --size small) in $cohort"

# The configuration every client and worker shares (docs/deployment.md, "Which worker serves which plan").
export TEMPORAL_ADDRESS="$address" TEMPORAL_NAMESPACE=$namespace MEWM_DATA_DIR="$work/data"
export MEWM_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" MEWM_S3_FORCE_PATH_STYLE=1 MEWM_S3_REGION=us-east-1
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
export MEWM_WORLD_MODEL=oracle MEWM_ORACLE_COHORT="$cohort"
# Small patients: a 40 x 40 x 32 ROI at 3.5 mm, B=2 beams, D=3 drugs, E=2 embolics, T=3 replicas,
# Hd=He=2, simulated 4 replicas per batch (so a simulation has batches to checkpoint).
export MEWM_ROI_SIZE="${MEWM_ROI_SIZE:-40,40,32}" MEWM_ROI_SPACING_MM="${MEWM_ROI_SPACING_MM:-3.5}" MEWM_SIMULATE_BATCH="${MEWM_SIMULATE_BATCH:-4}"
export MEWM_BEAMS="${MEWM_BEAMS:-2}" MEWM_DRUG_CANDIDATES="${MEWM_DRUG_CANDIDATES:-3}" MEWM_EMBOLIC_CANDIDATES="${MEWM_EMBOLIC_CANDIDATES:-2}"
export MEWM_REPLICAS="${MEWM_REPLICAS:-3}" MEWM_DRUG_HORIZON="${MEWM_DRUG_HORIZON:-2}" MEWM_EMBOLIC_HORIZON="${MEWM_EMBOLIC_HORIZON:-2}"
export MEWM_COHORT_CONCURRENCY="${MEWM_COHORT_CONCURRENCY:-4}" MEWM_COHORT_PAGE_SIZE="${MEWM_COHORT_PAGE_SIZE:-20}"
export MEWM_GPU_SLOTS=1 MEWM_LOG_LEVEL="${MEWM_LOG_LEVEL:-info}"
unset OPENAI_BASE_URL OPENAI_API_KEY MEWM_POLICY_MODEL MEWM_PAYLOAD_KEY

start_worker() { # role phase
  local role="$1" phase="$2" logf="$work/logs/worker-$1-$2.log"
  echo "--- start $(date -u +%FT%TZ)" >>"$logf"
  # The GPU worker logs at debug level: the SDK's "Activity started/completed" lines tell when a simulation runs.
  MEWM_ARTIFACTS="s3://mewm/$phase" MEWM_LOG_LEVEL="$([ "$role" = gpu ] && echo debug || echo "$MEWM_LOG_LEVEL")" \
    nice -n 10 "$root/bin/mewm" worker --queue "$role" >>"$logf" 2>&1 &
  worker_pid[$role]=$!
  wait_until 120 "the $role worker" worker_ready "$logf"
}
# Exit 0 while the (one-slot) GPU worker runs a simulateCandidates activity: its last activity line is that start.
gpu_simulating() {
  grep -E '"msg":"Activity (started|completed|failed|completed as cancelled)"' "$work/logs/worker-gpu-$1.log" | tail -1 |
    grep -q '"msg":"Activity started".*"activityType":"simulateCandidates"\|"activityType":"simulateCandidates".*"msg":"Activity started"'
}
worker_ready() { awk '/^--- start/ { ok = 0 } /"workers polling"/ { ok = 1 } END { exit !ok }' "$1"; }
stop_workers() {
  for role in gpu llm cpu; do stop_pid "${worker_pid[$role]:-}" 15; unset "worker_pid[$role]"; done
}
# A worker or Temporal server that died on its own (not one this script stopped) is logged as an
# event and restarted, as a supervisor would.
supervise() { # phase
  local role rc
  if ! kill -0 "$temporal_pid" 2>/dev/null; then
    rc=0
    wait "$temporal_pid" 2>/dev/null || rc=$?
    event "{\"event\":\"temporal-exited\",\"phase\":\"$1\",\"exitCode\":$rc,\"at\":$(now_ms)}"
    log "the Temporal server exited by itself (exit $rc): restarting it"
    temporal_start
  fi
  for role in gpu llm cpu; do
    if ! kill -0 "${worker_pid[$role]}" 2>/dev/null; then
      rc=0
      wait "${worker_pid[$role]}" 2>/dev/null || rc=$?
      event "{\"event\":\"worker-exited\",\"phase\":\"$1\",\"role\":\"$role\",\"exitCode\":$rc,\"at\":$(now_ms)}"
      log "the $role worker exited by itself (exit $rc): restarting it"
      start_worker "$role" "$1"
    fi
  done
}

completed_plans() { # cohort id → number of completed plans (-1 while Temporal does not answer)
  local out n
  out="$("$cli" workflow count --address "$address" -n $namespace -o json \
    --query "WorkflowType='planTreatment' AND MewmCohortId='$1' AND ExecutionStatus='Completed'" 2>/dev/null)" || { echo -1; return; }
  n="$(echo "$out" | sed -n 's/.*"count": *"\{0,1\}\([0-9]*\).*/\1/p' | head -1)"
  echo "${n:-0}" # {} when there is none
}
cohort_closed() { # cohort id → exit 0 once the cohort workflow (last run) is closed
  "$cli" workflow describe --address "$address" -n $namespace -w "cohort-$1" -o json 2>/dev/null |
    grep -q '"status": *"WORKFLOW_EXECUTION_STATUS_\(COMPLETED\|FAILED\|TERMINATED\|TIMED_OUT\|CANCELED\)"'
}

# ---------------------------------------------------------------------------------------------
# 5./6. One phase: workers, cohort, faults, wait
run_phase() { # phase cohort-id inject-faults
  local phase="$1" cid="$2" inject="$3" started deadline done_count next=0 last_back=0
  for role in gpu llm cpu; do start_worker "$role" "$phase"; done
  log "$phase: workers polling (gpu ${worker_pid[gpu]}, llm ${worker_pid[llm]}, cpu ${worker_pid[cpu]})"
  started=$(now_ms)
  event "{\"event\":\"phase-start\",\"phase\":\"$phase\",\"cohortId\":\"$cid\",\"at\":$started,\"loadAverage\":\"$(load)\"}"
  MEWM_ARTIFACTS="s3://mewm/$phase" "$root/bin/mewm" cohort "$cohort" --cohort-id "$cid" --detach >>"$work/logs/cohort-$phase.log" 2>&1
  # Faults at these fractions of the cohort's completed plans.
  local kinds=(kill-gpu restart-temporal kill-gpu restart-postgres) fractions=(10 30 50 70) thresholds=() t prev=0 i
  for i in "${!fractions[@]}"; do
    t=$((patients * fractions[i] / 100))
    ((t <= prev)) && t=$((prev + 1))
    thresholds+=("$t")
    prev=$t
  done
  deadline=$(($(date +%s) + timeout_min * 60))
  while ! cohort_closed "$cid"; do
    if (($(date +%s) > deadline)); then log "$phase: timed out after $timeout_min min"; break; fi
    supervise "$phase"
    if [ "$inject" = 1 ] && ((next < ${#kinds[@]})); then
      done_count=$(completed_plans "$cid")
      # …and never sooner than MEWM_PROD_FAULT_GAP_S after the last one was back: each recovery is measured alone.
      if ((done_count >= thresholds[next])) && (($(date +%s) >= last_back + ${MEWM_PROD_FAULT_GAP_S:-40})); then
        inject_fault "${kinds[next]}" "$phase" "$done_count"
        last_back=$(date +%s)
        next=$((next + 1))
      fi
    fi
    sleep 1
  done
  if [ "$inject" = 1 ] && ((next < ${#kinds[@]})); then
    log "$phase: the cohort ended before every fault was injected ($next of ${#kinds[@]}): use more patients or a smaller MEWM_PROD_FAULT_GAP_S"
  fi
  event "{\"event\":\"phase-end\",\"phase\":\"$phase\",\"cohortId\":\"$cid\",\"at\":$(now_ms),\"loadAverage\":\"$(load)\"}"
  log "$phase: cohort closed after $((($(now_ms) - started) / 1000)) s"
  stop_workers
}

inject_fault() { # kind phase completed-plans
  local kind="$1" at back mode="${MEWM_PROD_RESTARTS:-graceful}"
  [ "$kind" = kill-gpu ] && mode=crash
  at=$(now_ms)
  case "$kind" in
    kill-gpu)
      # Mid-simulation, after its first batches: what a crash costs is what the next attempt recomputes.
      # A short simulation may end during the delay: then wait for the next one (at most 20 tries).
      local try
      for try in $(seq 20); do
        wait_until 120 "a simulation on the GPU worker" gpu_simulating "$2" || break
        sleep "${MEWM_PROD_KILL_DELAY_S:-0.1}"
        gpu_simulating "$2" && break
      done
      at=$(now_ms)
      log "fault: kill -9 of the GPU worker (pid ${worker_pid[gpu]}) after $3 plans"
      kill -KILL "${worker_pid[gpu]}"
      wait "${worker_pid[gpu]}" 2>/dev/null || true
      sleep 2 # a supervisor (systemd, Kubernetes) restarts it
      start_worker gpu "$2"
      ;;
    restart-temporal)
      log "fault: restart of the Temporal server (pid $temporal_pid, $mode) after $3 plans"
      if [ "$mode" = crash ]; then
        kill -KILL "$temporal_pid"
        wait "$temporal_pid" 2>/dev/null || true
      else
        stop_pid "$temporal_pid" 60
      fi
      temporal_start
      ;;
    restart-postgres)
      log "fault: restart of Postgres ($mode) after $3 plans"
      if [ "$mode" = crash ]; then
        # Immediate shutdown: no checkpoint, crash recovery from the WAL at the next start.
        pg_as pg_ctl -D "$pgdata" -m immediate -w -t 60 stop >/dev/null
        pg_start
      else
        pg_as pg_ctl -D "$pgdata" -m fast -w -t 60 restart >/dev/null
      fi
      ;;
  esac
  back=$(now_ms)
  event "{\"event\":\"$kind\",\"mode\":\"$mode\",\"phase\":\"$2\",\"completedPlans\":$3,\"at\":$at,\"back\":$back}"
  log "fault: $kind done, back after $(((back - at) / 1000)) s"
}

run_id="${stamp,,}"
reference_id="ref-$run_id"
faults_id="faults-$run_id"
run_phase reference "$reference_id" 0
if [ "$faults" = 1 ]; then run_phase faults "$faults_id" 1; else run_phase faults "$faults_id" 0; fi

# 7. Compare and summarise (reads outcomes and audits from S3 and histories from Temporal)
status=0
MEWM_ARTIFACTS="s3://mewm/faults" "${tsx[@]}" "$here/summarize.ts" --manifest "$cohort/manifest.jsonl" \
  --reference "$reference_id" --faults "$faults_id" --events "$events" --out "$summary" --outcomes "$work" --expect-faults $((faults * 4)) \
  --temporal-version "$("$bin_dir/temporal-server" --version 2>/dev/null | head -1)" \
  --postgres-version "$(pg_as postgres --version | awk '{print $3}')" || status=$?
log "summary: $summary"
exit "$status"
