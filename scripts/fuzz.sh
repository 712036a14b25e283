#!/usr/bin/env bash
# Long runs of the parser property tests (issue 8; BENCHMARKS.md records the last result): the
# import file reader and its intake and event row checks, the hub reference parser, agency
# reference normalisation, the Authorization header and token verification. Arbitrary bytes and
# text must give a value or a reason (a 401 for tokens), never a panic. `cargo test` runs the same
# properties with 256 cases each; this runs many more, within a time bound, and also the datetime
# round trips on SQLite and PostgreSQL.
#   scripts/fuzz.sh                               # 100,000 cases per property, at most 30 minutes
#   CASES=1000000 MAX_MINUTES=240 scripts/fuzz.sh
# A failure prints the shrunk input and proptest stores it under proptest-regressions/ (commit it:
# it is replayed first on every later run).
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=${CASES:-100000}
MAX_MINUTES=${MAX_MINUTES:-30}
export CARE_HUB_TEST_POSTGRES_URL="${CARE_HUB_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

cargo test --quiet --lib --no-run
cargo test --quiet --test api --no-run
started=$(date +%s)
status=0
# Parsers: PROPTEST_CASES each. Datetime round trips go through the database, so a tenth of that.
PROPTEST_CASES=$CASES timeout "${MAX_MINUTES}m" cargo test --quiet --lib fuzz_ || status=$?
left=$((MAX_MINUTES * 60 - $(date +%s) + started))
if [ "$status" -eq 0 ] && [ "$left" -gt 0 ]; then
    PROPTEST_CASES=$((CASES / 10)) timeout "$left" cargo test --quiet --test api datetimes:: || status=$?
fi
took=$(($(date +%s) - started))
case $status in
    0) echo "fuzz: no failure; $CASES cases per parser property, $((CASES / 10)) per datetime property, in ${took}s" ;;
    124) echo "fuzz: stopped at the ${MAX_MINUTES}-minute bound after ${took}s with no failure so far"; status=0 ;;
    *) echo "fuzz: FAILED (exit $status) after ${took}s" ;;
esac
exit "$status"
