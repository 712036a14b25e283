#!/usr/bin/env python3
"""Benchmarks only: makes a Care Hub SQLite database of imported generated journeys TIMES as large
by copying its victims, cases, the victims on each case, journeys, and the records the compliance
figures count (contact schedules and contacts, obligations, service issues, withdrawal records)
TIMES - 1 more times under fresh ids (hub references and issue source keys get a `-k` suffix), so a
report reads TIMES as many rows with the same distributions (scripts/bench-reports.sh;
BENCHMARKS.md, "Reports"). Agency references, events, unevidenced-withdrawal flags (which point at
events) and the rest are not copied: the reports read what events made (journeys and their
outcome flags) and only the original journeys keep their events.

  bench_replicate.py SOURCE.db TARGET.db TIMES

Ids are 16-byte blobs; copy k's ids are the original's with the first byte XORed with k, so a
victim's copies keep their cases. Every other column is copied as it is (a journey's rev too).

TARGET (and any -wal, -shm or -journal file beside it) is replaced by a fresh copy of SOURCE
(SQLite's backup, so a SOURCE in WAL mode is copied whole), then each copy is one
`INSERT INTO t SELECT ... FROM t WHERE rowid <= <SOURCE's largest rowid>` inside SQLite: no row
passes through Python, only each id through `shifted` below (registered as an SQL function).
TARGET is a throwaway file, so it is written with no rollback journal, no syncs and a 2 GB page
cache; schema and indexes stay as they are, the copied tables' triggers (migration 000014's change
log) are dropped while copying and made again after, and it ends in SOURCE's journal mode.
"""
import os
import sqlite3
import sys
import time

TABLES = {
    "victims": ["id", "merged_into_id"],
    "cases": ["id"],
    "case_victims": ["case_id", "victim_id"],
    "journeys": ["case_id", "victim_id"],
    "contact_schedule": ["victim_id"],
    "contacts": ["id", "victim_id", "case_id"],
    "obligations": ["id", "victim_id", "case_id", "discharged_by"],
    "service_issues": ["id", "victim_id", "case_id"],
    "withdrawals": ["id", "case_id", "victim_id"],
}
SUFFIXED = {"hub_ref", "source_key"}


def shifted(v, k):
    if isinstance(v, bytes) and len(v) == 16:
        return bytes([v[0] ^ k]) + v[1:]
    return v


def fresh_copy(src, dst):
    for path in (dst, dst + "-wal", dst + "-shm", dst + "-journal"):
        if os.path.exists(path):
            os.remove(path)
    # Not mode=ro: a read-only connection to a database in WAL mode leaves -wal and -shm files
    # behind; this one only reads, and removes them when it closes.
    source = sqlite3.connect(f"file:{src}?mode=rw", uri=True)
    target = sqlite3.connect(dst)
    source.backup(target)
    target.close()
    source.close()


def scale_statistics(con, times):
    """The planner's statistics (sqlite_stat1) of the copied tables, as ANALYZE would give them
    now, without reading the file: each copied table and index has TIMES as many rows, and a key
    prefix holding an id (fresh in every copy) as many distinct values, a prefix of copied values
    only the same number. Without this the service's `PRAGMA optimize` at start sees tables 10
    or more times larger than their statistics say and analyses them, counting every page of the
    file (at 10,000,000 journeys, 16 GB of random reads before the server is ready). sqlite_stat4
    samples of the copied tables are dropped (the planner does without)."""
    if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        return
    con.execute("BEGIN")
    for table, id_columns in TABLES.items():
        fresh = set(id_columns) | SUFFIXED | {"id"}
        for idx, stat in con.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?", (table,)).fetchall():
            parts = stat.split()
            numbers = [int(x) for x in parts if x.isdigit()]
            flags = [x for x in parts if not x.isdigit()]
            columns = [r[2] for r in con.execute(f'PRAGMA index_info("{idx}")')] if idx else []
            scaled = [numbers[0] * times]
            for i, avg in enumerate(numbers[1:]):
                prefix = columns[: i + 1]
                scaled.append(avg if any(c in fresh for c in prefix) or i >= len(columns) else avg * times)
            con.execute(
                "UPDATE sqlite_stat1 SET stat = ? WHERE tbl = ? AND idx IS ?",
                (" ".join([str(n) for n in scaled] + flags), table, idx),
            )
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat4'").fetchone():
        copied = ", ".join(f"'{t}'" for t in TABLES)
        con.execute(f"DELETE FROM sqlite_stat4 WHERE tbl IN ({copied})")
    con.execute("COMMIT")


def main():
    src, dst, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
    assert 1 <= times <= 256, "copy k's ids XOR the first byte with k, so k < 256"
    fresh_copy(src, dst)
    con = sqlite3.connect(dst, isolation_level=None)
    con.create_function("shifted", 2, shifted, deterministic=True)
    journal_mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA locking_mode = EXCLUSIVE")
    con.execute("PRAGMA temp_store = MEMORY")
    con.execute("PRAGMA cache_size = -2000000")  # KiB: 2 GB
    copied = ", ".join(f"'{t}'" for t in TABLES)
    triggers = con.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({copied})"
    ).fetchall()
    for name, _ in triggers:
        con.execute(f'DROP TRIGGER "{name}"')
    for table, id_columns in TABLES.items():
        started = time.monotonic()
        columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        n, last = con.execute(f"SELECT count(*), max(rowid) FROM {table}").fetchone()
        names = [f'"{c}"' for c in columns]
        select = [
            f"shifted({q}, :k)" if c in id_columns else f"{q} || '-' || :k" if c in SUFFIXED else q
            for c, q in zip(columns, names)
        ]
        insert = (
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"SELECT {', '.join(select)} FROM {table} WHERE rowid <= :last ORDER BY rowid"
        )
        con.execute("BEGIN")
        for k in range(1, times):
            con.execute(insert, {"k": k, "last": last or 0})
        con.execute("COMMIT")
        print(f"{table}: {n} rows, now {n * times} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    for _, sql in triggers:
        con.execute(sql)
    scale_statistics(con, times)
    con.execute("PRAGMA locking_mode = NORMAL")
    con.execute(f"PRAGMA journal_mode = {journal_mode}")
    con.close()


if __name__ == "__main__":
    main()
