#!/usr/bin/env python3
"""Helpers for scripts/bench-reminders.sh: bulk data, the due-set queries, the outbox, timings, summary.

    bench_reminders.py today                                  # the scan's "today" (London date)
    bench_reminders.py sqlite-gen DB N TODAY                  # teams, users, N victims + schedules
    bench_reminders.py pg-gen-sql N TODAY                     # the same data as SQL for psql
    bench_reminders.py sqlite-due DB TODAY RUNS OUT RESULTS   # EXPLAIN QUERY PLAN + timed queries
    bench_reminders.py pg-due-sql TODAY                       # the same statements, PREPAREd, for psql
    bench_reminders.py pg-parse-explain RESULTS NAME FILE...  # Execution Time of EXPLAIN ANALYZE runs
    bench_reminders.py sqlite-exec DB SQL                     # one statement, committed
    bench_reminders.py sqlite-queue DB EMAILS RUN             # empty the outbox, queue EMAILS rows
    bench_reminders.py pg-queue-sql EMAILS RUN                # the same as SQL for psql
    bench_reminders.py timed RESULTS NAME EXPECT_SENT OUTFILE -- CMD...   # wall time of one run
    bench_reminders.py hyperfine RESULTS NAME JSON            # a hyperfine export into RESULTS
    bench_reminders.py json RESULTS NAME JSON_LINE            # any one-off figure into RESULTS
    bench_reminders.py summary RESULTS                        # the markdown table (medians)

The data is deterministic: victim i gets the same hub reference, state, due date and caseworker on
both backends (integer hashes evaluated identically in Python and PostgreSQL), so the two backends
scan the same due set.
"""
import datetime as dt
import json
import math
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from zoneinfo import ZoneInfo

TEAM = "bench-team"
SUPERVISORS = 3
CASEWORKERS = 500
INTERVAL_DAYS = 28
# The service's defaults (config.rs): escalate when more than 7 days overdue; digest lists due
# within 3 days.
ESCALATE_AFTER_DAYS = 7
DUE_SOON_DAYS = 3

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_MULT = 5581897120387  # odd: i -> i * REF_MULT mod 2^50 is a bijection, so references are unique
TWO32 = 4294967296


# ---------------------------------------------------------------------------------------- data


def times2(x: int) -> int:
    y = x << 1
    return y if y & 0x20 == 0 else (y ^ 0x25) & 0x1F


def hub_ref(i: int) -> str:
    """`VCH-` + ten Crockford base32 symbols + the Damm check symbol (src/victims/hub_ref.rs)."""
    n = (i * REF_MULT) % (1 << 50)
    digits = [(n >> (5 * (9 - k))) & 31 for k in range(10)]
    acc = 0
    for d in digits:
        acc = times2(acc) ^ d
    return "VCH-" + "".join(ALPHABET[d] for d in digits) + ALPHABET[times2(acc)]


def victim_uuid_hex(i: int, ts_ms: int) -> str:
    """A UUIDv7-shaped id: creation milliseconds, version 7, variant 10, then the index."""
    return f"{ts_ms:012x}7000{(1 << 63) | i:016x}"


def plan(i: int):
    """(state, next_due_on offset from today or None, caseworker index or None) for victim i."""
    h1 = (i * 2654435761 % TWO32) / TWO32
    h2 = (i * 2246822519 % TWO32) / TWO32
    h3 = (i * 40503 % 65536) / 65536
    caseworker = None if h3 < 0.03 else i * 7919 % CASEWORKERS
    if h1 < 0.03:
        return "suspended", math.floor(h2 * 69) - 40, caseworker
    if h1 < 0.04:
        return "opted_out", None, caseworker
    if h1 < 0.06:
        return "closed", None, caseworker
    if h2 < 0.04:  # overdue by 8..40 days: escalated
        return "active", -40 + math.floor(h2 / 0.04 * 33), caseworker
    if h2 < 0.08:  # overdue by 1..7 days
        return "active", -7 + math.floor((h2 - 0.04) / 0.04 * 7), caseworker
    return "active", math.floor((h2 - 0.08) / 0.92 * 29), caseworker  # due today .. in 28 days


