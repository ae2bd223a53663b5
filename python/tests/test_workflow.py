"""A service's workflow on baldur-framework, run twice in one process: once
with the reference's classes registered (the in-memory journal, the SQL
statistics over SQLite) and once with ours. Only the registration differs;
every answer must be the same."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from baldur.adapters.sql.base import SQLDialect
from baldur.adapters.sql.failed_operation import SQLFailedOperationRepository
from baldur.adapters.sql.statistics import SQLStatisticsRepository
from baldur.factory.registry import ProviderRegistry
from baldur.interfaces.event_journal import JournalEntry, JournalQueryFilter

import baldur_journal as bj

DOMAINS = ["payments"] * 6 + ["orders"] * 4 + ["search"] * 2
FAILURES = ["timeout"] * 7 + ["validation"] * 5


def workflow(journal_name: str, now: datetime) -> dict:
    """What a service does, through the registry only."""
    journal = ProviderRegistry.get_event_journal_repo(journal_name)
    stats = ProviderRegistry.get_statistics_repo()
    out: dict = {}
    # The journal: append, query, count, range, latest.
    sequences = []
    for n in range(40):
        sequences.append(
            journal.append(
                JournalEntry(
                    sequence=0,
                    event_type=["circuit_breaker_opened", "error_budget_critical"][n % 2],
                    source="svc",
                    timestamp=now - timedelta(minutes=40 - n),
                    service_name=["payments", "search", ""][n % 3],
                    context={"attempt": n % 4, "ok": n % 5 == 0, "ratio": n / 8, "tags": ["a"]},
                    region=["eu", "us"][n % 2],
                )
            )
        )
    out["sequences"] = sequences
    filters = [
        JournalQueryFilter(event_types=["circuit_breaker_opened"], limit=5),
        JournalQueryFilter(service_name="", region="eu"),
        JournalQueryFilter(start_time=now - timedelta(minutes=20), end_time=now, limit=3),
        JournalQueryFilter(context_filters={"attempt": "2", "ok": "False"}),
        JournalQueryFilter(context_filters={"ratio": "0.5", "tags": "['a']"}),
        JournalQueryFilter(event_types=[], limit=0),
    ]
    out["queries"] = [
        (
            [(e.sequence, e.event_type, e.context) for e in r.entries],
            r.truncated,
            r.total_count,
            journal.count(f),
        )
        for f in filters
        for r in [journal.query(f)]
    ]
    out["range"] = [e.sequence for e in journal.get_sequence_range(sequences[5], sequences[9])]
    out["latest"] = journal.get_latest_sequence() - sequences[0]
    # The statistics: the runtime's snapshots, then the dashboard's reads.
    for n in range(12):
        resolved = n % 4 == 0
        out.setdefault("persisted", []).append(
            stats.persist_entry(
                {
                    "id": n + 1,
                    "domain": DOMAINS[n],
                    "failure_type": FAILURES[n],
                    "status": "resolved" if resolved else ["pending", "reviewing"][n % 2],
                    "retry_count": n % 3,
                    "error_code": "E503",
                    "created_at": now - timedelta(hours=5 * n + 1),
                    "resolved_at": now - timedelta(hours=1) if resolved else None,
                }
            )
        )
    out["status_counts"] = stats.get_status_counts()
    out["domains"] = stats.get_domain_distribution()
    out["failure_types"] = stats.get_failure_type_distribution(limit=1)
    out["activity"] = stats.get_recent_activity(hours=24, days=1)
    out["resolution_rate"] = stats.get_resolution_rate()
    out["avg_retry"] = stats.get_avg_retry_count()
    page = stats.list_entries(page=2, page_size=5, domain="payments", order_by="created_at")
    # The SQL row id is an int, ours the snapshot's id as text; updated_at
    # is the moment of each write.
    out["page"] = (
        page.total,
        page.has_next,
        page.has_prev,
        page.total_pages,
        [
            {k: (str(v) if k == "id" else v) for k, v in item.items() if k != "updated_at"}
            for item in page.items
        ],
    )
    detail = stats.get_entry_detail("3")
    out["detail"] = {k: v for k, v in detail.items() if k not in ("id", "updated_at")}
    out["sla"] = stats.get_sla_breaches(sla_threshold_hours=10)
    out["cleanup"] = stats.get_cleanup_stats()
    return out


def test_the_same_workflow_gives_the_same_answers(tmp_path, monkeypatch):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    saved = ProviderRegistry._statistics_adapter
    ProviderRegistry.event_journal_repo.clear_instances()
    try:
        # The reference's classes.
        db = str(tmp_path / "dlq.db")
        connect = lambda: sqlite3.connect(db)  # noqa: E731
        SQLFailedOperationRepository(connect, dialect=SQLDialect.SQLITE)._ensure_schema_ready()
        ProviderRegistry.register_statistics_adapter(
            SQLStatisticsRepository(connect, dialect=SQLDialect.SQLITE)
        )
        theirs = workflow("memory", now)

        # Ours: only the registration changes.
        monkeypatch.setenv("BALDUR_JOURNAL_DIR", str(tmp_path / "journal"))
        ProviderRegistry.register_event_journal_repo("baldur-journal", bj.DiskEventJournalRepository)
        journal = ProviderRegistry.get_event_journal_repo("baldur-journal")
        ProviderRegistry.register_statistics_adapter(bj.JournalStatisticsRepository(journal))
        ours = workflow("baldur-journal", now)
    finally:
        ProviderRegistry._statistics_adapter = saved
        ProviderRegistry.event_journal_repo.clear_instances()
    journal.close()

    assert theirs["status_counts"].total == 12, "the reference side really ran"
    assert theirs["queries"][3][2] > 0 and theirs["page"][0] == 6
    assert [d.domain for d in theirs["domains"]] == ["payments", "orders", "search"]
    for key in theirs:
        if key == "sequences":
            continue
        assert ours[key] == theirs[key], key
