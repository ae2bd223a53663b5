"""The statistics through baldur-framework's ProviderRegistry equal the
CLI's `stats ... --now T --json` on the same journal, with the same now."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from baldur.factory.registry import ProviderRegistry
from baldur.interfaces.statistics import (
    CleanupStats,
    PaginatedResult,
    StatisticsRepositoryInterface,
    StatusCounts,
)

import baldur_journal as bj

from conftest import cli_json
from workload import NOW, dlq_events

TIME_KEYS = {
    "created_at", "updated_at", "resolved_at", "last_retry_at", "expires_at",
    "last_failure_time", "last_state_change", "timestamp",
}


def plain(value):
    """A DTO as JSON-like data, times as datetimes."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def cli_times(value, key=None):
    """The CLI's JSON with its times parsed (to the microsecond, as Python)."""
    if isinstance(value, dict):
        return {k: cli_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [cli_times(v) for v in value]
    if key in TIME_KEYS and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


@pytest.fixture
def registered(journal_dir, monkeypatch):
    """A journal with the workload, then both adapters registered the way
    the README shows; yields the repositories the registry hands out."""
    with bj.DiskEventJournalRepository(journal_dir) as writer:
        writer.append_batch(dlq_events())
        stats = bj.JournalStatisticsRepository(writer, now=NOW)
        # Writes through the statistics: a snapshot, an audit link, an archive.
        assert stats.persist_entry({"id": "dlq-snap", "domain": "payments",
                                    "failure_type": "timeout", "status": "pending",
                                    "created_at": "2025-02-28T00:00:00+00:00"}) == "dlq-snap"
        assert stats.link_audit_entry("dlq-1", "dlq_entry", "review", actor_id="alice",
                                      status="reviewing", audit_record_hash="ab" * 32)
        assert stats.archive_old_entries(older_than_days=3) >= 1
    monkeypatch.setenv("BALDUR_JOURNAL_DIR", str(journal_dir))
    saved = ProviderRegistry._statistics_adapter
    # -- the README's registration --
    ProviderRegistry.register_event_journal_repo("baldur-journal", bj.DiskEventJournalRepository)
    journal = ProviderRegistry.get_event_journal_repo("baldur-journal")
    ProviderRegistry.register_statistics_adapter(
        bj.JournalStatisticsRepository(journal, now=NOW)
    )
    # --
    try:
        yield journal, ProviderRegistry.get_statistics_repo()
    finally:
        ProviderRegistry._statistics_adapter = saved
        ProviderRegistry.event_journal_repo.clear_instances()
        journal.close()


def test_the_registry_hands_out_our_classes(registered):
    journal, stats = registered
    assert isinstance(journal, bj.DiskEventJournalRepository)
    assert isinstance(stats, bj.JournalStatisticsRepository)
    assert isinstance(stats, StatisticsRepositoryInterface)
    assert isinstance(stats.get_status_counts(), StatusCounts)
    assert isinstance(stats.get_cleanup_stats(), CleanupStats)
    assert isinstance(stats.list_entries(), PaginatedResult)


def test_every_read_equals_the_cli(registered, journal_dir):
    journal, stats = registered
    now = ["--now", NOW.isoformat()]

    def cli(*args):
        return cli_times(cli_json("--dir", str(journal_dir), "stats", *args, "--json", *now))

    counts = stats.get_status_counts()
    assert counts.total > 100 and counts.archived >= 1, counts
    assert plain(counts) == cli("status")
    assert plain(stats.get_domain_distribution()) == cli("domains")
    assert plain(stats.get_domain_distribution(limit=2)) == cli("domains", "--limit", "2")
    assert plain(stats.get_failure_type_distribution()) == cli("failure-types")
    assert plain(stats.get_recent_activity()) == cli("activity")
    assert plain(stats.get_recent_activity(hours=6, days=3)) == cli(
        "activity", "--hours", "6", "--days", "3"
    )
    assert stats.get_resolution_rate() == cli("resolution-rate")
    assert stats.get_resolution_rate(days=7) == cli("resolution-rate", "--days", "7")
    assert stats.get_avg_retry_count() == cli("retries")

    page = stats.list_entries(page=2, page_size=15, order_by="-retry_count")
    want = cli("list", "--page", "2", "--page-size", "15", "--order-by", "-retry_count")
    assert want.pop("total_pages") == page.total_pages
    assert plain(page) == want
    assert len(page.items) == 15 and isinstance(page.items[0]["created_at"], datetime)
    filtered = stats.list_entries(status="pending", domain="payments")
    assert plain(filtered) == {
        k: v
        for k, v in cli("list", "--status", "pending", "--domain", "payments").items()
        if k != "total_pages"
    }

    for entry_id in ["dlq-1", "dlq-snap", "dlq-299"]:
        assert stats.get_entry_detail(entry_id) == cli("entry", entry_id)
    assert stats.get_entry_detail("dlq-missing") is None

    assert stats.get_sla_breaches() == cli("sla")
    assert stats.get_sla_breaches(8, ["pending", "replaying"]) == cli(
        "sla", "--hours", "8", "--status", "pending", "--status", "replaying"
    )
    cleanup = stats.get_cleanup_stats()
    want = cli("cleanup")
    assert (want.pop("can_archive"), want.pop("can_purge")) == (
        cleanup.can_archive,
        cleanup.can_purge,
    )
    assert plain(cleanup) == want
    breakers = cli("circuit-breakers")
    assert plain(stats.get_circuit_breaker_summary()) == breakers["summary"]
    assert plain(stats.list_circuit_breakers()) == breakers["breakers"]
    assert stats.get_circuit_breaker_summary().open == 1


def test_trails_writes_and_views(registered):
    journal, stats = registered
    trail = stats.get_audit_trail_by_entity("dlq-1")
    assert trail.entries[0].action == "store"
    assert any(e.action == "review" and e.actor_id == "alice" for e in trail.entries)
    assert trail.is_chain_valid and trail.total_entries == len(trail.entries)
    assert stats.should_persist_async() is False
    assert stats.get_async_persist_task_name() is None
    with pytest.raises(bj.JournalInputError, match="purge_archived"):
        stats.purge_archived()
    before = stats.get_cleanup_stats().by_status.get("archived", 0)
    archived = stats.list_entries(status="archived", page_size=100).items
    assert stats.purge_archived(ids=[archived[0]["id"]]) == 1
    assert stats.get_cleanup_stats().by_status.get("archived", 0) == before - 1
    # As of the sequence before the purge: the entry is still archived.
    latest = journal.get_latest_sequence()
    then = stats.as_of(sequence=latest - 1)
    assert then.get_cleanup_stats().by_status.get("archived", 0) == before
    with pytest.raises(bj.JournalReadOnlyError):
        then.archive_old_entries()
    with pytest.raises(TypeError, match="journal"):
        bj.JournalStatisticsRepository(object())
    with pytest.raises(ValueError, match="now"):
        bj.JournalStatisticsRepository(journal, now=datetime(2025, 1, 1))


def test_keys_sign_chains_and_views_by_time(journal_dir):
    with bj.DiskEventJournalRepository(journal_dir) as journal:
        journal.append_batch(dlq_events(entries=20))
        with pytest.raises(bj.JournalInputError, match="signing_key"):
            bj.JournalStatisticsRepository(journal, keys={"k1": b"s"}, signing_key="k2")
        with pytest.raises(bj.JournalInputError, match="non-empty"):
            bj.JournalStatisticsRepository(journal, keys={"k1": b""})
        signed = bj.JournalStatisticsRepository(
            journal, keys={"k1": "a secret"}, now=NOW, signing_key="k1"
        )
        assert signed.link_audit_entry("dlq-3", "dlq_entry", "review", actor_id="bob")
        trail = signed.get_audit_trail_by_entity("dlq-3")
        assert trail.entries[-1].action == "review" and trail.entries[-1].hash_chain
        assert trail.is_chain_valid
        # As of a time before the link: the trail without it; windows from then.
        before = bj.JournalStatisticsRepository(journal, now=NOW).as_of(
            time=datetime.now(timezone.utc) - timedelta(days=1)
        )
        assert before.get_status_counts().total == 0
        assert before.get_audit_trail_by_entity("dlq-3").entries == []
        with pytest.raises(ValueError, match="exactly one"):
            signed.as_of()