# The same in SQL over generate_series(1, N) g (kept beside plan() so they stay one definition).
PG_PLAN = """
    SELECT g,
           ((g * 2654435761) % 4294967296)::float8 / 4294967296 AS h1,
           ((g * 2246822519) % 4294967296)::float8 / 4294967296 AS h2,
           ((g * 40503) % 65536)::float8 / 65536 AS h3
    FROM generate_series(1::bigint, {n}::bigint) g
"""
PG_STATE = """CASE WHEN h1 < 0.03 THEN 'suspended' WHEN h1 < 0.04 THEN 'opted_out'
                   WHEN h1 < 0.06 THEN 'closed' ELSE 'active' END"""
PG_OFFSET = """CASE WHEN h1 < 0.03 THEN floor(h2 * 69)::int - 40
                    WHEN h1 < 0.06 THEN NULL
                    WHEN h2 < 0.04 THEN -40 + floor(h2 / 0.04 * 33)::int
                    WHEN h2 < 0.08 THEN -7 + floor((h2 - 0.04) / 0.04 * 7)::int
                    ELSE floor((h2 - 0.08) / 0.92 * 29)::int END"""
PG_CASEWORKER = "CASE WHEN h3 < 0.03 THEN NULL ELSE 'cw-' || (g * 7919 % 500) || '@bench.example' END"


def caseworker_email(k) -> str | None:
    return None if k is None else f"cw-{k}@bench.example"


def rfc3339(t: dt.datetime) -> str:
    """The stored text format of timestamps on SQLite: 2026-11-22T09:30:00.123456+00:00."""
    return t.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def london_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/London")).date()


