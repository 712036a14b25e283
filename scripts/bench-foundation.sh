#!/usr/bin/env bash
# Foundation benchmark (BENCHMARKS.md): GET /api/v1/victims/{ref} and POST /api/v1/victims on SQLite
# and PostgreSQL under wrk on loopback, beside a bare axum JSON endpoint measured in the same run.
#   scripts/bench-foundation.sh            # 3 runs of 10 s each, 64 connections
#   RUNS=5 DURATION=20s scripts/bench-foundation.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PORT=18091
OUT=bench-results/foundation-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"

cargo build --release --quiet --bin care-hub --example bare_axum
BIN=target/release/care-hub
export CARE_HUB_JWT_SECRET=benchmark-secret-not-for-production-0123456789
export CARE_HUB_LOG=warn
export CARE_HUB_RATE_LIMIT_PER_MINUTE=0

run_wrk() {
    local name=$1; shift
    for i in $(seq 1 "$RUNS"); do
        wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" > "$OUT/$name-$i.txt"
        grep -E "Requests/sec|99%" "$OUT/$name-$i.txt" | tr -s ' ' | paste -sd' ' | sed "s/^/$name run $i: /"
    done
}

wait_ready() {
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$1/readyz" > /dev/null && return 0
        sleep 0.1
    done
    echo "service on port $1 did not become ready" >&2
    return 1
}

# The reference line: bare axum answering a JSON record of similar size.
target/release/examples/bare_axum 127.0.0.1:18090 &
BARE=$!
trap 'kill $BARE 2>/dev/null || true' EXIT
sleep 0.5
wrk -t"$THREADS" -c"$CONNS" -d2s http://127.0.0.1:18090/json > /dev/null
run_wrk bare-axum http://127.0.0.1:18090/json
kill $BARE; wait $BARE 2>/dev/null || true

for backend in sqlite postgres; do
    dir=$(mktemp -d)
    if [ "$backend" = sqlite ]; then
        url="sqlite://$dir/bench.db?mode=rwc"
    else
        psql "$PG_BASE" -qc "DROP DATABASE IF EXISTS care_hub_bench" -qc "CREATE DATABASE care_hub_bench"
        url="${PG_BASE%/*}/care_hub_bench"
    fi
    CARE_HUB_DATABASE_URL=$url CARE_HUB_DATA_DIR=$dir CARE_HUB_BIND=127.0.0.1:$PORT "$BIN" serve &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    wait_ready $PORT
    admin=$("$BIN" token --sub bench-admin --role admin)
    curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/teams" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' -d '{"code":"bench","name":"Bench"}' > /dev/null
    export TOKEN; TOKEN=$("$BIN" token --sub bench --role caseworker --team bench --ttl-minutes 240)

    run_wrk "$backend-post-victim" -s scripts/wrk/post_victim.lua "http://127.0.0.1:$PORT"

    # Up to 2,000 references of the records just created, read back at random.
    export REFS_FILE=$OUT/$backend-refs.txt
    : > "$REFS_FILE"
    cursor=""
    for _ in $(seq 1 10); do
        page=$(curl -sf "http://127.0.0.1:$PORT/api/v1/victims?limit=200${cursor:+&cursor=$cursor}" -H "Authorization: Bearer $TOKEN")
        echo "$page" | python3 -c 'import json,sys; [print(i["hub_ref"]) for i in json.load(sys.stdin)["items"]]' >> "$REFS_FILE"
        cursor=$(echo "$page" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
        [ -z "$cursor" ] && break
    done
    echo "$backend: $(wc -l < "$REFS_FILE") references to read"
    wrk -t"$THREADS" -c"$CONNS" -d2s -s scripts/wrk/get_random.lua "http://127.0.0.1:$PORT" > /dev/null
    run_wrk "$backend-get-victim" -s scripts/wrk/get_random.lua "http://127.0.0.1:$PORT"

    kill $SERVER; wait $SERVER 2>/dev/null || true
    rm -rf "$dir"
done

echo
echo "Results in $OUT ($RUNS runs of $DURATION, $CONNS connections, $THREADS wrk threads, $(nproc) cores):"
python3 scripts/wrk_summary.py "$OUT" bare-axum sqlite-get-victim sqlite-post-victim postgres-get-victim postgres-post-victim | tee "$OUT/summary.md"
