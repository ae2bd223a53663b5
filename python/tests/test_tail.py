"""tail(after, timeout=...) and wait(after, timeout): a follower blocks in
the native core, without the GIL, until a live writer (a thread of this
process, or another process) appends; no polling in Python.

No test sleeps to make a race come out right: each waits on its condition
with a generous timeout and asserts on what arrived."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone

import pytest

import baldur_journal as bj

#: Generous: a loaded 2-vCPU CI machine; a passing run takes milliseconds.
PATIENCE = 60.0
ENTRIES = 300
#: The GIL test's wait: what a broken build (the GIL held) stalls for.
GIL_PATIENCE = 20.0


def entry(n: int, source: str = "writer") -> bj.JournalEntry:
    return bj.JournalEntry(
        sequence=0,
        event_type="tick",
        source=source,
        timestamp=datetime.now(timezone.utc),
        service_name="tail",
        context={"n": n},
    )


def follow(journal, after: int, want: int) -> list[bj.JournalEntry]:
    """Follows ``journal`` with blocking tails until ``want`` entries after
    ``after`` arrived; each tail must bring at least one."""
    seen: list[bj.JournalEntry] = []
    while len(seen) < want:
        got = list(journal.tail(after, timeout=PATIENCE))
        assert got, f"no entry after {after} within {PATIENCE} s ({len(seen)} of {want} seen)"
        assert [e.sequence for e in got] == list(range(after + 1, after + 1 + len(got)))
        seen += got
        after = got[-1].sequence
    return seen


def test_a_blocking_tail_follows_a_writer_thread(journal):
    following = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            assert following.wait(PATIENCE)
            for n in range(ENTRIES):
                if n % 10 == 9:
                    journal.append_batch([entry(n), entry(n)])
                else:
                    journal.append(entry(n))
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        # Nothing is there yet: the first tail can only return by waiting.
        assert journal.get_latest_sequence() == 0
        following.set()
        seen = follow(journal, 0, ENTRIES + ENTRIES // 10)
    finally:
        following.set()
        thread.join(PATIENCE)
    assert not errors, errors
    expected = []
    for n in range(ENTRIES):
        expected += [n, n] if n % 10 == 9 else [n]
    assert [e.context["n"] for e in seen] == expected
    assert [e.sequence for e in seen] == list(range(1, len(expected) + 1))
    # Nothing more arrives: a short wait times out with nothing.
    assert list(journal.tail(len(expected), timeout=0.01)) == []


def test_a_wait_releases_the_gil(journal):
    """The waiting thread holds no GIL: the main thread runs Python and
    appends while it waits. With the GIL held, the main thread would stall
    until the waiter timed out, and the waiter would return no new entry."""
    journal.append(entry(0))
    ready = threading.Event()
    returned: list[int] = []

    def waiter() -> None:
        ready.set()
        returned.append(journal.wait(1, timeout=GIL_PATIENCE))

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert ready.wait(PATIENCE)
    sequence = journal.append(entry(1))
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert sequence == 2
    assert returned == [sequence], (
        f"GIL held while waiting: the wait returned {returned} before the append of {sequence}"
    )


def test_closing_the_journal_ends_a_wait_without_limit(journal):
    ready = threading.Event()
    raised: list[BaseException] = []

    def waiter() -> None:
        ready.set()
        try:
            journal.wait(0, timeout=None)
        except BaseException as e:  # checked by the main thread
            raised.append(e)

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert ready.wait(PATIENCE)
    journal.close()
    thread.join(PATIENCE)
    assert not thread.is_alive(), "the wait outlived the close"
    assert len(raised) == 1 and isinstance(raised[0], bj.JournalClosedError), raised


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    import baldur_journal as bj

    with bj.DiskEventJournalRepository(sys.argv[1]) as journal:
        print("open", flush=True)
        sys.stdin.readline()  # the follower is ready
        for n in range(int(sys.argv[2])):
            journal.append(bj.JournalEntry(0, "tick", "process", datetime.now(timezone.utc),
                                           "tail", {"n": n}))
    """
)


def test_a_read_only_follower_waits_for_a_writer_process(journal_dir):
    # Created (and closed) here, so that the follower can open it.
    bj.DiskEventJournalRepository(journal_dir).close()
    count = 120
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(journal_dir), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "open\n"
        with bj.DiskEventJournalRepository(journal_dir, read_only=True) as follower:
            assert follower.get_latest_sequence() == 0
            child.stdin.write("go\n")
            child.stdin.flush()
            seen = follow(follower, 0, count)
        assert child.wait(PATIENCE) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert [e.context["n"] for e in seen] == list(range(count))
    assert {e.source for e in seen} == {"process"}


def test_timeouts_and_bad_arguments(journal):
    journal.append_batch([entry(0), entry(1)])
    # An entry is there: no wait, whatever the timeout.
    assert journal.wait(1, timeout=0) == 2
    assert journal.wait(0) == 2
    assert [e.sequence for e in journal.tail(1, timeout=None)] == [2]
    # Nothing after 2: the wait ends at the timeout, not before.
    started = time.monotonic()
    assert journal.wait(2, timeout=0.05) == 2
    assert time.monotonic() - started >= 0.05
    assert list(journal.tail(2, timeout=0.02)) == []
    assert list(journal.tail(2)) == []
    for bad in (-1, -0.5, math.nan):
        with pytest.raises(ValueError, match="timeout"):
            journal.wait(2, timeout=bad)
        with pytest.raises(ValueError, match="timeout"):
            journal.tail(2, timeout=bad)
    for bad in ("1", True, [1]):
        with pytest.raises(TypeError, match="timeout"):
            journal.wait(2, timeout=bad)
    with pytest.raises(TypeError, match="after"):
        journal.wait("2")
    journal.close()
    with pytest.raises(bj.JournalClosedError):
        journal.wait(0, timeout=0)
