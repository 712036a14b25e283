#!/usr/bin/env python3
r"""Benchmarks only: copies what the reports read (teams, agencies, victims, cases, the victims on
each case, journeys, withdrawals, contact schedules, contacts, obligations and service issues) from a Care Hub SQLite database into a migrated, empty Care Hub
PostgreSQL database, so both backends hold the same rows without importing the events twice
(scripts/bench-reports.sh; BENCHMARKS.md, "Reports").

  bench_sqlite_to_pg.py SQLITE_FILE POSTGRES_URL

Rows go through psql's \copy (COPY FROM STDIN) into a temporary table, then into the real one
with ON CONFLICT DO NOTHING (a migration may have seeded some). Ids stored by SQLite as 16-byte
blobs become UUID text; booleans stored as 0/1 are accepted by PostgreSQL as they are.

SQLite writes the text itself (one SQL expression a column, `value`; the row by printf), 20,000
rowids at a time joined into one string by group_concat; Python only escapes each such chunk as a
whole (`escaped`) and writes it down a pipe into psql's standard input: no per-row or per-value
Python work and no temporary file. So that a chunk can be escaped at once, SQLite separates values
with the byte FF, ends rows with FE and writes NULL as FD: bytes that UTF-8 text never holds (the
earlier row-by-row version read text as UTF-8 and failed on anything else), and each chunk's
count of each is checked. The text is byte for byte what that version wrote: NULL as \N; a
16-byte blob as a lowercase hyphenated UUID, any other blob as \\x and its hex digits (bytea);
text with backslash, tab, newline and carriage return escaped; numbers as SQLite prints them (no
copied column holds a REAL). One difference: printf ends a text value at a NUL character, which
PostgreSQL text cannot hold anyway.
"""
import sqlite3
import subprocess
import sys
import time

TABLES = ["teams", "agencies", "victims", "cases", "case_victims", "journeys", "withdrawals", "contact_schedule",
          "contacts", "obligations", "service_issues"]
ROWS_PER_WRITE = 20_000


SEPARATOR, END_OF_ROW, NULL = b"\xff", b"\xfe", b"\xfd"


def blob(b):
    return f"CAST(X'{b.hex()}' AS TEXT)"


def value(column):
    """An SQL expression giving `column` as COPY text, before `escaped` (never NULL)."""
    c = f'"{column}"'
    uuid = " || '-' || ".join(f"hex(substr({c}, {a}, {n}))" for a, n in [(1, 4), (5, 2), (7, 2), (9, 2), (11, 6)])
    return (
        f"CASE WHEN {c} IS NULL THEN {blob(NULL)} "
        f"WHEN typeof({c}) = 'blob' THEN CASE length({c}) WHEN 16 THEN lower({uuid}) ELSE '\\x' || lower(hex({c})) END "
        f"ELSE {c} END"
    )


def escaped(chunk):
    for raw, text in [(b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"),
                      (SEPARATOR, b"\t"), (END_OF_ROW, b"\n"), (NULL, b"\\N")]:
        chunk = chunk.replace(raw, text)
    return chunk


def main():
    src, url = sys.argv[1], sys.argv[2]
    con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    con.text_factory = bytes
    for table in TABLES:
        started = time.monotonic()
        info = con.execute(f"PRAGMA table_info({table})").fetchall()
        columns = [r[1].decode() for r in info]
        nullable = [r[1].decode() for r in info if not r[3]]  # SQLite keeps NULL out of NOT NULL columns
        if not columns:
            continue
        n, first, last = con.execute(f"SELECT count(*), min(rowid), max(rowid) FROM {table}").fetchone()
        line = f"printf({blob(SEPARATOR.join([b'%s'] * len(columns)))}, {', '.join(value(c) for c in columns)})"
        null_count = " + ".join(f'("{c}" IS NULL)' for c in nullable) or "0"
        chunk = (
            f"SELECT group_concat(line, {blob(END_OF_ROW)}) || {blob(END_OF_ROW)}, count(*), sum(nulls) FROM "
            f"(SELECT {line} AS line, {null_count} AS nulls FROM {table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid)"
        )
        cols = ", ".join(f'"{c}"' for c in columns)
        psql = subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url,
             # The rows are a copy: no trigger (migration 000014's change log) and no foreign-key check.
             "-c", "SET session_replication_role = replica",
             "-c", f"CREATE TEMP TABLE tmp AS SELECT {cols} FROM {table} WITH NO DATA",
             "-c", f"\\copy tmp ({cols}) FROM pstdin",
             "-c", f"INSERT INTO {table} ({cols}) SELECT {cols} FROM tmp ON CONFLICT DO NOTHING"],
            stdin=subprocess.PIPE,
        )
        try:
            for start in range(first or 0, (last or -1) + 1, ROWS_PER_WRITE):
                text, rows, nulls = con.execute(chunk, (start, start + ROWS_PER_WRITE)).fetchone()
                if rows:
                    counts = [text.count(b) for b in (SEPARATOR, END_OF_ROW, NULL)]
                    if counts != [rows * (len(columns) - 1), rows, nulls]:
                        psql.kill()  # before its input ends: nothing of this table is inserted
                        psql.wait()
                        sys.exit(f"{table}: a value holds byte FF, FE or FD (text that is not UTF-8)")
                    psql.stdin.write(escaped(text))
            psql.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped early; its exit status and message say why
        if psql.wait() != 0:
            sys.exit(f"psql failed copying {table}")
        print(f"{table}: {n} rows ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    # As autovacuum would have by now on a production server (it is off on this machine): hint bits
    # and the visibility map set, so the first reads do not rewrite every page the copy wrote.
    subprocess.run(["psql", "-X", "-q", url, "-c", "VACUUM ANALYZE"], check=True)


if __name__ == "__main__":
    main()
