#!/usr/bin/env bash
# Import throughput and peak memory (BENCHMARKS.md, "Import"), on SQLite and PostgreSQL, beside
# the database's own bulk load of the same rows in the same run:
#  1. `care-hub generate` writes linked extracts with about EVENTS agency events;
#  2. into a fresh database: the generator's agencies, then `care-hub import` of the police intake
#     (victims and cases, timed apart), then of the police, CPS and court event files, each run
#     under /usr/bin/time for its wall time and peak resident memory;
#  3. the same three event files loaded by `sqlite3 .import` / psql `\copy` (COPY FROM STDIN) into
#     a plain table of the files' columns (typed times on PostgreSQL), in a fresh database.
# Results: bench-results/import-<time>/ (every command's output, results.jsonl, summary.md).
#   scripts/bench-import.sh                            # 1,000,000 and 10,000,000 events
#   EVENTS=200000 BACKENDS=sqlite scripts/bench-import.sh
# Needs sqlite3, psql and /usr/bin/time (Debian: apt-get install sqlite3 postgresql-client time).
# PostgreSQL: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) names a server
# where the scratch databases bench_import and bench_import_copy are created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-1000000 10000000}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PG_DB=bench_import
PG_COPY_DB=bench_import_copy
# Events per victim the generator writes (DOMAIN §9 calibration gives about 6.2).
PER_VICTIM=${PER_VICTIM:-6.17}
OUT=bench-results/import-$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results.jsonl
mkdir -p "$OUT"

for tool in sqlite3 psql /usr/bin/time; do
    command -v "$tool" > /dev/null || { echo "$tool is needed (see the header of $0)" >&2; exit 1; }
done

cargo build --release --quiet --bin care-hub
BIN=$PWD/target/release/care-hub
export CARE_HUB_JWT_SECRET=benchmark-secret-not-for-production-0123456789
export CARE_HUB_LOG=warn
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"

SCRATCH=$(mktemp -d /tmp/bench-import.XXXXXX)
cleanup() {
    rm -rf "$SCRATCH"
    psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" -c "DROP DATABASE IF EXISTS $PG_COPY_DB" \
        2> /dev/null || true
}
trap cleanup EXIT

pg_url() { echo "${PG_BASE%/*}/$1"; }
fresh_pg() {
    psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
}

# timed NAME COMMAND...: runs COMMAND under /usr/bin/time; appends "NAME seconds kilobytes".
timed() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$SCRATCH/time" "$@" > "$OUT/$name.out" 2>&1
    echo "$name $(cat "$SCRATCH/time")" | tee -a "$OUT/times.txt"
}

EVENT_FILES=("police-events.csv GEN-POLICE" "cps-events.csv GEN-CPS" "court-events.csv GEN-COURT")
COLUMNS="source_event_id, event_type, occurred_at, received_at, outcome_code, ref_agency, ref_type, ref_value, victim_key, reason_code"

