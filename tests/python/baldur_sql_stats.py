"""Drives the reference's SQLStatisticsRepository (baldur-framework 1.17.1)
on a SQLite file, or on a PostgreSQL database when DB_PATH is a
postgres:// URL (through psycopg2, as the reference connects), for
tests/sql_statistics_python.rs.

    python baldur_sql_stats.py DB_PATH generate SEED ENTRIES
        creates baldur_dlq with the reference's own DDL and writes a
        generated DLQ history (datetimes as the runtime passes them) through the reference's persist_entry,
        archive_old_entries and purge_archived, with the reference's clock
        moved to each event's time: repeated and late snapshots, archives
        and purges; then fills a baldur_cb_state table. Prints the number
        of persist calls.
    python baldur_sql_stats.py DB_PATH time NOW REPS
        times the reads of TIMED (mean microseconds per call), for
        examples/sql_stats_reads.rs and docs/PERFORMANCE.md.
    python baldur_sql_stats.py DB_PATH answer < requests.jsonl
        for each request {"now": ISO, "reads": [[method, kwargs], ...]}
        prints one JSON object per line: {"now", "answers": [...]}, each
        answer the reference's return value as JSON (dataclasses as dicts
        with their properties total_pages, can_archive and can_purge;
        datetimes in ISO form).
"""

import dataclasses
import json
import random
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

import structlog

import baldur.adapters.sql.statistics as statistics_module
from baldur.adapters.sql.failed_operation import _ddl
from baldur.adapters.sql.statistics import SQLStatisticsRepository
from baldur.settings.sql import SQLDialect

CLOCK = [datetime(2025, 1, 1, tzinfo=timezone.utc)]
statistics_module.utc_now = lambda: CLOCK[0]

DOMAINS = ["payments", "orders", "external_service", "notification", "data_sync", "", "custom"]
DOMAIN_WEIGHTS = [31, 23, 17, 11, 7, 3, 2]
TYPES = ["timeout", "validation_error", "connection_error", "rate_limited", "unknown_error"]
TYPE_WEIGHTS = [37, 19, 13, 7, 5]


def is_postgres(path):
    return path.startswith("postgres://") or path.startswith("postgresql://")


def repository(path):
    if is_postgres(path):
        import psycopg2

        conn = psycopg2.connect(path)
        return conn, SQLStatisticsRepository(lambda: conn, dialect=SQLDialect.POSTGRESQL)
    conn = sqlite3.connect(path)
    return conn, SQLStatisticsRepository(lambda: conn, dialect=SQLDialect.SQLITE)


