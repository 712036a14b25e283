#!/usr/bin/env bash
# Reminders (BENCHMARKS.md, "Reminders: the due scan and the dispatcher"), on SQLite and PostgreSQL:
#  1. the due scan over VICTIMS open victims: the two due-set SELECTs scan.rs issues, timed inside
#     the database (plans saved), the backfill check every run makes first, and the whole
#     `care-hub reminders run --scan-only` with hyperfine (the floor of `care-hub migrate`, the first
#     run, which queues, the steady state, and the day's digest run);
#  2. dispatch throughput: EMAILS queued outbox rows sent by `care-hub reminders run --dispatch-only`
#     to a local SMTP sink (scripts/smtp_sink.py), at each CARE_HUB_DISPATCH_CONCURRENCY in
#     CONCURRENCY, against the sink's own capacity (Python smtplib over one connection) measured
#     in the same run.
# Data and helpers: scripts/bench_reminders.py. Results: bench-results/reminders-<time>/ (plans,
# every command's output, results.jsonl, summary.md with medians).
#   scripts/bench-reminders.sh                    # 1,000,000 victims, 5 runs, 2,000 emails, 8 16 32
#   VICTIMS=100000 RUNS=3 EMAILS=1000 scripts/bench-reminders.sh
#   BACKENDS=sqlite CONCURRENCY=8 scripts/bench-reminders.sh
# Needs python3 (3.11+), psql and hyperfine (Debian: apt-get install hyperfine postgresql-client).
# PostgreSQL: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) names a server
# where the scratch database BENCH_POSTGRES_DB (default bench_reminders) is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

VICTIMS=${VICTIMS:-1000000}
RUNS=${RUNS:-5}
EMAILS=${EMAILS:-2000}
CONCURRENCY=${CONCURRENCY:-8 16 32}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PG_DB=${BENCH_POSTGRES_DB:-bench_reminders}
# The backfill before every scan (`NOT IN (SELECT victim_id FROM contact_schedule)`) is planned as
# a plain, unhashed subplan once its hash table would outgrow work_mem x hash_mem_multiplier (at
# the default 4MB x 2: between 200,000 and 230,000 schedule rows), which is quadratic and does not
# finish at 1,000,000; the scratch database gets this much work_mem so the scan can be timed.
PG_WORK_MEM=${PG_WORK_MEM:-64MB}
# A scan that hangs fails the benchmark instead of stalling it.
SCAN_TIMEOUT=${SCAN_TIMEOUT:-600}
OUT=bench-results/reminders-$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results.jsonl
mkdir -p "$OUT"

for tool in hyperfine psql python3; do
    command -v "$tool" > /dev/null || { echo "$tool is needed (see the header of $0)" >&2; exit 1; }
done

cargo build --release --quiet --bin care-hub
BIN=target/release/care-hub
H="python3 scripts/bench_reminders.py"
export CARE_HUB_JWT_SECRET=benchmark-secret-not-for-production-0123456789
export CARE_HUB_LOG=warn
# Whatever the hour, the first scan queues the day's digests (the default is from 07:00 London).
export CARE_HUB_DIGEST_AT=00:00
TODAY=$($H today)
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"

SINK=""
SCRATCH=""
cleanup() {
    [ -n "$SINK" ] && kill "$SINK" 2> /dev/null || true
    [ -n "$SCRATCH" ] && rm -rf "$SCRATCH"
    psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" 2> /dev/null || true
}
trap cleanup EXIT

