"""SqlStatisticsRepository against the reference's own
SQLStatisticsRepository on one SQLite file: the reference writes a DLQ
history through its persist_entry, archive_old_entries and purge_archived,
both read it at fixed "now"s and every answer must be equal; then ours
writes and the reference reads what it wrote.

Where the reference leaves an order undefined (ties in a distribution or a
listing, circuit breakers in table order) both are compared in a defined
order (docs/SQL.md, "Differences from the reference's SQLStatisticsRepository").
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

import baldur_journal as bj

sql_statistics = pytest.importorskip("baldur.adapters.sql.statistics")
from baldur.adapters.sql.failed_operation import _ddl  # noqa: E402
from baldur.interfaces.statistics import StatisticsRepositoryInterface  # noqa: E402
from baldur.settings.sql import SQLDialect  # noqa: E402

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)
DOMAINS = ["payments", "orders", "external_service", "notification", "", "custom"]
TYPES = ["timeout", "validation_error", "connection_error", "rate_limited"]
END_STATUSES = ["resolved", "rejected", "expired", "requires_review", "pending"]
NOWS = [
    datetime(2025, 2, 10, tzinfo=UTC),
    datetime(2025, 3, 20, 12, 0, 0, 1, tzinfo=UTC),
]
READS = [
    ("get_status_counts", {}),
    ("get_domain_distribution", {"limit": 10}),
    ("get_domain_distribution", {"limit": 2}),
    ("get_failure_type_distribution", {"limit": 10}),
    ("get_recent_activity", {"hours": 24, "days": 7}),
    ("get_recent_activity", {"hours": 72, "days": 30}),
    ("get_resolution_rate", {"days": 30}),
    ("get_avg_retry_count", {}),
    ("get_sla_breaches", {"sla_threshold_hours": 4}),
    ("get_sla_breaches", {"sla_threshold_hours": 48, "statuses": ["pending", "replaying"]}),
    ("get_cleanup_stats", {}),
    ("get_circuit_breaker_summary", {}),
    ("list_circuit_breakers", {}),
    ("list_entries", {"page": 1, "page_size": 20}),
    ("list_entries", {"page": 2, "page_size": 15, "order_by": "created_at"}),
    ("list_entries", {"page": 1, "page_size": 25, "status": "pending", "order_by": "id"}),
    ("list_entries", {"page": 1, "page_size": 30, "domain": "payments", "order_by": "-id"}),
    ("list_entries", {"page": 500, "page_size": 20}),
    ("get_entry_detail", {"entry_id": "1"}),
    ("get_entry_detail", {"entry_id": "77"}),
    ("get_entry_detail", {"entry_id": "99999"}),
]


@pytest.fixture
def clock(monkeypatch):
    """The reference's clock, moved by the test."""
    now = [START]
    monkeypatch.setattr(sql_statistics, "utc_now", lambda: now[0])
    return now


def reference(path):
    conn = sqlite3.connect(path)
    return conn, sql_statistics.SQLStatisticsRepository(lambda: conn, dialect=SQLDialect.SQLITE)


