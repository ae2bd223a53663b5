"""Stored values, wrong types, and the engine's errors as Python exceptions."""

from __future__ import annotations

import enum
import os
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import baldur_journal as bj

UTC = timezone.utc
T0 = datetime(2025, 1, 20, 2, 22, 23, 984343, tzinfo=UTC)


def entry(**fields) -> bj.JournalEntry:
    base = dict(
        sequence=0,
        event_type="circuit_breaker_opened",
        source="breaker",
        timestamp=T0,
        service_name="payments",
        context={},
    )
    base.update(fields)
    return bj.JournalEntry(**base)


def test_the_reference_classes_are_in_use():
    assert bj.REFERENCE, "baldur-framework is not importable beside baldur_journal"
    from baldur.interfaces.event_journal import EventJournalRepository, JournalEntry

    assert bj.JournalEntry is JournalEntry
    assert issubclass(bj.DiskEventJournalRepository, EventJournalRepository)


def test_json_contexts_round_trip_exactly(journal):
    context = {
        "s": "東京 'quoted' \"double\" \\ \n\t\x01",
        "big": 18446744073709551617,
        "negative_big": -(2**70),
        "i": -5,
        "f": 1e-05,
        "whole": 1.0,
        "neg_zero": -0.0,
        "huge": 1.2345678901234568e17,
        "t": True,
        "n": None,
        "list": [1, 2.5, None, ["x"], {"k": False}],
        "nested": {"a": {"b": {"c": []}}},
        "": "empty key",
    }
    sequence = journal.append(entry(context=context, region="eu", tier_id="gold"))
    (got,) = journal.get_sequence_range(sequence, sequence + 1)
    assert got.context == context
    assert repr(got.context) == repr(context)  # key order, int vs float, -0.0
    assert (got.region, got.tier_id) == ("eu", "gold")


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_other_values_are_stored_as_the_sql_adapter_stores_them(journal):
    from baldur.adapters.sql.base import GenericSQLRepository

    when = datetime(2025, 1, 2, 3, 4, 5, 6000, tzinfo=timezone(timedelta(hours=9)))
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    context = {
        "when": when,
        "day": date(2025, 1, 2),
        "at": time(3, 4, 5),
        "color": Color.RED,
        "level": Level.HIGH,
        "price": Decimal("1.10"),
        "id": ident,
        "raw": b"\x00ab",
        "wait": timedelta(seconds=90),
        "tuple": (1, 2),
        "nested": {"when": when},
    }
    sequence = journal.append(entry(context=context))
    (got,) = journal.get_sequence_range(sequence, sequence + 1)
    # What the reference's SQL adapter writes, read back with json.loads.
    import json

    assert got.context == json.loads(GenericSQLRepository._dumps_json(context))
    assert got.context["when"] == "2025-01-02T03:04:05.006000+09:00"
    assert got.context["color"] == "red" and got.context["level"] == 3
    assert got.context["price"] == "1.10" and got.context["raw"] == "b'\\x00ab'"
    assert got.context["wait"] == "0:01:30" and got.context["tuple"] == [1, 2]