def sqlite_gen(db: str, n: int, today: dt.date) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    now_s = rfc3339(now)
    ts_ms = int(now.timestamp() * 1000)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -1000000")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("BEGIN")
    con.execute(
        "INSERT INTO teams (id, code, name, active, version, created_at, updated_at) VALUES (?, ?, ?, 1, 1, ?, ?)",
        (uuid.UUID(int=1).bytes, TEAM, "Bench Team", now_s, now_s),
    )
    users = [
        (uuid.uuid4().bytes, f"sup-{k}@bench.example", f"Supervisor {k}", "supervisor", TEAM, 1, 1, now_s, now_s)
        for k in range(SUPERVISORS)
    ] + [
        (uuid.uuid4().bytes, f"cw-{k}@bench.example", f"Caseworker {k}", "caseworker", TEAM, 1, 1, now_s, now_s)
        for k in range(CASEWORKERS)
    ]
    con.executemany(
        "INSERT INTO users (id, email, name, role, team_code, agency_code, password_hash, active, version,"
        " created_at, updated_at, last_login_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, NULL)",
        users,
    )

    def victims():
        for i in range(1, n + 1):
            _, _, cw = plan(i)
            yield (
                bytes.fromhex(victim_uuid_hex(i, ts_ms)), hub_ref(i), "Bench", f"Victim{i}",
                f"bench|victim{i}", f" bench victim{i} ", f"07700 {i % 1000000:06d}", caseworker_email(cw),
                TEAM, now_s, now_s,
            )  # fmt: skip

    con.executemany(
        "INSERT INTO victims (id, hub_ref, merged_into_id, victim_type, given_name, family_name, preferred_name,"
        " name_key, search_name, date_of_birth, phone, email, address_line1, address_line2, address_town,"
        " address_postcode, preferred_channel, contact_restrictions, language, interpreter_needed,"
        " communication_needs, ethnicity, sex, disability, enhanced_rights, enhanced_reasons, needs_assessed_on,"
        " needs_assessed_by, identified_needs, assigned_caseworker, team_code, version, created_at, created_by,"
        " updated_at, legal_hold, legal_hold_reason, anonymised_at)"
        " VALUES (?, ?, NULL, 'direct', ?, ?, NULL, ?, ?, NULL, ?, NULL, NULL, NULL, NULL, NULL, 'phone', NULL,"
        " 'en', 0, NULL, NULL, NULL, NULL, 0, '[]', NULL, NULL, '[]', ?, ?, 1, ?, 'bench-loader', ?, 0, NULL, NULL)",
        victims(),
    )

    def schedules():
        for i in range(1, n + 1):
            state, offset, cw = plan(i)
            due = None if offset is None else today + dt.timedelta(days=offset)
            last = None
            if state == "active":
                last = rfc3339(dt.datetime.combine(due - dt.timedelta(days=INTERVAL_DAYS), dt.time(10), dt.timezone.utc))
            yield (
                bytes.fromhex(victim_uuid_hex(i, ts_ms)), TEAM, caseworker_email(cw), state, INTERVAL_DAYS, last,
                None if due is None else due.isoformat(), now_s,
            )  # fmt: skip

    con.executemany(
        "INSERT INTO contact_schedule (victim_id, team_code, caseworker, state, interval_days, last_update_at,"
        " next_due_on, escalated_for, refreshed_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        schedules(),
    )
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def pg_gen_sql(n: int, today: dt.date) -> str:
    sup = ", ".join(
        f"(gen_random_uuid(), 'sup-{k}@bench.example', 'Supervisor {k}', 'supervisor', '{TEAM}', NULL, NULL,"
        " true, 1, now(), now(), NULL)"
        for k in range(SUPERVISORS)
    )
    plan_sql = PG_PLAN.format(n=n)
    return f"""
\\set ON_ERROR_STOP on
CREATE FUNCTION pg_temp.hub_ref(i bigint) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n bigint := (i * {REF_MULT}) % {1 << 50};
    acc int := 0;
    d int;
    s text := 'VCH-';
    alphabet text := '{ALPHABET}';
BEGIN
    FOR k IN 0..9 LOOP
        d := ((n >> (5 * (9 - k))) & 31)::int;
        acc := acc << 1;
        IF acc & 32 <> 0 THEN acc := (acc # 37) & 31; END IF;
        acc := acc # d;
        s := s || substr(alphabet, d + 1, 1);
    END LOOP;
    acc := acc << 1;
    IF acc & 32 <> 0 THEN acc := (acc # 37) & 31; END IF;
    RETURN s || substr(alphabet, acc + 1, 1);
END $$;
BEGIN;
INSERT INTO teams (id, code, name, active, version, created_at, updated_at)
VALUES ('{uuid.UUID(int=1)}', '{TEAM}', 'Bench Team', true, 1, now(), now());
INSERT INTO users (id, email, name, role, team_code, agency_code, password_hash, active, version, created_at,
                   updated_at, last_login_at)
VALUES {sup};
INSERT INTO users (id, email, name, role, team_code, agency_code, password_hash, active, version, created_at,
                   updated_at, last_login_at)
SELECT gen_random_uuid(), 'cw-' || k || '@bench.example', 'Caseworker ' || k, 'caseworker', '{TEAM}', NULL, NULL,
       true, 1, now(), now(), NULL
FROM generate_series(0, {CASEWORKERS - 1}) k;
INSERT INTO victims (id, hub_ref, merged_into_id, victim_type, given_name, family_name, preferred_name, name_key,
    search_name, date_of_birth, phone, email, address_line1, address_line2, address_town, address_postcode,
    preferred_channel, contact_restrictions, language, interpreter_needed, communication_needs, ethnicity, sex,
    disability, enhanced_rights, enhanced_reasons, needs_assessed_on, needs_assessed_by, identified_needs,
    assigned_caseworker, team_code, version, created_at, created_by, updated_at, legal_hold, legal_hold_reason,
    anonymised_at)
SELECT (lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint), 12, '0') || '70008' || lpad(to_hex(g), 15, '0'))::uuid,
       pg_temp.hub_ref(g), NULL, 'direct', 'Bench', 'Victim' || g, NULL, 'bench|victim' || g, ' bench victim' || g || ' ',
       NULL, '07700 ' || lpad((g % 1000000)::text, 6, '0'), NULL, NULL, NULL, NULL, NULL, 'phone', NULL, 'en', false,
       NULL, NULL, NULL, NULL, false, '[]'::jsonb, NULL, NULL, '[]'::jsonb, {PG_CASEWORKER}, '{TEAM}', 1, now(),
       'bench-loader', now(), false, NULL, NULL
FROM ({plan_sql}) p;
INSERT INTO contact_schedule (victim_id, team_code, caseworker, state, interval_days, last_update_at, next_due_on,
                              escalated_for, refreshed_at)
SELECT (lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint), 12, '0') || '70008' || lpad(to_hex(g), 15, '0'))::uuid,
       '{TEAM}', {PG_CASEWORKER}, state, {INTERVAL_DAYS},
       CASE WHEN state = 'active' THEN ((DATE '{today}' + off - {INTERVAL_DAYS})::timestamp + time '10:00') AT TIME ZONE 'UTC' END,
       DATE '{today}' + off, NULL, now()
FROM (SELECT g, h3, {PG_STATE} AS state, {PG_OFFSET} AS off FROM ({plan_sql}) p) q;
COMMIT;
VACUUM ANALYZE victims;
VACUUM ANALYZE contact_schedule;
VACUUM ANALYZE users;
"""