for events in $EVENTS; do
    victims=$(python3 -c "import math; print(math.ceil($events / $PER_VICTIM))")
    data=$SCRATCH/data-$events
    "$BIN" generate --victims "$victims" --out "$data" > "$OUT/generate-$events.out"
    rows=0
    for f in police-events.csv cps-events.csv court-events.csv; do
        rows=$((rows + $(wc -l < "$data/$f") - 1))
    done
    echo "== $events events wanted: $victims victims, $rows event rows"

    for backend in $BACKENDS; do
        tag=$backend-$events
        case $backend in
            sqlite)
                rm -rf "$SCRATCH/db" && mkdir "$SCRATCH/db"
                export CARE_HUB_DATABASE_URL="sqlite://$SCRATCH/db/care-hub.db?mode=rwc"
                ;;
            postgres)
                fresh_pg $PG_DB
                export CARE_HUB_DATABASE_URL=$(pg_url $PG_DB)
                ;;
        esac
        # The generator's agencies and team (an empty generated set, loaded).
        "$BIN" generate --victims 0 --out "$SCRATCH/empty" --load > /dev/null 2>&1
        timed "$tag-intake" "$BIN" import --agency GEN-POLICE --format csv "$data/police-intake.csv"
        : > "$SCRATCH/event-times"
        for entry in "${EVENT_FILES[@]}"; do
            read -r file agency <<< "$entry"
            timed "$tag-${file%.csv}" "$BIN" import --agency "$agency" --format csv "$data/$file"
            cat "$SCRATCH/time" >> "$SCRATCH/event-times"
        done
        hub=$(awk '{s += $1; if ($2 > m) m = $2} END {print s, m}' "$SCRATCH/event-times")

        case $backend in
            sqlite)
                rm -f "$SCRATCH/copy.db"
                {
                    echo "CREATE TABLE raw_events($COLUMNS);"
                    echo ".mode csv"
                    for f in police-events.csv cps-events.csv court-events.csv; do
                        echo ".import --skip 1 $data/$f raw_events"
                    done
                } > "$SCRATCH/load.sql"
                timed "$tag-sqlite3-import" sqlite3 "$SCRATCH/copy.db" ".read $SCRATCH/load.sql"
                ;;
            postgres)
                fresh_pg $PG_COPY_DB
                psql -X -q "$(pg_url $PG_COPY_DB)" -c "CREATE TABLE raw_events(source_event_id text, event_type text,
                    occurred_at timestamptz, received_at timestamptz, outcome_code text, ref_agency text,
                    ref_type text, ref_value text, victim_key text, reason_code text)"
                {
                    for f in police-events.csv cps-events.csv court-events.csv; do
                        echo "\\copy raw_events FROM '$data/$f' WITH (FORMAT csv, HEADER true)"
                    done
                } > "$SCRATCH/load.sql"
                timed "$tag-copy" psql -X -q -v ON_ERROR_STOP=1 "$(pg_url $PG_COPY_DB)" -f "$SCRATCH/load.sql"
                ;;
        esac
        base=$(cat "$SCRATCH/time")
        intake=$(grep "^$tag-intake " "$OUT/times.txt" | tail -1 | cut -d' ' -f2-)
        python3 - "$backend" "$events" "$victims" "$rows" "$intake" "$hub" "$base" >> "$RESULTS" << 'EOF'
import json, sys
backend, events, victims, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
intake_s, intake_kb = map(float, sys.argv[5].split())
hub_s, hub_kb = map(float, sys.argv[6].split())
base_s, base_kb = map(float, sys.argv[7].split())
print(json.dumps({
    "backend": backend, "events_wanted": events, "victims": victims, "event_rows": rows,
    "intake_s": intake_s, "intake_rows_per_s": round(victims / intake_s), "intake_peak_mb": round(intake_kb / 1024),
    "import_s": hub_s, "import_events_per_s": round(rows / hub_s), "import_peak_mb": round(hub_kb / 1024),
    "bulk_load_s": base_s, "bulk_load_rows_per_s": round(rows / base_s),
    "ratio_to_bulk_load": round(base_s / hub_s, 3),
}))
EOF
        tail -1 "$RESULTS"
        if [ "$backend" = postgres ]; then
            psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" -c "DROP DATABASE IF EXISTS $PG_COPY_DB"
        fi
    done
    rm -rf "$data"
done

python3 - "$RESULTS" > "$OUT/summary.md" << 'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| backend | event rows | care-hub import | events/s | peak RSS | bulk load | rows/s | care-hub ÷ bulk load | intake (victims/s, peak) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['backend']} | {r['event_rows']:,} | {r['import_s']:.1f} s | {r['import_events_per_s']:,} | "
          f"{r['import_peak_mb']} MB | {r['bulk_load_s']:.1f} s | {r['bulk_load_rows_per_s']:,} | "
          f"{r['ratio_to_bulk_load']:.1%} | {r['intake_rows_per_s']:,}/s, {r['intake_peak_mb']} MB |")
EOF
cat "$OUT/summary.md"
