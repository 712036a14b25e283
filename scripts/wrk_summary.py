#!/usr/bin/env python3
"""Summarise wrk --latency outputs: median requests/s and p99 over repeated runs, as a Markdown table.

Usage: wrk_summary.py RESULTS_DIR BASELINE_NAME NAME...
Files are RESULTS_DIR/NAME-<run>.txt. Ratios are against BASELINE_NAME's median throughput.
"""
import re
import statistics
import sys
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse(path):
    text = path.read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p50 = float(m.group(1)) * UNITS[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    return rps, p50, p99, errors


def main():
    out, baseline, names = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    rows = {}
    for name in [baseline, *names]:
        runs = [parse(p) for p in sorted(out.glob(f"{name}-[0-9]*.txt"))]
        if not runs:
            continue
        rows[name] = (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs),
            sum(r[3] for r in runs),
            len(runs),
        )
    base = rows[baseline][0]
    print("| measurement | runs | median req/s | median p50 (ms) | median p99 (ms) | errors | throughput vs bare axum |")
    print("|---|---|---|---|---|---|---|")
    for name, (rps, p50, p99, errors, n) in rows.items():
        print(f"| {name} | {n} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / base:.0%} |")


if __name__ == "__main__":
    main()