def write_history(path, clock, seed: int, entries: int) -> int:
    """A DLQ history written by the reference, at the times it happened:
    retries, every end status, repeated and late snapshots, weekly
    archives and purges; then a circuit-breaker table. Returns the number
    of snapshots persisted."""
    conn, repo = reference(path)
    for statement in _ddl(SQLDialect.SQLITE):
        conn.execute(statement)
    conn.commit()
    rng = random.Random(seed)
    events = []
    for i in range(1, entries + 1):
        created = START + timedelta(seconds=rng.randrange(0, 80 * 86400), microseconds=i)
        base = {
            "id": i,
            # Distinct weights: no ties in the distributions.
            "domain": DOMAINS[min(int(rng.expovariate(0.6)), len(DOMAINS) - 1)],
            "failure_type": TYPES[min(int(rng.expovariate(0.8)), len(TYPES) - 1)],
            "entity_type": rng.choice(["order", None]),
            "entity_id": f"ent-{rng.randrange(50)}",
            "error_code": rng.choice(["E1", ""]),
            "error_message": f"failure {i}",
            "snapshot_data": {"attempt": i % 4},
            "metadata": {"source": "test"},
            "created_at": created,
            "max_retries": 2,
        }
        t = created
        retries = rng.randrange(0, 3)
        snapshots = [dict(base, status="pending", retry_count=0)]
        for r in range(1, retries + 1):
            snapshots.append(dict(base, status="replaying", retry_count=r))
        end = rng.choice(END_STATUSES)
        final = dict(base, status=end, retry_count=retries)
        for snapshot in snapshots:
            events.append((t, i, "persist", snapshot))
            t += timedelta(minutes=rng.randrange(1, 900))
        if end in ("resolved", "rejected", "expired"):
            final["resolved_at"] = t
        events.append((t, i, "persist", final))
        events.append((t + timedelta(minutes=5), i, "persist", final))
        if rng.random() < 0.1:
            events.append((t + timedelta(hours=3), i, "persist", snapshots[0]))
    day = START
    while day < START + timedelta(days=85):
        day += timedelta(days=7)
        events.append((day, 0, "archive", 20))
        if (day - START).days % 28 == 0:
            events.append((day + timedelta(hours=1), 0, "purge_ids",
                           [str(rng.randrange(1, entries + 1)) for _ in range(10)]))
    events.sort(key=lambda e: (e[0], e[1]))
    persisted = 0
    for when, _, kind, payload in events:
        clock[0] = when
        if kind == "persist":
            assert repo.persist_entry(payload) is not None
            persisted += 1
        elif kind == "archive":
            repo.archive_old_entries(payload)
        else:
            repo.purge_archived(ids=payload)
    conn.execute(
        "CREATE TABLE baldur_cb_state (service_name VARCHAR(256) PRIMARY KEY, state VARCHAR(32), "
        "failure_count INTEGER, success_count INTEGER, last_failure_at TEXT, updated_at TEXT)"
    )
    for n in range(12):
        failed = START + timedelta(hours=rng.randrange(0, 2000))
        conn.execute(
            "INSERT INTO baldur_cb_state VALUES (?, ?, ?, ?, ?, ?)",
            (f"svc-{n:02d}", rng.choice(["closed", "open", "half_open"]), rng.randrange(50),
             rng.randrange(50), str(failed) if n % 3 else None, str(failed + timedelta(minutes=3))),
        )
    conn.commit()
    conn.close()
    return persisted