def test_timestamps_keep_their_instant(journal):
    tokyo = datetime(2025, 1, 20, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
    sequence = journal.append(entry(timestamp=tokyo))
    (got,) = journal.get_sequence_range(sequence, sequence + 1)
    assert got.timestamp == tokyo
    assert got.timestamp.tzinfo is not None and got.timestamp.utcoffset() == timedelta(0)



def test_timestamps_come_back_on_their_calendar_day(journal):
    """Every day of 1968 to 1972 (leap years, the epoch), century and
    400-year boundaries, and the engine's extremes, each at the first and
    last microsecond of its day, and a batch big enough to be built with
    the collector paused."""
    days = [datetime(1968, 1, 1, tzinfo=UTC) + timedelta(days=n) for n in range(5 * 366)]
    days += [datetime(y, m, d, tzinfo=UTC) for y, m, d in [
        (1677, 9, 22), (1700, 2, 28), (1700, 3, 1), (1899, 12, 31), (1900, 3, 1),
        (2000, 2, 29), (2000, 3, 1), (2100, 2, 28), (2100, 3, 1), (2262, 4, 10),
    ]]
    times = []
    for day in days:
        times += [day, day + timedelta(days=1, microseconds=-1)]
    first = journal.append_batch([entry(timestamp=t) for t in times])[0]
    got = journal.get_sequence_range(first, first + len(times))
    assert [e.timestamp for e in got] == times
    assert all(e.timestamp.tzinfo is UTC for e in got)


@pytest.mark.parametrize(
    ("fields", "error", "named"),
    [
        ({"timestamp": datetime(2025, 1, 1)}, ValueError, "timestamp"),
        ({"timestamp": "2025-01-01T00:00:00Z"}, TypeError, "timestamp"),
        ({"context": ["not", "a", "dict"]}, TypeError, "context"),
        ({"context": None}, TypeError, "context"),
        ({"event_type": 5}, TypeError, "event_type"),
        ({"source": None}, TypeError, "source"),
        ({"service_name": b"x"}, TypeError, "service_name"),
        ({"region": 1}, TypeError, "region"),
        ({"tier_id": 1}, TypeError, "tier_id"),
        ({"context": {"x": object()}}, TypeError, "context"),
        ({"context": {"x": float("nan")}}, ValueError, "context"),
        ({"timestamp": datetime(3000, 1, 1, tzinfo=UTC)}, ValueError, "timestamp"),
    ],
)
def test_wrong_types_name_the_field(journal, fields, error, named):
    with pytest.raises(error, match=named):
        journal.append(entry(**fields))
    with pytest.raises(error, match=named):
        journal.append_batch([entry(), entry(**fields)])
    assert journal.get_latest_sequence() == 0, "nothing of a refused batch is appended"


def test_the_batch_error_names_the_entry(journal):
    with pytest.raises(TypeError, match=r"entries\[1\]: event_type"):
        journal.append_batch([entry(), entry(event_type=None)])


@pytest.mark.parametrize(
    ("fields", "error", "named"),
    [
        ({"start_time": datetime(2025, 1, 1)}, ValueError, "start_time"),
        ({"end_time": "yesterday"}, TypeError, "end_time"),
        ({"limit": -1}, ValueError, "limit"),
        ({"limit": "10"}, TypeError, "limit"),
        ({"event_types": "circuit_breaker_opened"}, TypeError, "event_types"),
        ({"context_filters": ["a"]}, TypeError, "context_filters"),
    ],
)
def test_bad_filters_name_the_field(journal, fields, error, named):
    with pytest.raises(error, match=named):
        journal.query(bj.JournalQueryFilter(**fields))
    with pytest.raises(error, match=named):
        journal.count(bj.JournalQueryFilter(**fields))


def test_filter_values_that_can_never_match_match_nothing(journal):
    """As in the reference: str(value) never equals a non-str wanted."""
    journal.append(entry(context={"code": 503}))
    everything = journal.count(bj.JournalQueryFilter())
    assert everything == 1
    assert journal.count(bj.JournalQueryFilter(context_filters={"code": "503"})) == 1
    assert journal.count(bj.JournalQueryFilter(context_filters={"code": 503})) == 0
    assert journal.count(bj.JournalQueryFilter(service_name=5)) == 0
    assert journal.query(bj.JournalQueryFilter(region=5)).entries == []


def test_a_second_writer_is_refused_with_the_directory(journal_dir):
    with bj.DiskEventJournalRepository(journal_dir):
        with pytest.raises(bj.JournalLockedError, match="locked by another writer") as caught:
            bj.DiskEventJournalRepository(journal_dir)
        assert str(journal_dir) in str(caught.value)
        with bj.DiskEventJournalRepository(journal_dir, read_only=True) as reader:
            assert reader.get_latest_sequence() == 0


def test_damage_names_the_file_and_offset(journal_dir):
    # Enough to seal the first segment: damage there is never a torn tail.
    with bj.DiskEventJournalRepository(journal_dir, segment_bytes=65536) as j:
        j.append_batch([entry(context={"n": "x" * 100}) for n in range(2000)])
    segments = sorted(p for p in Path(journal_dir).iterdir() if p.suffix == ".log")
    assert len(segments) > 1
    segment = segments[0]
    data = bytearray(segment.read_bytes())
    data[2000] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(bj.JournalCorruptionError) as caught:
        with bj.DiskEventJournalRepository(journal_dir, read_only=True) as j:
            list(j.replay())
    message = str(caught.value)
    assert segment.name in message and "byte offset" in message, message
    assert isinstance(caught.value, bj.JournalError)


def test_read_only_and_closed(journal_dir):
    with bj.DiskEventJournalRepository(journal_dir) as j:
        j.append(entry())
    with bj.DiskEventJournalRepository(journal_dir, read_only=True) as reader:
        with pytest.raises(bj.JournalReadOnlyError):
            reader.append(entry())
    j = bj.DiskEventJournalRepository(journal_dir)
    j.close()
    j.close()
    assert j.closed
    with pytest.raises(bj.JournalClosedError):
        j.append(entry())
    with pytest.raises(bj.JournalClosedError):
        j.get_latest_sequence()


def test_bad_options_are_input_errors(journal_dir):
    with pytest.raises(bj.JournalInputError, match="durability"):
        bj.DiskEventJournalRepository(journal_dir, durability="sometimes")
    with pytest.raises(ValueError, match="durability"):
        bj.DiskEventJournalRepository(journal_dir, durability="every:0")
    with pytest.raises(TypeError, match="segment_bytes"):
        bj.DiskEventJournalRepository(journal_dir, segment_bytes="1M")


def test_path_defaults_to_the_environment(journal_dir, monkeypatch):
    monkeypatch.setenv("BALDUR_JOURNAL_DIR", str(journal_dir))
    with bj.DiskEventJournalRepository() as j:
        assert j.append(entry()) == 1
    monkeypatch.delenv("BALDUR_JOURNAL_DIR")
    with pytest.raises(ValueError, match="BALDUR_JOURNAL_DIR"):
        bj.DiskEventJournalRepository()


def test_open_by_url(journal_dir):
    with bj.open("memory:") as memory:
        assert memory.append_batch([entry(), entry()]) == [1, 2]
        assert memory.count(bj.JournalQueryFilter()) == 2
        assert memory.write_stats() is None
    with bj.open(f"file://{journal_dir}") as disk:
        disk.append(entry(context={"n": 1}))
    with bj.open(str(journal_dir), read_only=True) as again:
        (got,) = again.get_sequence_range(0, 10)
        assert got.context == {"n": 1}
    with pytest.raises(bj.JournalInputError):
        bj.open("ftp://nowhere")


def test_open_a_sqlite_journal_the_reference_reads(tmp_path):
    """`sqlite://` opens the reference's `baldur_event_journal` table, which
    its SQLEventJournalRepository reads; a follower's wait works there too."""
    sqlite3 = pytest.importorskip("sqlite3")
    sql_journal = pytest.importorskip("baldur.adapters.sql.event_journal")
    from baldur.settings.sql import SQLDialect

    db = tmp_path / "journal.db"
    with bj.open(f"sqlite:///{db}") as journal:
        assert journal.append_batch([entry(context={"n": 1}), entry(context={"n": 2})]) == [1, 2]
        assert journal.wait(1, timeout=0) == 2
        assert journal.wait(2, timeout=0.01) == 2
        assert [e.context["n"] for e in journal.tail(1, timeout=1)] == [2]
    conn = sqlite3.connect(db)
    theirs = sql_journal.SQLEventJournalRepository(lambda: conn, dialect=SQLDialect.SQLITE)
    assert theirs.get_latest_sequence() == 2
    assert [e.context for e in theirs.get_sequence_range(1, 3)] == [{"n": 1}, {"n": 2}]


def test_replay_and_tail_are_lazy_and_page(journal):
    journal.append_batch([entry(context={"n": n}) for n in range(5000)])
    replay = journal.replay(10, 4010)
    assert next(replay).sequence == 10
    assert [e.context["n"] for e in replay] == list(range(10, 4009))
    assert [e.sequence for e in journal.tail(4990)] == list(range(4991, 5001))
    assert [e.sequence for e in journal.tail(0, limit=3)] == [1, 2, 3]
    assert list(journal.tail(5000)) == []
    assert journal.get_sequence_range(-5, 3) == journal.get_sequence_range(1, 3)
    assert journal.get_sequence_range(10, 10) == []
    assert journal.get_sequence_range(10, 5) == []


def test_a_follower_sees_what_the_writer_synced(journal_dir):
    with bj.DiskEventJournalRepository(journal_dir) as writer:
        writer.append(entry())
        with bj.DiskEventJournalRepository(journal_dir, read_only=True) as follower:
            seen = [e.sequence for e in follower.tail(0)]
            writer.append_batch([entry(), entry()])
            seen += [e.sequence for e in follower.tail(seen[-1])]
            assert seen == [1, 2, 3]


def test_without_baldur_framework_the_dataclasses_stand_in(tmp_path):
    """A fresh interpreter in which `import baldur` fails."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        from datetime import datetime, timezone

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "baldur" or name.startswith("baldur."):
                    raise ImportError("blocked")

        sys.meta_path.insert(0, Block())
        import baldur_journal as bj

        assert not bj.REFERENCE
        assert bj.JournalEntry.__module__ == "baldur_journal._types"
        with bj.DiskEventJournalRepository(sys.argv[1]) as j:
            e = bj.JournalEntry(0, "a", "b", datetime.now(timezone.utc), "c", {"x": [1]})
            assert j.append_batch([e, e]) == [1, 2]
            r = j.query(bj.JournalQueryFilter(limit=1))
            assert isinstance(r, bj.JournalQueryResult) and r.total_count == 2
            assert r.entries[0] == bj.JournalEntry(1, "a", "b", e.timestamp, "c", {"x": [1]})
            stats = bj.JournalStatisticsRepository(j)
            assert stats.get_status_counts().total == 0
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "journal")], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_open_a_redis_journal():
    """Runs when BALDUR_REDIS_URL names a server (.ci/run starts one)."""
    import uuid

    def switch(name: str) -> bool:
        return os.environ.get(name, "") not in ("", "0", "false")

    url = os.environ.get("BALDUR_REDIS_URL")
    if switch("BALDUR_NO_REDIS"):
        pytest.skip("BALDUR_NO_REDIS is set")
    if not url:
        if switch("CI"):
            pytest.fail("BALDUR_REDIS_URL is not set under CI (.ci/run starts a server)")
        pytest.skip("BALDUR_REDIS_URL is not set")
    with bj.open(f"{url}?prefix=pytest-{uuid.uuid4().hex}") as journal:
        assert journal.append_batch([entry(context={"n": 1}), entry()]) == [1, 2]
        result = journal.query(bj.JournalQueryFilter(context_filters={"n": "1"}))
        assert [e.sequence for e in result.entries] == [1] and result.total_count == 1
        assert [e.sequence for e in journal.replay(1)] == [1, 2]
        assert journal.write_stats() is None


def test_a_forked_child_is_refused_and_leaves_the_parents_journal_alone(journal_dir):
    """A service that opens the journal before its server forks workers: the
    child has no writer thread, so its calls are refused (never a hang), and
    dropping its copy closes nothing."""
    import gc
    import select

    journal = bj.DiskEventJournalRepository(journal_dir)
    stats = bj.JournalStatisticsRepository(journal)
    journal.append(entry())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, drop everything, exit without cleanup
        outcome = []
        for call in (
            lambda: journal.append(entry()),
            lambda: journal.get_latest_sequence(),
            lambda: stats.get_status_counts(),
        ):
            try:
                call()
                outcome.append("served")
            except bj.JournalError as e:
                outcome.append("refused" if "fork" in str(e) else f"other: {e}")
        journal.close()
        del journal, stats
        gc.collect()
        os.write(write, ",".join(outcome).encode())
        os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 60)
    if not ready:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert ready, "the child hung"
    assert os.read(read, 4096).decode() == "refused,refused,refused"
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's journal still works, and the child appended nothing.
    assert journal.append(entry()) == 2
    assert stats.get_status_counts().total == 0
    journal.close()