def generate(path, seed, entries):
    conn, repo = repository(path)
    postgres = is_postgres(path)
    cursor = conn.cursor()
    if not postgres:
        # A generated test history: no need to sync each commit to disk.
        cursor.execute("PRAGMA synchronous = OFF")
    for statement in _ddl(SQLDialect.POSTGRESQL if postgres else SQLDialect.SQLITE):
        cursor.execute(statement)
    conn.commit()
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    events = []  # (time, order, kind, payload)
    for i in range(1, entries + 1):
        created = start + timedelta(
            seconds=rng.randrange(0, 150 * 86400), microseconds=i
        )
        base = {
            "id": i,
            "domain": rng.choices(DOMAINS, DOMAIN_WEIGHTS)[0],
            "failure_type": rng.choices(TYPES, TYPE_WEIGHTS)[0],
            "entity_type": rng.choice(["order", "payment", None]),
            "entity_id": f"ent-{rng.randrange(500)}",
            "error_code": rng.choice(["E1", "E2", ""]),
            "error_message": f"failure {i}",
            "snapshot_data": {"attempt": i % 4, "ok": i % 3 == 0},
            "metadata": {"source": "generator"},
            "created_at": created,
            "max_retries": 2,
        }
        t = created
        snapshots = [dict(base, status="pending", retry_count=0)]
        retries = 0
        for _ in range(rng.randrange(0, 3)):
            retries += 1
            snapshots.append(dict(base, status="replaying", retry_count=retries))
            snapshots.append(dict(base, status="pending", retry_count=retries))
        end = rng.choices(
            ["resolved", "rejected", "expired", "requires_review", "reviewing", "pending", "permanently_failed"],
            [45, 8, 6, 10, 6, 20, 5],
        )[0]
        times = []
        for snap in snapshots:
            times.append(t)
            t = t + timedelta(minutes=rng.randrange(1, 600))
        final = dict(base, status=end, retry_count=retries)
        if end in ("resolved", "rejected", "expired"):
            final["resolved_at"] = t
        snapshots.append(final)
        times.append(t)
        for when, snap in zip(times, snapshots):
            events.append((when, i, "persist", snap))
        # A repeated snapshot, and sometimes a late stale one.
        events.append((t + timedelta(minutes=5), i, "persist", final))
        if rng.random() < 0.1:
            events.append((t + timedelta(hours=rng.randrange(1, 48)), i, "persist", snapshots[0]))
    day = start
    while day < start + timedelta(days=160):
        day += timedelta(days=7)
        events.append((day, 0, "archive", 30))
        if (day - start).days % 28 == 0:
            events.append((day + timedelta(hours=1), 0, "purge_age", 21))
        if (day - start).days % 35 == 0:
            events.append((day + timedelta(hours=2), 0, "purge_ids", [rng.randrange(1, entries + 1) for _ in range(40)]))
    events.sort(key=lambda e: (e[0], e[1]))
    persisted = 0
    for when, _, kind, payload in events:
        CLOCK[0] = when
        if kind == "persist":
            assert repo.persist_entry(payload) is not None
            persisted += 1
        elif kind == "archive":
            repo.archive_old_entries(payload)
        elif kind == "purge_age":
            repo.purge_archived(older_than_days=payload)
        else:
            repo.purge_archived(ids=[str(x) for x in payload])
    ts, mark = ("TIMESTAMPTZ", "%s") if postgres else ("TEXT", "?")
    cursor = conn.cursor()
    cursor.execute(
        "CREATE TABLE baldur_cb_state (service_name VARCHAR(256) PRIMARY KEY, state VARCHAR(32), "
        f"failure_count INTEGER, success_count INTEGER, last_failure_at {ts}, updated_at {ts})"
    )
    for n in range(25):
        state = rng.choice(["closed", "open", "half_open", "forced_open"])
        failed = start + timedelta(hours=rng.randrange(0, 3000))
        cursor.execute(
            f"INSERT INTO baldur_cb_state VALUES ({', '.join([mark] * 6)})",
            (f"svc-{n:02d}", state, rng.choice([None, rng.randrange(50)]), rng.randrange(50),
             failed if rng.random() < 0.7 else None, failed + timedelta(minutes=3)),
        )
    conn.commit()
    print(persisted)


def to_json(value):
    if dataclasses.is_dataclass(value):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for prop in ("total_pages", "can_archive", "can_purge"):
            if hasattr(value, prop):
                out[prop] = getattr(value, prop)
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def answer(path):
    _, repo = repository(path)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        CLOCK[0] = datetime.fromisoformat(request["now"])
        answers = []
        for method, kwargs in request["reads"]:
            answers.append(to_json(getattr(repo, method)(**kwargs)))
        print(json.dumps({"now": request["now"], "answers": answers}))


TIMED = [
    ("get_status_counts", {}),
    ("get_domain_distribution", {"limit": 10}),
    ("get_failure_type_distribution", {"limit": 10}),
    ("get_recent_activity", {"hours": 24, "days": 7}),
    ("get_resolution_rate", {"days": 30}),
    ("get_avg_retry_count", {}),
    ("list_entries", {"page": 3, "page_size": 20}),
    ("get_entry_detail", {"entry_id": "250"}),
    ("get_sla_breaches", {"sla_threshold_hours": 4}),
    ("get_cleanup_stats", {}),
]


def timing(path, now, reps):
    """Mean microseconds per call of each read in TIMED, one JSON line."""
    import time

    _, repo = repository(path)
    CLOCK[0] = datetime.fromisoformat(now)
    out = {}
    for method, kwargs in TIMED:
        call = getattr(repo, method)
        call(**kwargs)
        start = time.perf_counter()
        for _ in range(reps):
            call(**kwargs)
        out[method] = (time.perf_counter() - start) / reps * 1e6
    print(json.dumps(out))


def main():
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    path, command = sys.argv[1:3]
    if command == "generate":
        generate(path, int(sys.argv[3]), int(sys.argv[4]))
    elif command == "time":
        timing(path, sys.argv[3], int(sys.argv[4]))
    else:
        answer(path)


if __name__ == "__main__":
    main()
