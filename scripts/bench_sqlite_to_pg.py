#!/usr/bin/env python3
"""Benchmarks only: copies what the reports read (teams, agencies, victims, cases, the victims on
each case, journeys, withdrawals) from a Care Hub SQLite database into a migrated, empty Care Hub
PostgreSQL database, so both backends hold the same rows without importing the events twice
(scripts/bench-reports.sh; BENCHMARKS.md, "Reports").

  bench_sqlite_to_pg.py SQLITE_FILE POSTGRES_URL

Rows go through psql's \\copy (COPY FROM STDIN) into a temporary table, then into the real one
with ON CONFLICT DO NOTHING (a migration may have seeded some). Ids stored by SQLite as 16-byte
blobs become UUID text; booleans stored as 0/1 are accepted by PostgreSQL as they are.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile
import uuid

TABLES = ["teams", "agencies", "victims", "cases", "case_victims", "journeys", "withdrawals"]


def text(v):
    if v is None:
        return "\\N"
    if isinstance(v, bytes):
        return str(uuid.UUID(bytes=v)) if len(v) == 16 else "\\\\x" + v.hex()
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def main():
    src, url = sys.argv[1], sys.argv[2]
    con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    for table in TABLES:
        columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        if not columns:
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
            path = f.name
            n = 0
            for row in con.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                f.write("\t".join(text(v) for v in row) + "\n")
                n += 1
        cols = ", ".join(f'"{c}"' for c in columns)
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url,
             "-c", f"CREATE TEMP TABLE tmp AS SELECT {cols} FROM {table} WITH NO DATA",
             "-c", f"\\copy tmp ({cols}) FROM '{path}'",
             "-c", f"INSERT INTO {table} ({cols}) SELECT {cols} FROM tmp ON CONFLICT DO NOTHING"],
            check=True,
        )
        os.unlink(path)
        print(f"{table}: {n} rows", file=sys.stderr)
    subprocess.run(["psql", "-X", "-q", url, "-c", "ANALYZE"], check=True)


if __name__ == "__main__":
    main()
