#!/usr/bin/env python3
"""DuckDB computing the attrition reports' figures over the linked extract (Parquet), timed, and
checked against what the API answered (scripts/bench-reports.sh; BENCHMARKS.md, "Reports").

  bench_reports_duckdb.py EXTRACT.parquet API_DIR RUNS > duckdb.json

API_DIR holds the API's answers as flow.json, rates.json, timeliness.json, trials.json. Each
report is computed the way the service computes it (group counts and whole-day histograms in
SQL, nearest-rank quantiles of the histogram), from the Parquet file on every run (no table kept
between runs), and its median wall time over RUNS runs is reported with the figures.
"""
import json
import math
import statistics
import sys
import time

import duckdb

INTERVALS = [
    ("report_to_arrest", "reported_at", "arrested_at"),
    ("cps_referral_to_decision", "cps_referred_at", "decision_at"),
    ("charge_to_first_hearing", "charged_at", "first_hearing_at"),
    ("charge_to_trial", "charged_at", "trial_started_at"),
    ("trial_listed_to_outcome", "trial_listed_at", "court_outcome_at"),
]
WEEK_BUCKETS = [0, 1, 2, 4, 8, 13, 26, 52]


def days(a, b):
    return f"CAST(floor((epoch({b}) - epoch({a})) / 86400.0) AS BIGINT)"


def flow(con, src):
    rows = con.execute(
        f"""WITH p AS (SELECT string_split(flow_path, '>') AS s, count(*) AS n FROM {src}
                       WHERE flow_path IS NOT NULL GROUP BY flow_path)
            SELECT s[i] AS source, s[i + 1] AS target, sum(n) AS n
            FROM p, range(1, len(s)) AS r(i) GROUP BY ALL"""
    ).fetchall()
    total = con.execute(f"SELECT count(*) FROM {src} WHERE flow_path IS NOT NULL").fetchone()[0]
    return {"journeys": total, "links": {f"{s}>{t}": n for s, t, n in rows}}


def rates(con, src):
    rows = con.execute(
        f"""SELECT offence_group, count(*), count_if(withdrawal_phase = 'pre_charge'),
                   count(charged_at), count_if(withdrawal_phase = 'post_charge')
            FROM {src} GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    hist = con.execute(
        f"""SELECT {days('reported_at', 'withdrawn_at')} AS d, count(*) FROM {src}
            WHERE withdrawn AND withdrawn_at >= reported_at GROUP BY 1"""
    ).fetchall()
    weeks = [0] * len(WEEK_BUCKETS)
    for d, n in hist:
        week = max(d or 0, 0) // 7
        i = max(i for i, b in enumerate(WEEK_BUCKETS) if week >= b)
        weeks[i] += n
    return {"rows": {r[0]: list(r[1:]) for r in rows}, "weeks": weeks}


def nearest_rank(hist, total, q):
    rank = max(math.ceil(q * total), 1)
    seen = 0
    for value, n in hist:
        seen += n
        if seen >= rank:
            return value
    return None


def timeliness(con, src):
    out = {}
    for name, a, b in INTERVALS:
        hist = con.execute(
            f"SELECT greatest({days(a, b)}, 0) AS d, count(*) FROM {src} WHERE {b} >= {a} GROUP BY 1 ORDER BY 1"
        ).fetchall()
        total = sum(n for _, n in hist)
        out[name] = [total, nearest_rank(hist, total, 0.5), nearest_rank(hist, total, 0.9)]
    return out


def trials(con, src):
    r = con.execute(
        f"""SELECT count(*), count_if(trial_result = 'effective'), count_if(trial_result = 'cracked'),
                   sum(ineffective_count) FROM {src} WHERE trial_listed_at IS NOT NULL"""
    ).fetchone()
    return list(r)


REPORTS = {"flow": flow, "rates": rates, "timeliness": timeliness, "trials": trials}


def agrees(name, ours, api):
    """The API's unsuppressed figures equal DuckDB's (a suppressed one is null in the API)."""
    bad = []

    def same(what, a, b):
        if b is not None and a != b:
            bad.append(f"{what}: duckdb {a} api {b}")

    if name == "flow":
        same("journeys", ours["journeys"], api["journeys"])
        for link in api["links"]:
            same(f"link {link['source']}>{link['target']}", ours["links"].get(f"{link['source']}>{link['target']}", 0), link["journeys"])
    elif name == "rates":
        for row in api["rows"]:
            mine = ours["rows"].get(row["category"], [0, 0, 0, 0])
            same(f"{row['category']} journeys", mine[0], row["pre_charge"]["denominator"])
            same(f"{row['category']} pre", mine[1], row["pre_charge"]["numerator"])
            same(f"{row['category']} charged", mine[2], row["post_charge"]["denominator"])
            same(f"{row['category']} post", mine[3], row["post_charge"]["numerator"])
        for bucket, n in zip(api["weeks_to_withdrawal"], ours["weeks"]):
            same(f"week {bucket['from_week']}", n, bucket["withdrawals"])
    elif name == "timeliness":
        for i in api["intervals"]:
            total, median, p90 = ours[i["measure"]]
            same(f"{i['measure']} journeys", total, i["journeys"])
            same(f"{i['measure']} median", median, i["median_days"])
            same(f"{i['measure']} p90", p90, i["p90_days"])
    elif name == "trials":
        journeys, effective, cracked, ineffective = ours
        same("journeys", journeys, api["journeys_with_trial"])
        same("effective", effective, api["effective"])
        same("cracked", cracked, api["cracked"])
        same("ineffective", ineffective, api["ineffective"])
    return bad


def main():
    parquet, api_dir, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    con = duckdb.connect()
    src = f"read_parquet('{parquet}')"
    out = {"duckdb": duckdb.__version__, "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}
    for name, fn in REPORTS.items():
        times = []
        for _ in range(runs + 1):  # the first run warms the file cache and is not counted
            start = time.perf_counter()
            figures = fn(con, src)
            times.append(time.perf_counter() - start)
        with open(f"{api_dir}/{name}.json") as f:
            api = json.load(f)
        out[name] = {"median_s": statistics.median(times[1:]), "runs_s": times[1:], "disagreements": agrees(name, figures, api)}
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
