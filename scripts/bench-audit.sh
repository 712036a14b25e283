#!/usr/bin/env bash
# The cost of auditing reads (BENCHMARKS.md): GET /api/v1/victims/{ref} with every read audited,
# against the same build serving the same database with read auditing switched off
# (CARE_HUB_UNSAFE_SKIP_READ_AUDIT, benchmarks only), runs interleaved, on SQLite and PostgreSQL.
#   scripts/bench-audit.sh                 # 3 runs of 10 s each, 64 connections
#   RUNS=5 DURATION=20s scripts/bench-audit.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
OUT=bench-results/audit-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"

cargo build --release --quiet --bin care-hub
BIN=target/release/care-hub
export CARE_HUB_JWT_SECRET=benchmark-secret-not-for-production-0123456789
export CARE_HUB_LOG=warn
export CARE_HUB_RATE_LIMIT_PER_MINUTE=0

wait_ready() {
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$1/readyz" > /dev/null && return 0
        sleep 0.1
    done
    echo "service on port $1 did not become ready" >&2
    return 1
}

run_wrk() {
    local name=$1 i=$2; shift 2
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" > "$OUT/$name-$i.txt"
    grep -E "Requests/sec|99%" "$OUT/$name-$i.txt" | tr -s ' ' | paste -sd' ' | sed "s/^/$name run $i: /"
}

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

for backend in sqlite postgres; do
    dir=$(mktemp -d)
    if [ "$backend" = sqlite ]; then
        url="sqlite://$dir/bench.db?mode=rwc"
    else
        psql "$PG_BASE" -qc "DROP DATABASE IF EXISTS care_hub_bench" -qc "CREATE DATABASE care_hub_bench"
        url="${PG_BASE%/*}/care_hub_bench"
    fi
    # Two servers on one database: the normal one, and one that does not audit reads.
    CARE_HUB_DATABASE_URL=$url CARE_HUB_DATA_DIR=$dir CARE_HUB_BIND=127.0.0.1:18101 "$BIN" serve &
    AUDITED=$!; PIDS+=("$AUDITED")
    wait_ready 18101
    CARE_HUB_UNSAFE_SKIP_READ_AUDIT=true CARE_HUB_DATABASE_URL=$url CARE_HUB_DATA_DIR=$dir CARE_HUB_BIND=127.0.0.1:18102 "$BIN" serve 2> /dev/null &
    UNAUDITED=$!; PIDS+=("$UNAUDITED")
    wait_ready 18102

    admin=$("$BIN" token --sub bench-admin --role admin)
    curl -sf -X POST "http://127.0.0.1:18101/api/v1/teams" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' -d '{"code":"bench","name":"Bench"}' > /dev/null
    export TOKEN; TOKEN=$("$BIN" token --sub bench --role caseworker --team bench --ttl-minutes 240)
    wrk -t"$THREADS" -c"$CONNS" -d5s -s scripts/wrk/post_victim.lua "http://127.0.0.1:18101" > "$OUT/$backend-seed.txt"
    export REFS_FILE=$OUT/$backend-refs.txt
    : > "$REFS_FILE"
    cursor=""
    for _ in $(seq 1 10); do
        page=$(curl -sf "http://127.0.0.1:18101/api/v1/victims?limit=200${cursor:+&cursor=$cursor}" -H "Authorization: Bearer $TOKEN")
        echo "$page" | python3 -c 'import json,sys; [print(i["hub_ref"]) for i in json.load(sys.stdin)["items"]]' >> "$REFS_FILE"
        cursor=$(echo "$page" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
        [ -z "$cursor" ] && break
    done
    for port in 18102 18101; do
        wrk -t"$THREADS" -c"$CONNS" -d2s -s scripts/wrk/get_random.lua "http://127.0.0.1:$port" > /dev/null
    done
    # Interleaved, so drift in the machine's load falls on both alike.
    for i in $(seq 1 "$RUNS"); do
        run_wrk "$backend-read-unaudited" "$i" -s scripts/wrk/get_random.lua "http://127.0.0.1:18102"
        run_wrk "$backend-read-audited" "$i" -s scripts/wrk/get_random.lua "http://127.0.0.1:18101"
    done
    audited_events=$(curl -sf "http://127.0.0.1:18101/api/v1/audit/verify" -H "Authorization: Bearer $admin")
    echo "$backend audit chain after the runs: $audited_events"
    kill "$AUDITED" "$UNAUDITED"; wait "$AUDITED" "$UNAUDITED" 2>/dev/null || true
    rm -rf "$dir"
done

echo
echo "Results in $OUT ($RUNS interleaved runs of $DURATION, $CONNS connections, $(nproc) cores):"
{
    python3 scripts/wrk_summary.py "$OUT" sqlite-read-unaudited sqlite-read-audited
    echo
    python3 scripts/wrk_summary.py "$OUT" postgres-read-unaudited postgres-read-audited
} | sed 's/vs bare axum/vs unaudited/' | tee "$OUT/summary.md"
