#!/usr/bin/env bash
# Attrition report times over HTTP beside DuckDB (BENCHMARKS.md, "Reports"), on SQLite and
# PostgreSQL, for JOURNEYS generated journeys:
#  1. `care-hub generate --load` of IMPORTED victims (default 100,000) into a SQLite database,
#     through `care-hub import` (kept in BENCH_CACHE and reused: the load is not what is measured);
#     a larger JOURNEYS is that database copied JOURNEYS/IMPORTED times under fresh ids
#     (scripts/bench_replicate.py): the same distributions, that many rows, no hour-long import;
#  2. PostgreSQL gets the same rows, copied table by table (scripts/bench_sqlite_to_pg.py) into a
#     freshly migrated database, then ANALYZE;
#  3. per backend, `care-hub serve` (release build) with an analyst token from `care-hub token`:
#     each report fetched once (kept as the API's answer), then timed with hyperfine as
#     `curl` calls (RUNS runs after one warm-up; medians), the board pack too when the build has
#     it; the linked extract downloaded as Parquet (timed once);
#  4. DuckDB (PyPI) computes the same figures from that Parquet file, RUNS runs each, and checks
#     them against the API's answers (scripts/bench_reports_duckdb.py).
# Results: bench-results/reports-<time>/ (every answer, hyperfine JSON, duckdb JSON, summary.md).
#   scripts/bench-reports.sh                              # 1,000,000 journeys, both backends
#   JOURNEYS="1000000 10000000" RUNS=5 scripts/bench-reports.sh
#   JOURNEYS=20000 BACKENDS=sqlite RUNS=3 scripts/bench-reports.sh   # a quick try
# Needs curl, hyperfine, psql, python3 with duckdb (apt-get install hyperfine postgresql-client;
# pip install duckdb). PostgreSQL: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)
# names a server where the scratch database bench_reports is created and dropped; with
# REUSE_PG=1 an existing bench_reports of the same JOURNEYS is used as it is and kept (copying
# 10,000,000 journeys takes half an hour).
set -euo pipefail
cd "$(dirname "$0")/.."

JOURNEYS=${JOURNEYS:-1000000}
IMPORTED=${IMPORTED:-100000}
BACKENDS=${BACKENDS:-sqlite postgres}
RUNS=${RUNS:-5}
REUSE_PG=${REUSE_PG:-}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PG_DB=bench_reports
CACHE=${BENCH_CACHE:-bench-results/cache}
PORT=18131
OUT=bench-results/reports-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT" "$CACHE"

for tool in curl hyperfine psql python3 /usr/bin/time; do
    command -v "$tool" > /dev/null || { echo "$tool is needed (see the header of $0)" >&2; exit 1; }
done
python3 -c "import duckdb" || { echo "pip install duckdb (see the header of $0)" >&2; exit 1; }

cargo build --release --quiet --bin care-hub
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/care-hub
export CARE_HUB_JWT_SECRET=benchmark-secret-not-for-production-0123456789
export CARE_HUB_LOG=warn
# A report over millions of rows is one request; give it room (the default is 30 s).
export CARE_HUB_REQUEST_TIMEOUT_SECS=600
echo "commit $(git rev-parse --short HEAD); $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"

SCRATCH=$(mktemp -d /tmp/bench-reports.XXXXXX)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2> /dev/null || true
    rm -rf "$SCRATCH"
    [ -n "$REUSE_PG" ] || psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" 2> /dev/null || true
}
trap cleanup EXIT

pg_url() { echo "${PG_BASE%/*}/$1"; }

wait_ready() {
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && return 0
        sleep 0.5
    done
    echo "the server did not become ready" >&2
    return 1
}

# The service's start-up work (contact schedules for records without one, the due scan) runs in
# the background: reports are timed once the server has used under 2% of a core for 3 s running.
wait_idle() {
    local pid=$1 prev now quiet=0 busy=0
    prev=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    while [ "$quiet" -lt 3 ] && [ "$busy" -lt 1800 ]; do
        sleep 1
        now=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        if [ $((now - prev)) -le 2 ]; then quiet=$((quiet + 1)); else quiet=0; busy=$((busy + 1)); fi
        prev=$now
    done
    echo "server idle after ${busy} s of start-up work"
}