def plain(value):
    """A DTO as plain data."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def comparable(method: str, answer, reference_side: bool):
    """The answer in a defined order where the reference leaves it open."""
    answer = plain(answer)
    if method in ("get_domain_distribution", "get_failure_type_distribution"):
        # Ours breaks ties by name, the reference in database order: so
        # which of the names tied at the limit's cut is shown differs.
        name = "domain" if method == "get_domain_distribution" else "failure_type"
        answer.sort(key=lambda d: (-d["count"], d[name]))
        last = answer[-1]["count"] if answer else None
        for d in answer:
            if d["count"] == last:
                d[name] = "(tied at the cut)"
    if reference_side and method == "list_circuit_breakers":
        answer.sort(key=lambda b: b["service_name"])
    return answer


def answers(repo, method_reads):
    return [comparable(m, getattr(repo, m)(**kw), isinstance(repo, sql_statistics.SQLStatisticsRepository))
            for m, kw in method_reads]


def test_the_class_is_the_interface_and_does_not_shadow_the_reference(tmp_path):
    assert bj.SqlStatisticsRepository is not sql_statistics.SQLStatisticsRepository
    assert bj.SqlStatisticsRepository.__name__ != "SQLStatisticsRepository"
    repo = bj.SqlStatisticsRepository(tmp_path / "new.db")
    assert isinstance(repo, StatisticsRepositoryInterface)
    # A new database gets the reference's table, which the reference reads.
    conn, theirs = reference(str(tmp_path / "new.db"))
    assert plain(theirs.get_status_counts()) == plain(repo.get_status_counts())
    assert repo.get_status_counts().total == 0


def test_reads_equal_the_reference_on_its_history(tmp_path, clock):
    db = str(tmp_path / "dlq.db")
    assert write_history(db, clock, seed=17, entries=240) > 600
    _, theirs = reference(db)
    non_empty = 0
    for now in NOWS:
        clock[0] = now
        ours = bj.SqlStatisticsRepository("sqlite:///" + db, now=now, read_only=True)
        got, want = answers(ours, READS), answers(theirs, READS)
        for (method, kwargs), mine, reference_answer in zip(READS, got, want):
            assert mine == reference_answer, f"at {now}: {method}({kwargs})"
            non_empty += mine not in (None, [], {}, 0.0)
    assert non_empty * 3 > len(NOWS) * len(READS) * 2, "too few answers hold data"


def test_the_reference_reads_what_ours_writes(tmp_path, clock):
    db = str(tmp_path / "dlq.db")
    write_history(db, clock, seed=5, entries=60)
    now = datetime(2025, 4, 1, tzinfo=UTC)
    clock[0] = now
    ours = bj.SqlStatisticsRepository(db, now=now)
    assert ours.persist_entry({
        "id": 500, "domain": "payments", "failure_type": "timeout", "status": "pending",
        "retry_count": 1, "created_at": now - timedelta(hours=30), "error_message": "late",
        "snapshot_data": {"x": 1}, "metadata": {},
    }) == "500"
    assert ours.persist_entry({
        "id": 501, "domain": "orders", "failure_type": "rate_limited", "status": "resolved",
        "created_at": now - timedelta(hours=2), "resolved_at": now - timedelta(hours=1),
    }) == "501"
    assert ours.persist_entry({
        "id": 502, "domain": "orders", "failure_type": "timeout", "status": "resolved",
        "created_at": now - timedelta(days=12), "resolved_at": now - timedelta(days=10),
    }) == "502"
    archived = ours.archive_old_entries(older_than_days=3)
    assert archived > 0 and ours.get_entry_detail("502")["status"] == "archived"
    _, theirs = reference(db)
    reads = READS + [("get_entry_detail", {"entry_id": str(i)}) for i in (500, 501, 502)]
    assert answers(ours, reads) == answers(theirs, reads)
    assert ours.get_entry_detail("500")["error_message"] == "late"
    assert theirs.get_entry_detail("502")["status"] == "archived"
    # An audit link, then a purge of the archived entry, through ours.
    assert ours.link_audit_entry("500", "dlq_entry", "review", actor_id="alice",
                                 status="reviewing", audit_record_hash="ab" * 32)
    assert ours.purge_archived(ids=["502"]) == 1
    more = reads + [("get_audit_trail_by_entity", {"entity_id": "500"}),
                    ("should_persist_async", {}), ("get_async_persist_task_name", {})]
    assert answers(ours, more) == answers(theirs, more)
    trail = ours.get_audit_trail_by_entity("500")
    assert [(e.action, e.actor_id) for e in trail.entries] == [("review", "alice")]
    assert ours.get_entry_detail("502") is None


def test_errors_name_the_database_and_the_argument(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(bj.JournalError, match="missing.db"):
        bj.SqlStatisticsRepository(missing, read_only=True)
    repo = bj.SqlStatisticsRepository(tmp_path / "dlq.db")
    with pytest.raises(bj.JournalInputError, match="order_by"):
        repo.list_entries(order_by="no_such_column")
    with pytest.raises(bj.JournalError, match="postgres"):
        bj.SqlStatisticsRepository("postgres://user@localhost/db")
    with pytest.raises(bj.JournalInputError, match="sqlite"):
        bj.SqlStatisticsRepository("sqlite:/x.db")
    with pytest.raises(TypeError, match="url"):
        bj.SqlStatisticsRepository(17)
    with pytest.raises(ValueError, match="naive"):
        bj.SqlStatisticsRepository(tmp_path / "dlq.db", now=datetime(2025, 1, 1))
    read_only = bj.SqlStatisticsRepository(tmp_path / "dlq.db", read_only=True)
    with pytest.raises(bj.JournalReadOnlyError):
        read_only.archive_old_entries(1)
    assert not hasattr(read_only, "as_of")