# ------------------------------------------------------------------------------------ due set

# The statements scan.rs issues (sea-query's rendering), escalations then the digest's due set.
DUE_SQL = {
    "escalation": 'SELECT "contact_schedule"."victim_id", "contact_schedule"."team_code",'
    ' "contact_schedule"."next_due_on", "contact_schedule"."escalated_for" FROM "contact_schedule"'
    ' WHERE "contact_schedule"."state" = {p1} AND "contact_schedule"."next_due_on" < {p2}',
    "digest": 'SELECT "contact_schedule"."victim_id", "contact_schedule"."team_code",'
    ' "contact_schedule"."caseworker", "contact_schedule"."next_due_on" FROM "contact_schedule"'
    ' WHERE "contact_schedule"."state" = {p1} AND "contact_schedule"."next_due_on" <= {p2}',
}


# What `reminders run` does before the scan (contacts::schedule::backfill): victims without a
# schedule row, 500 at a time. With every victim scheduled it returns nothing, after checking all.
BACKFILL_SQL = (
    'SELECT "victims"."id" FROM "victims" WHERE "victims"."id" NOT IN'
    ' (SELECT "victim_id" FROM "contact_schedule") LIMIT {p1}'
)


def bounds(today: dt.date) -> dict:
    return {
        "escalation": (today - dt.timedelta(days=ESCALATE_AFTER_DAYS)).isoformat(),
        "digest": (today + dt.timedelta(days=DUE_SOON_DAYS)).isoformat(),
    }


def append(results: str, record: dict) -> None:
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