REPORTS=(
    "flow /api/v1/reports/attrition/flow"
    "rates /api/v1/reports/attrition/rates"
    "timeliness /api/v1/reports/timeliness"
    "trials /api/v1/reports/trials"
    # Contacts, obligations and service issues are not in the extract: no DuckDB figure.
    "compliance /api/v1/reports/compliance"
)

base=$CACHE/sqlite-$IMPORTED/care-hub.db
if [ ! -f "$base" ]; then
    mkdir -p "$CACHE/sqlite-$IMPORTED"
    CARE_HUB_DATABASE_URL="sqlite://$base?mode=rwc" CARE_HUB_DATA_DIR=$CACHE/sqlite-$IMPORTED \
        /usr/bin/time -f "%e s, %M KB" -o "$OUT/load-sqlite-$IMPORTED.time" \
        "$BIN" generate --victims "$IMPORTED" --out "$SCRATCH/data" --load > "$OUT/load-sqlite-$IMPORTED.out" 2>&1
    rm -rf "$SCRATCH/data"
    echo "== imported $IMPORTED generated victims into SQLite: $(cat "$OUT/load-sqlite-$IMPORTED.time")"
    # Contact schedules (an import gives none; serve would make them at start) and the obligations
    # and service issues the due scan raises, so the copies below carry them too.
    CARE_HUB_DATABASE_URL="sqlite://$base?mode=rwc" CARE_HUB_DATA_DIR=$CACHE/sqlite-$IMPORTED \
        /usr/bin/time -f "%e s" -o "$OUT/schedules-sqlite-$IMPORTED.time" \
        "$BIN" reminders run --scan-only > "$OUT/schedules-sqlite-$IMPORTED.out" 2>&1
    echo "== contact schedules and the due scan: $(cat "$OUT/schedules-sqlite-$IMPORTED.time")"
fi

