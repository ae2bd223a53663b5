"""EventJournalLifecycle on the engine's tiered storage: archive moves whole
old segments to a tier directory, purge deletes the tier's oldest, and the
CLI reads the journal with its tier as one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import baldur_journal as bj
from conftest import run_cli


def _entry(n: int) -> bj.JournalEntry:
    return bj.JournalEntry(
        sequence=0,
        event_type="circuit_breaker_opened",
        source="svc",
        timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=n),
        service_name="payments",
        context={"n": n, "pad": "x" * 400},
    )


def test_archive_moves_old_segments_and_purge_deletes_them(tmp_path):
    live = tmp_path / "live"
    tier = tmp_path / "cold"
    journal = bj.DiskEventJournalRepository(str(live), durability="os", segment_bytes=64 * 1024)
    journal.append_batch([_entry(n) for n in range(1500)])
    lifecycle = bj.EventJournalLifecycle(journal, tier)
    if bj.REFERENCE:
        from baldur.interfaces.event_journal import EventJournalLifecycle

        assert isinstance(lifecycle, EventJournalLifecycle)
    assert lifecycle.retention_mark() is None
    # Nothing was appended before a cutoff in the past.
    assert lifecycle.archive_older_than(datetime(2000, 1, 1, tzinfo=timezone.utc)) == 0
    cutoff = datetime.now(timezone.utc) + timedelta(seconds=1)
    moved = lifecycle.archive_older_than(cutoff)
    mark = lifecycle.retention_mark()
    assert mark is not None and moved == mark - 1, (moved, mark)
    assert 0 < moved < 1500
    # The live journal starts at the mark; appends go on.
    assert journal.get_sequence_range(1, mark)[:1] == []
    assert [e.sequence for e in journal.get_sequence_range(mark, mark + 2)] == [mark, mark + 1]
    assert journal.append(_entry(1500)) == 1501
    # A follower that had read up to 1 fell behind the mark: an error, never
    # a silent jump; from the start, or from the mark, what remains.
    with pytest.raises(bj.JournalError, match="fell behind retention"):
        list(journal.tail(1))
    assert next(iter(journal.tail(0))).sequence == mark
    assert next(iter(journal.tail(mark - 1))).sequence == mark
    journal.close()
    # With its tier, the journal is whole, and verifies as one chain.
    count = run_cli("--dir", str(live), "--tier-dir", str(tier), "count")
    assert int(count) == 1501
    run_cli("--dir", str(live), "--tier-dir", str(tier), "verify")
    # Purging deletes the tier's segments, and counts their entries.
    purged = lifecycle.purge_archived(datetime.now(timezone.utc) + timedelta(seconds=1))
    assert purged == moved
    assert int(run_cli("--dir", str(live), "--tier-dir", str(tier), "count")) == 1501 - moved


def test_lifecycle_needs_a_journal_directory(tmp_path):
    with pytest.raises(TypeError):
        bj.EventJournalLifecycle(object(), tmp_path)  # type: ignore[arg-type]
    memory = bj.open("memory:")
    with pytest.raises(bj.JournalError, match="journal directory"):
        bj.EventJournalLifecycle(memory, tmp_path).archive_older_than(
            datetime(2020, 1, 1, tzinfo=timezone.utc)
        )
    with pytest.raises(ValueError):
        # A naive datetime is refused, as everywhere in the package.
        journal = bj.DiskEventJournalRepository(str(tmp_path / "j"))
        bj.EventJournalLifecycle(journal, tmp_path / "cold").archive_older_than(datetime(2020, 1, 1))