def sqlite_due(db: str, today: dt.date, runs: int, out: str, results: str) -> None:
    """Each due-set SELECT twice over: fetched into Python (rows built, as a client would), and
    inside SQLite alone (an aggregate over the same columns and plan, so no row leaves SQLite)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    b = bounds(today)
    for name, sql in DUE_SQL.items():
        q = sql.format(p1="?", p2="?")
        cols = q[len("SELECT ") : q.index(" FROM ")]
        inner = "SELECT sum(" + " + ".join(f"length({c})" for c in cols.split(", ")) + ")" + q[q.index(" FROM ") :]
        args = ("active", b[name])
        plan_rows = con.execute("EXPLAIN QUERY PLAN " + q, args).fetchall()
        inner_plan = "; ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + inner, args))
        plan_text = "; ".join(r[3] for r in plan_rows)
        assert inner_plan == plan_text, f"the aggregate changed the plan: {inner_plan!r} vs {plan_text!r}"
        with open(f"{out}/sqlite-{name}-plan.txt", "w") as f:
            f.write(f"EXPLAIN QUERY PLAN {q}\n-- bound: ('active', '{b[name]}')\n")
            for r in plan_rows:
                f.write(f"{r[0]}|{r[1]}|{r[3]}\n")
        con.execute(q, args).fetchall()  # warm the page cache, as a steady-state scan finds it
        for label, stmt in (("fetch", q), ("db", inner)):
            times, rows = [], 0
            for _ in range(runs):
                t0 = time.perf_counter()
                got = con.execute(stmt, args).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
                rows = len(got) if label == "fetch" else rows
            rec = {"name": f"sqlite-due-{name}-{label}", "unit": "ms", "values": times, "plan": plan_text}
            if label == "fetch":
                rec["rows"] = rows
                n_rows = rows
            else:
                rec["rows"] = n_rows
            append(results, rec)
            print(f"sqlite {name} ({label}): {rec['rows']} rows, median {statistics.median(times):.1f} ms")
        print(f"sqlite {name} plan: {plan_text}")
    q = BACKFILL_SQL.format(p1="?")
    plan_text = "; ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + q, (500,)))
    with open(f"{out}/sqlite-backfill-plan.txt", "w") as f:
        f.write(f"EXPLAIN QUERY PLAN {q}\n-- bound: (500,)\n{plan_text}\n")
    times, rows = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = len(con.execute(q, (500,)).fetchall())
        times.append((time.perf_counter() - t0) * 1000)
    append(results, {"name": "sqlite-backfill", "unit": "ms", "values": times, "rows": rows, "plan": plan_text})
    print(f"sqlite backfill check: {rows} rows, median {statistics.median(times):.1f} ms, plan: {plan_text}")


def pg_due_sql(today: dt.date) -> str:
    b = bounds(today)
    out = ["\\set ON_ERROR_STOP on"]
    for name, sql in DUE_SQL.items():
        # Parameters typed as sqlx binds them: String as text, NaiveDate as date.
        out.append(f"PREPARE {name}(text, date) AS {sql.format(p1='$1', p2='$2')};")
    out.append(f"PREPARE backfill(bigint) AS {BACKFILL_SQL.format(p1='$1')};")
    return "\n".join(out) + "\n", b


def pg_parse_explain(results: str, name: str, files: list[str]) -> None:
    times, rows, plan_text = [], None, ""
    for path in files:
        text = open(path).read()
        for line in text.splitlines():
            s = line.strip()
            if s.startswith("Execution Time:"):
                times.append(float(s.split()[2]))
        if not plan_text:
            nodes = [l.strip().lstrip("-> ").split("  (")[0] for l in text.splitlines() if "cost=" in l]
            plan_text = "; ".join(nodes)
            top = [l for l in text.splitlines() if "actual time=" in l]
            if top:
                rows = int(top[0].split("rows=")[2].split()[0])
    append(results, {"name": name, "unit": "ms", "values": times, "rows": rows, "plan": plan_text})
    print(f"{name}: {rows} rows, median {statistics.median(times):.1f} ms, plan: {plan_text}")


# ---------------------------------------------------------------------------------------- outbox

BODY = (
    "The routine update for VCH-{ref} (team bench-team) was due on 2026-11-01 and is 21 days overdue.\n\n"
    "Open the record in Care Hub: http://127.0.0.1:8080/api/v1/victims/VCH-{ref}/contact-plan\n\n"
    "This message holds hub references only. Do not forward it outside the hub.\n"
)


def sqlite_queue(db: str, emails: int, run: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    past = rfc3339(now - dt.timedelta(minutes=1))
    con = sqlite3.connect(db, isolation_level=None, timeout=30)
    con.execute("BEGIN IMMEDIATE")
    con.execute("DELETE FROM outbox")
    con.executemany(
        "INSERT INTO outbox (id, dedupe_key, kind, recipient, subject, body, status, attempts, next_attempt_at,"
        " lease_until, last_error, created_at, sent_at) VALUES (?, ?, 'bench', ?, ?, ?, 'pending', 0, ?, NULL, NULL,"
        " ?, NULL)",
        (
            (
                uuid.uuid4().bytes, f"bench|{run}|{i}", f"cw-{i % CASEWORKERS}@bench.example",
                f"Care Hub: update overdue 21 days for {hub_ref(i + 1)}", BODY.format(ref=hub_ref(i + 1)[4:]), past, past,
            )  # fmt: skip
            for i in range(emails)
        ),
    )
    con.execute("COMMIT")
    con.close()


def pg_queue_sql(emails: int, run: str) -> str:
    body = BODY.replace("'", "''").replace("VCH-{ref}", "' || r || '")
    return f"""\\set ON_ERROR_STOP on
