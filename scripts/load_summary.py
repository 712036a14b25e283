#!/usr/bin/env python3
"""Summarise scripts/bench-load.sh results: medians over runs per backend and concurrency, as Markdown.

Usage: load_summary.py RESULTS_JSONL
       load_summary.py --one NOTE < ONE_RUN_LINE     (one line of progress)
Each run is one line from `loadgen run`; lines with `server_log` carry the server log checks.
Errors are summed over runs; every other figure is the median of the runs.
"""
import json
import statistics
import sys
from collections import defaultdict

OPS = ["search", "read", "due_work", "update", "add_contact", "log_issue"]


def med(values):
    return statistics.median(values) if values else float("nan")


def one(note):
    r = json.loads(sys.stdin.read())
    print(
        f"{r['label']} c={r['concurrency']} {note}: {r['throughput_rps']:.0f} req/s, "
        f"reads p50/p99 {r['reads']['p50_ms']}/{r['reads']['p99_ms']} ms, "
        f"writes p50/p99 {r['writes']['p50_ms']}/{r['writes']['p99_ms']} ms, "
        f"errors {r['errors']} {r['errors_by_status']}, load {r['loadavg']}"
    )


def main():
    if sys.argv[1] == "--one":
        return one(sys.argv[2])
    runs, logs = defaultdict(list), {}
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if "server_log" in r:
                logs[r["label"]] = r["server_log"]
            else:
                runs[(r["label"], r["concurrency"])].append(r)

    print("| backend | clients | runs | req/s | reads p50 | reads p99 | writes p50 | writes p99 | errors (by status) | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for (label, c), rs in sorted(runs.items(), key=lambda kv: (kv[0][0] != "postgres", kv[0][1])):
        errors = sum(r["errors"] for r in rs)
        by_status = defaultdict(int)
        for r in rs:
            for s, n in r["errors_by_status"].items():
                by_status[s] += n
        detail = f" ({', '.join(f'{s}: {n}' for s, n in sorted(by_status.items()))})" if by_status else ""
        print(
            f"| {label} | {c} | {len(rs)} | {med([r['throughput_rps'] for r in rs]):,.0f} "
            f"| {med([r['reads']['p50_ms'] for r in rs]):.1f} | {med([r['reads']['p99_ms'] for r in rs]):.1f} "
            f"| {med([r['writes']['p50_ms'] for r in rs]):.1f} | {med([r['writes']['p99_ms'] for r in rs]):.1f} "
            f"| {errors}{detail} | {', '.join(r['loadavg'].split()[0] for r in rs if r.get('loadavg'))} |"
        )
    print()
    print("Per operation (median over runs of p50 / p99, ms):")
    print()
    print("| backend | clients | " + " | ".join(OPS) + " |")
    print("|---|---:|" + "---:|" * len(OPS))
    for (label, c), rs in sorted(runs.items(), key=lambda kv: (kv[0][0] != "postgres", kv[0][1])):
        cells = [
            f"{med([r['ops'][op]['p50_ms'] for r in rs]):.1f} / {med([r['ops'][op]['p99_ms'] for r in rs]):.1f}"
            for op in OPS
        ]
        print(f"| {label} | {c} | " + " | ".join(cells) + " |")
    print()
    for label, log in sorted(logs.items()):
        print(f"- {label} server log: {log['database_is_locked']} `database is locked`, {log['error_lines']} ERROR lines")


if __name__ == "__main__":
    main()
