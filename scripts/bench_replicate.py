#!/usr/bin/env python3
"""Benchmarks only: makes a Care Hub SQLite database of imported generated journeys TIMES as large
by copying its victims, cases, the victims on each case and journeys TIMES - 1 more times under
fresh ids (hub references get a `-k` suffix), so a report reads TIMES as many rows with the same
distributions (scripts/bench-reports.sh; BENCHMARKS.md, "Reports"). Agency references, events and
the rest are not copied: no report reads them.

  bench_replicate.py SOURCE.db TARGET.db TIMES

Ids are 16-byte blobs; copy k's ids are the original's with the first byte XORed with k, so a
victim's copies keep their cases.
"""
import shutil
import sqlite3
import sys

TABLES = {
    "victims": ["id", "merged_into_id"],
    "cases": ["id"],
    "case_victims": ["case_id", "victim_id"],
    "journeys": ["case_id", "victim_id"],
}


def shifted(v, k):
    if isinstance(v, bytes) and len(v) == 16:
        return bytes([v[0] ^ k]) + v[1:]
    return v


def main():
    src, dst, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
    assert times <= 255
    shutil.copyfile(src, dst)
    con = sqlite3.connect(dst)
    con.execute("PRAGMA journal_mode = WAL")
    for table, id_columns in TABLES.items():
        columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        ids = [columns.index(c) for c in id_columns if c in columns]
        hub = columns.index("hub_ref") if "hub_ref" in columns else None
        rows = con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for k in range(1, times):
            copies = []
            for row in rows:
                row = list(row)
                for i in ids:
                    row[i] = shifted(row[i], k)
                if hub is not None:
                    row[hub] = f"{row[hub]}-{k}"
                copies.append(row)
            con.executemany(insert, copies)
        con.commit()
        print(f"{table}: {len(rows)} rows, now {len(rows) * times}", file=sys.stderr)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


if __name__ == "__main__":
    main()