BEGIN;
DELETE FROM outbox;
INSERT INTO outbox (id, dedupe_key, kind, recipient, subject, body, status, attempts, next_attempt_at, lease_until,
                    last_error, created_at, sent_at)
SELECT gen_random_uuid(), 'bench|{run}|' || i, 'bench', 'cw-' || (i % {CASEWORKERS}) || '@bench.example',
       'Care Hub: update overdue 21 days for ' || r, '{body}', 'pending', 0, now() - interval '1 minute', NULL, NULL,
       now() - interval '1 minute', NULL
FROM (SELECT i, 'VCH-' || upper(substr(md5(i::text), 1, 11)) AS r FROM generate_series(0, {emails - 1}) i) s;
COMMIT;
VACUUM ANALYZE outbox;
"""


# ---------------------------------------------------------------------------------------- timing


def timed(results: str, name: str, expect_sent: int, outfile: str, cmd: list[str]) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    with open(outfile, "w") as f:
        f.write(proc.stdout)
        f.write(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"{name}: {' '.join(cmd)} failed ({proc.returncode}); see {outfile}")
    sent = None
    for line in proc.stdout.splitlines():
        if line.startswith("dispatch: {"):
            sent = json.loads(line.split(": ", 1)[1])
    if expect_sent and (sent is None or sent.get("sent") != expect_sent):
        sys.exit(f"{name}: expected {expect_sent} sent, the dispatcher said {sent}; see {outfile}")
    append(results, {"name": name, "unit": "s", "values": [seconds], "count": expect_sent or None})
    rate = f", {expect_sent / seconds:.0f}/s" if expect_sent else ""
    print(f"{name}: {seconds:.3f} s{rate}")


def hyperfine(results: str, name: str, path: str) -> None:
    r = json.load(open(path))["results"][0]
    append(results, {"name": name, "unit": "s", "values": r["times"]})


def summary(results: str) -> None:
    by_name: dict[str, dict] = {}
    for line in open(results):
        rec = json.loads(line)
        cur = by_name.setdefault(rec["name"], {**rec, "values": []})
        cur["values"] += rec["values"]
        for k in ("rows", "plan", "count", "per_second", "scan"):
            if rec.get(k) is not None:
                cur[k] = rec[k]

    def med(name):
        return statistics.median(by_name[name]["values"]) if name in by_name else None

    def fmt_ms(v):
        return "–" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.1f}")

    print("| backend | measurement | runs | rows | median | min | max |")
    print("|---|---|---|---|---|---|---|")
    for backend in ("sqlite", "postgres"):
        for q in ("escalation", "digest"):
            variants = (
                (f"{backend}-due-{q}-db", "inside SQLite (aggregate over the same plan)"),
                (f"{backend}-due-{q}-fetch", "fetched into Python's sqlite3"),
            ) if backend == "sqlite" else ((f"{backend}-due-{q}", "inside PostgreSQL (EXPLAIN ANALYZE)"),)
            if q == "digest":
                variants += ((f"{backend}-backfill", "backfill check before the scan (`NOT IN`, no victim missing)"),)
            for n, where in variants:
                if n in by_name:
                    v = by_name[n]["values"]
                    what = where if "backfill" in n else f"{q} set query, {where}"
                    print(
                        f"| {backend} | {what} | {len(v)} | {by_name[n]['rows']:,} |"
                        f" {fmt_ms(med(n))} ms | {fmt_ms(min(v))} ms | {fmt_ms(max(v))} ms |"
                    )
        for label, n in (
            ("`care-hub migrate` on the loaded database (start, connect, migrations checked: the floor)", f"{backend}-floor"),
            ("`reminders run --scan-only`, first run (queues escalations and digests)", f"{backend}-scan-first"),
            ("`reminders run --scan-only`, steady state (all queued)", f"{backend}-scan-steady"),
            ("`reminders run --scan-only`, daily digest rebuilt (digest day mark deleted before each run)", f"{backend}-scan-digest"),
        ):
            if n in by_name:
                v = [x * 1000 for x in by_name[n]["values"]]
                print(
                    f"| {backend} | {label} | {len(v)} | – | {fmt_ms(statistics.median(v))} ms |"
                    f" {fmt_ms(min(v))} ms | {fmt_ms(max(v))} ms |"
                )
    print()
    print("| backend | dispatch | runs | emails per run | median time | median emails/s | min–max emails/s |")
    print("|---|---|---|---|---|---|---|")
    if "smtp-baseline" in by_name:
        b = by_name["smtp-baseline"]
        rates = [b["count"] / s for s in b["values"]]
        print(
            f"| – | Python smtplib, one connection (sink capacity) | {len(rates)} | {b['count']:,} |"
            f" {statistics.median(b['values']):.2f} s | {statistics.median(rates):,.0f} |"
            f" {min(rates):,.0f}–{max(rates):,.0f} |"
        )
    for backend in ("sqlite", "postgres"):
        names = [n for n in by_name if n.startswith(f"{backend}-dispatch-c")]
        for name in sorted(names, key=lambda n: int(n.rsplit("-c", 1)[1])):
            d = by_name[name]
            rates = [d["count"] / s for s in d["values"]]
            conc = name.rsplit("-c", 1)[1]
            print(
                f"| {backend} | `reminders run --dispatch-only`, concurrency {conc} | {len(rates)} | {d['count']:,} |"
                f" {statistics.median(d['values']):.2f} s | **{statistics.median(rates):,.0f}** |"
                f" {min(rates):,.0f}–{max(rates):,.0f} |"
            )


def main() -> None:
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, args = a[0], a[1:]
    if cmd == "today":
        print(london_today().isoformat())
    elif cmd == "sqlite-gen":
        sqlite_gen(args[0], int(args[1]), dt.date.fromisoformat(args[2]))
    elif cmd == "pg-gen-sql":
        print(pg_gen_sql(int(args[0]), dt.date.fromisoformat(args[1])))
    elif cmd == "sqlite-due":
        sqlite_due(args[0], dt.date.fromisoformat(args[1]), int(args[2]), args[3], args[4])
    elif cmd == "pg-due-sql":
        sql, b = pg_due_sql(dt.date.fromisoformat(args[0]))
        print(sql, end="")
        # The bounds, for the EXECUTEs the script issues: NAME=DATE per line on stderr.
        for k, v in b.items():
            print(f"{k}={v}", file=sys.stderr)
    elif cmd == "pg-parse-explain":
        pg_parse_explain(args[0], args[1], args[2:])
    elif cmd == "sqlite-exec":
        con = sqlite3.connect(args[0], timeout=30)
        con.execute(args[1])
        con.commit()
    elif cmd == "sqlite-queue":
        sqlite_queue(args[0], int(args[1]), args[2])
    elif cmd == "pg-queue-sql":
        print(pg_queue_sql(int(args[0]), args[1]))
    elif cmd == "timed":
        results, name, expect, outfile, sep, *rest = args
        assert sep == "--", "timed RESULTS NAME EXPECT_SENT OUTFILE -- CMD..."
        timed(results, name, int(expect), outfile, rest)
    elif cmd == "hyperfine":
        hyperfine(args[0], args[1], args[2])
    elif cmd == "json":
        append(args[0], {"name": args[1], **json.loads(args[2])})
    elif cmd == "summary":
        summary(args[0])
    else:
        sys.exit(f"unknown command {cmd}\n{__doc__}")


if __name__ == "__main__":
    main()