for n in $JOURNEYS; do
    db=$CACHE/sqlite-$n/care-hub.db
    if [ ! -f "$db" ]; then
        mkdir -p "$CACHE/sqlite-$n"
        /usr/bin/time -f "%e s" -o "$OUT/replicate-$n.time" \
            python3 scripts/bench_replicate.py "$base" "$db" $((n / IMPORTED)) 2> "$OUT/replicate-$n.out"
        echo "== $n journeys: the $IMPORTED imported, copied $((n / IMPORTED)) times: $(cat "$OUT/replicate-$n.time")"
    fi
    for backend in $BACKENDS; do
        tag=$backend-$n
        mkdir -p "$OUT/$tag"
        case $backend in
            sqlite)
                url="sqlite://$db?mode=rwc"
                ;;
            postgres)
                url=$(pg_url $PG_DB)
                if [ -n "$REUSE_PG" ] && psql -X -q -d "$url" -c "SELECT 1" > /dev/null 2>&1; then
                    have=$(psql -X -q -At -d "$url" -c "SELECT count(*) FROM journeys")
                    [ "$have" = "$n" ] || { echo "$PG_DB holds $have journeys, not $n" >&2; exit 1; }
                    CARE_HUB_DATABASE_URL=$url "$BIN" migrate > /dev/null
                    echo "== reused $PG_DB with its $n journeys"
                else
                    psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
                    CARE_HUB_DATABASE_URL=$url "$BIN" migrate > /dev/null
                    /usr/bin/time -f "%e s" -o "$OUT/load-$tag.time" python3 scripts/bench_sqlite_to_pg.py "$db" "$url" \
                        2> "$OUT/load-$tag.out"
                    echo "== copied $n journeys into PostgreSQL: $(cat "$OUT/load-$tag.time")"
                fi
                ;;
        esac
        CARE_HUB_DATABASE_URL=$url CARE_HUB_DATA_DIR=$CACHE/sqlite-$n CARE_HUB_BIND=127.0.0.1:$PORT \
            "$BIN" serve > "$OUT/$tag/serve.log" 2>&1 &
        SERVER=$!
        started=$(date +%s.%N)
        wait_ready
        token=$("$BIN" token --sub bench-analyst --role analyst --ttl-minutes 240)
        auth="Authorization: Bearer $token"
        # The baseline: the same curl call to an endpoint that does nothing (curl's own start and
        # the HTTP round trip, several ms here), so the summary can also give each report's time
        # net of it beside DuckDB's, which runs inside its process.
        args=(-n "baseline" "curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz")
        for r in "${REPORTS[@]}"; do
            name=${r%% *}
            path=${r#* }
            curl -sf -H "$auth" "http://127.0.0.1:$PORT$path" > "$OUT/$tag/$name.json"
            args+=(-n "$name" "curl -sf -o /dev/null -H '$auth' http://127.0.0.1:$PORT$path")
        done
        # The in-memory journeys are loaded at start; the first answer waits for them.
        echo "serve start to the first answers: $(python3 -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 1))" "$(date +%s.%N)" "$started") s" | tee "$OUT/$tag/startup.txt"
        if curl -sf -o /dev/null -H "$auth" "http://127.0.0.1:$PORT/api/v1/reports/board-pack?format=html"; then
            args+=(-n "board-pack" "curl -sf -o /dev/null -H '$auth' 'http://127.0.0.1:$PORT/api/v1/reports/board-pack?format=html'")
        fi
        wait_idle "$SERVER" | tee -a "$OUT/load.txt"
        echo "load before timing $tag: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
        hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$OUT/$tag/hyperfine.json" "${args[@]}" \
            > "$OUT/$tag/hyperfine.out" 2>&1 || hyperfine --style basic --warmup 1 --runs "$RUNS" \
            --export-json "$OUT/$tag/hyperfine.json" "${args[@]}" > "$OUT/$tag/hyperfine.out" 2>&1
        /usr/bin/time -f "%e" -o "$OUT/$tag/extract.time" \
            curl -sf -H "$auth" "http://127.0.0.1:$PORT/api/v1/exports/linked-journeys?format=parquet" \
            -o "$SCRATCH/extract-$tag.parquet"
        echo "$(stat -c %s "$SCRATCH/extract-$tag.parquet")" > "$OUT/$tag/extract.bytes"
        ps -o rss= -p "$SERVER" > "$OUT/$tag/serve-rss.kb" || true
        kill "$SERVER"
        wait "$SERVER" 2> /dev/null || true
        SERVER=
        echo "load before DuckDB $tag: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
        python3 scripts/bench_reports_duckdb.py "$SCRATCH/extract-$tag.parquet" "$OUT/$tag" "$RUNS" > "$OUT/$tag/duckdb.json"
        rm -f "$SCRATCH/extract-$tag.parquet"
        if [ "$backend" = postgres ] && [ -z "$REUSE_PG" ]; then
            psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB"
        fi
    done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"

python3 - "$OUT" << 'EOF' | tee "$OUT/summary.md"
import json, os, sys
out = sys.argv[1]
print("| journeys | backend | report | API median | net of baseline | DuckDB median | API ÷ DuckDB | net ÷ DuckDB | figures agree |")
print("|---:|---|---|---:|---:|---:|---:|---:|---|")
for tag in sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))):
    backend, n = tag.split("-")
    h = json.load(open(os.path.join(out, tag, "hyperfine.json")))["results"]
    d = json.load(open(os.path.join(out, tag, "duckdb.json")))
    base = next((r["median"] for r in h if r["command"] == "baseline"), 0.0)
    for r in h:
        name = r["command"]
        duck = d.get(name)
        net = r["median"] - base
        ratio = f"{r['median'] / duck['median_s']:.1f}×" if duck else "–"
        net_ratio = f"{net / duck['median_s']:.1f}×" if duck else "–"
        dm = f"{duck['median_s'] * 1000:.1f} ms" if duck else "–"
        agree = ("yes" if not duck["disagreements"] else "NO: " + "; ".join(duck["disagreements"][:3])) if duck else "–"
        print(f"| {int(n):,} | {backend} | {name} | {r['median'] * 1000:.1f} ms | {net * 1000:.1f} ms | {dm} | {ratio} | {net_ratio} | {agree} |")
    extract = open(os.path.join(out, tag, "extract.time")).read().strip()
    size = int(open(os.path.join(out, tag, "extract.bytes")).read())
    print(f"| {int(n):,} | {backend} | linked extract (Parquet, {size / 1e6:.0f} MB) | {float(extract) * 1000:.0f} ms | | | | | |")
EOF
