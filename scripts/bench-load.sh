#!/usr/bin/env bash
# Load benchmark (BENCHMARKS.md, "Load: a caseworker mix"): `care-hub serve` on SQLite and on
# PostgreSQL with generated data, driven by examples/loadgen.rs on loopback at increasing
# concurrency. Per backend:
#  1. `care-hub generate --load` of GEN_VICTIMS victims (with their cases, agency references,
#     events and journeys) into team gen-hub;
#  2. `care-hub serve`; 64 caseworker tokens (`care-hub token`, subs cw-0 … cw-63, team gen-hub);
#     `loadgen seed` creates PER_CASEWORKER victims assigned to each through the API, each with
#     one past contact, so every caseload has due dates spread over six weeks; on PostgreSQL,
#     ANALYZE (what autovacuum would have done by then; it is off on this machine's server);
#  3. `loadgen run` at each CONCURRENCY, RUNS times: client i is caseworker cw-i on its own
#     victims, looping search, read, update (If-Match), add contact, log service issue, due work,
#     with no think time; WARMUP seconds unmeasured, then DURATION seconds measured;
#  4. the server log is searched for "database is locked" and for errors.
# Results: bench-results/load-<time>/ (results.jsonl, server logs, summary.md).
#   scripts/bench-load.sh                                  # both backends, 8 16 32 64, 3 × 20 s
#   BACKENDS=sqlite CONCURRENCY="64" RUNS=1 DURATION=5 scripts/bench-load.sh   # a quick try
# PostgreSQL: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) names a server
# where the scratch database care_hub_load is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-sqlite postgres}
CONCURRENCY=${CONCURRENCY:-8 16 32 64}
RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
GEN_VICTIMS=${GEN_VICTIMS:-20000}
PER_CASEWORKER=${PER_CASEWORKER:-100}
CASEWORKERS=64
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PG_DB=care_hub_load
PORT=18141
OUT=bench-results/load-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"

for c in $CONCURRENCY; do
    [ "$c" -le "$CASEWORKERS" ] || { echo "CONCURRENCY above $CASEWORKERS needs more caseworkers" >&2; exit 1; }
done

cargo build --release --quiet --bin care-hub --example loadgen
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
BIN=$TARGET/release/care-hub
LOADGEN=$TARGET/release/examples/loadgen
export CARE_HUB_JWT_SECRET=benchmark-secret-not-for-production-0123456789
export CARE_HUB_LOG=warn
export CARE_HUB_RATE_LIMIT_PER_MINUTE=0
echo "commit $(git rev-parse --short HEAD); $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"

SCRATCH=$(mktemp -d /tmp/bench-load.XXXXXX)
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; fi
    rm -rf "$SCRATCH"
    psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" 2> /dev/null || true
}
trap cleanup EXIT

wait_ready() {
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && return 0
        sleep 0.2
    done
    echo "the server did not become ready" >&2
    return 1
}

for backend in $BACKENDS; do
    dir=$SCRATCH/$backend
    mkdir -p "$dir"
    if [ "$backend" = sqlite ]; then
        export CARE_HUB_DATABASE_URL="sqlite://$dir/care-hub.db?mode=rwc"
    else
        psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
        export CARE_HUB_DATABASE_URL="${PG_BASE%/*}/$PG_DB"
    fi
    export CARE_HUB_DATA_DIR=$dir
    start=$(date +%s)
    "$BIN" generate --victims "$GEN_VICTIMS" --out "$dir/gen" --load > "$OUT/$backend-generate.txt"
    echo "$backend: $GEN_VICTIMS generated victims loaded in $(($(date +%s) - start)) s"

    CARE_HUB_BIND=127.0.0.1:$PORT "$BIN" serve 2> "$OUT/$backend-server.log" &
    SERVER=$!
    wait_ready

    tokens=$OUT/tokens.txt
    : > "$tokens"
    for i in $(seq 0 $((CASEWORKERS - 1))); do
        echo "cw-$i $("$BIN" token --sub "cw-$i" --role caseworker --team gen-hub --ttl-minutes 600)" >> "$tokens"
    done
    start=$(date +%s)
    "$LOADGEN" seed "127.0.0.1:$PORT" "$tokens" "$PER_CASEWORKER" "$OUT/$backend-refs.txt"
    echo "$backend: $(wc -l < "$OUT/$backend-refs.txt") caseworker victims seeded through the API in $(($(date +%s) - start)) s"
    if [ "$backend" = postgres ]; then
        # What autovacuum would have done by now (it is off on this machine's server). SQLite's
        # statistics come from the service itself (PRAGMA optimize when it connects).
        psql -X -q "$CARE_HUB_DATABASE_URL" -c "ANALYZE"
    fi

    for c in $CONCURRENCY; do
        for run in $(seq 1 "$RUNS"); do
            line=$("$LOADGEN" run "127.0.0.1:$PORT" "$tokens" "$OUT/$backend-refs.txt" "$c" "$DURATION" "$WARMUP" "$backend" 2>> "$OUT/$backend-loadgen.log")
            echo "$line" >> "$OUT/results.jsonl"
            echo "$line" | python3 scripts/load_summary.py --one "run $run"
        done
    done

    kill "$SERVER"
    wait "$SERVER" 2> /dev/null || true
    SERVER=
    locked=$(grep -ci "database is locked" "$OUT/$backend-server.log" || true)
    logged_errors=$(grep -c "ERROR" "$OUT/$backend-server.log" || true)
    echo "{\"label\": \"$backend\", \"server_log\": {\"database_is_locked\": $locked, \"error_lines\": $logged_errors}}" >> "$OUT/results.jsonl"
    echo "$backend: server log: $locked 'database is locked', $logged_errors ERROR lines"
    if [ "$backend" = postgres ]; then
        psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB"
    fi
    rm -rf "$dir"
done
rm -f "$OUT/tokens.txt"

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
python3 scripts/load_summary.py "$OUT/results.jsonl" | tee "$OUT/summary.md"