elapsed() { python3 -c "import time,sys; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }

# The SMTP sink, on a free loopback port.
python3 scripts/smtp_sink.py serve --port-file "$OUT/smtp.port" > "$OUT/smtp-sink.json" &
SINK=$!
for _ in $(seq 1 50); do [ -s "$OUT/smtp.port" ] && break; sleep 0.1; done
SMTP_PORT=$(cat "$OUT/smtp.port")
SENT_TOTAL=200

# Baseline: what the sink takes from a tight Python smtplib loop over one connection.
python3 scripts/smtp_sink.py blast --port "$SMTP_PORT" --count 200 > /dev/null  # warm-up
for i in $(seq 1 "$RUNS"); do
    r=$(python3 scripts/smtp_sink.py blast --port "$SMTP_PORT" --count "$EMAILS")
    echo "smtp baseline run $i: $r"
    secs=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
    $H json "$RESULTS" smtp-baseline "{\"unit\": \"s\", \"values\": [$secs], \"count\": $EMAILS}"
    SENT_TOTAL=$((SENT_TOTAL + EMAILS))
done

scan_benchmarks() {  # backend, command that deletes the day's digest mark
    local b=$1 forget_digest=$2
    # The floor: start, connect, check migrations (every `reminders run` does this first).
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/$b-floor.json" "$BIN migrate > /dev/null"
    $H hyperfine "$RESULTS" "$b-floor" "$OUT/$b-floor.json"
    # First run: queues the escalations and the day's digests.
    hyperfine --runs 1 --export-json "$OUT/$b-scan-first.json" \
        "timeout $SCAN_TIMEOUT $BIN reminders run --scan-only > $OUT/$b-scan-first.out"
    $H hyperfine "$RESULTS" "$b-scan-first" "$OUT/$b-scan-first.json"
    echo "$b first scan: $(cat "$OUT/$b-scan-first.out")"
    # Steady state: everything is queued already; the scan re-reads the overdue set only.
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/$b-scan-steady.json" \
        "timeout $SCAN_TIMEOUT $BIN reminders run --scan-only > $OUT/$b-scan-steady.out"
    $H hyperfine "$RESULTS" "$b-scan-steady" "$OUT/$b-scan-steady.json"
    echo "$b steady scan: $(cat "$OUT/$b-scan-steady.out")"
    # The day's first scan after the digest time: the digest set is read and every digest built
    # again (the outbox keeps the copies already queued, so nothing new is sent).
    hyperfine --runs "$RUNS" --prepare "$forget_digest" --export-json "$OUT/$b-scan-digest.json" \
        "timeout $SCAN_TIMEOUT $BIN reminders run --scan-only > $OUT/$b-scan-digest.out"
    $H hyperfine "$RESULTS" "$b-scan-digest" "$OUT/$b-scan-digest.json"
    echo "$b digest scan: $(cat "$OUT/$b-scan-digest.out")"
}

dispatch_benchmarks() {  # backend, requeue command...
    local b=$1; shift
    for c in $CONCURRENCY; do
        for i in $(seq 1 "$RUNS"); do
            "$@" "c$c-$i"
            CARE_HUB_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" CARE_HUB_DISPATCH_CONCURRENCY=$c \
                $H timed "$RESULTS" "$b-dispatch-c$c" "$EMAILS" "$OUT/$b-dispatch-c$c-$i.out" \
                -- "$BIN" reminders run --dispatch-only
            SENT_TOTAL=$((SENT_TOTAL + EMAILS))
        done
    done
}

for backend in $BACKENDS; do
    echo "== $backend: $VICTIMS victims, today $TODAY"
    if [ "$backend" = sqlite ]; then
        SCRATCH=$(mktemp -d)
        db=$SCRATCH/bench.db
        export CARE_HUB_DATABASE_URL="sqlite://$db?mode=rwc" CARE_HUB_DATA_DIR=$SCRATCH
        "$BIN" migrate > /dev/null
        t=$(date +%s.%N)
        $H sqlite-gen "$db" "$VICTIMS" "$TODAY"
        echo "sqlite data generated in $(elapsed "$t") s ($(du -sh "$db" | cut -f1))"
        $H sqlite-due "$db" "$TODAY" "$RUNS" "$OUT" "$RESULTS"
        scan_benchmarks sqlite "$H sqlite-exec $db 'DELETE FROM reminder_days'"
        sqlite3 "$db" "SELECT 'sqlite outbox after the scans: ' || group_concat(kind || ' ' || n, ', ') FROM (SELECT kind, count(*) n FROM outbox GROUP BY kind)" 2> /dev/null || true
        sqlite_requeue() { $H sqlite-queue "$db" "$EMAILS" "$1"; }
        dispatch_benchmarks sqlite sqlite_requeue
        rm -rf "$SCRATCH"; SCRATCH=""
    else
        psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
        url="${PG_BASE%/*}/$PG_DB"
        export CARE_HUB_DATABASE_URL=$url
        unset CARE_HUB_DATA_DIR
        "$BIN" migrate > /dev/null
        t=$(date +%s.%N)
        $H pg-gen-sql "$VICTIMS" "$TODAY" | psql -X -q "$url"
        echo "postgres data generated in $(elapsed "$t") s ($(psql -X -Atc "SELECT pg_size_pretty(pg_database_size('$PG_DB'))" "$url"))"
        # The due-set SELECTs as the service sends them (bound parameters, a custom plan per run as
        # on a fresh connection), one warm-up, then RUNS timed EXPLAIN (ANALYZE, BUFFERS).
        {
            $H pg-due-sql "$TODAY" 2> "$OUT/pg-bounds.txt"
            echo "SET plan_cache_mode = force_custom_plan;"
            while IFS== read -r name bound; do
                echo "\\o /dev/null"
                echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE $name('active', '$bound');"
                for i in $(seq 1 "$RUNS"); do
                    echo "\\o $OUT/postgres-$name-plan-$i.txt"
                    echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE $name('active', '$bound');"
                done
            done < "$OUT/pg-bounds.txt"
        } | psql -X -q "$url"
        for name in escalation digest; do
            $H pg-parse-explain "$RESULTS" "postgres-due-$name" "$OUT"/postgres-$name-plan-*.txt
        done
        # The backfill check: its plan at the server's work_mem, then timed at PG_WORK_MEM.
        {
            $H pg-due-sql "$TODAY" 2> /dev/null
            echo "SET plan_cache_mode = force_custom_plan;"
            echo "SELECT 'work_mem ' || current_setting('work_mem');"
            echo "EXPLAIN EXECUTE backfill(500);"
            echo "SET work_mem = '$PG_WORK_MEM';"
            echo "SELECT 'work_mem ' || current_setting('work_mem');"
            echo "EXPLAIN EXECUTE backfill(500);"
            for i in $(seq 1 "$RUNS"); do
                echo "\\o $OUT/postgres-backfill-plan-$i.txt"
                echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE backfill(500);"
            done
        } | psql -X -q "$url" > "$OUT/postgres-backfill-plans.txt"
        $H pg-parse-explain "$RESULTS" postgres-backfill "$OUT"/postgres-backfill-plan-*.txt
        psql -X -q "$url" -c "ALTER DATABASE $PG_DB SET work_mem = '$PG_WORK_MEM'"
        scan_benchmarks postgres "psql -X -q $url -c 'DELETE FROM reminder_days'"
        psql -X -Atc "SELECT 'postgres outbox after the scans: ' || string_agg(kind || ' ' || n, ', ') FROM (SELECT kind, count(*) n FROM outbox GROUP BY kind) k" "$url"
        pg_requeue() { $H pg-queue-sql "$EMAILS" "$1" | psql -X -q "$url"; }
        dispatch_benchmarks postgres pg_requeue
        psql -X -q "$PG_BASE" -c "DROP DATABASE IF EXISTS $PG_DB"
    fi
done

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
kill "$SINK"; wait "$SINK" || true; SINK=""
echo "SMTP sink: $(cat "$OUT/smtp-sink.json") (expected $SENT_TOTAL messages)"

echo
echo "Results in $OUT ($VICTIMS victims, $RUNS runs, $EMAILS emails per dispatch run, $(nproc) cores):"
$H summary "$RESULTS" | tee "$OUT/summary.md"
