"""Python threads appending durably share group commits: the GIL is
released around the append and its sync."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import baldur_journal as bj

THREADS = 8
APPENDS_PER_THREAD = 150


def test_eight_threads_append_durably_and_share_syncs(journal_dir):
    with bj.DiskEventJournalRepository(journal_dir, durability="always") as journal:
        start = threading.Barrier(THREADS)
        got: dict[int, list[int]] = {}

        def writer(thread: int) -> None:
            mine = got.setdefault(thread, [])
            start.wait()
            for n in range(APPENDS_PER_THREAD):
                entry = bj.JournalEntry(
                    sequence=0,
                    event_type="tick",
                    source=f"thread-{thread}",
                    timestamp=datetime.now(timezone.utc),
                    service_name="threads",
                    context={"thread": thread, "n": n},
                )
                mine.append(journal.append(entry))

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = journal.write_stats()

        every = [s for mine in got.values() for s in mine]
        total = THREADS * APPENDS_PER_THREAD
        assert len(every) == total and len(set(every)) == total, "sequences are unique"
        for mine in got.values():
            assert mine == sorted(mine) and len(set(mine)) == len(mine), "increasing per thread"
        assert sorted(every) == list(range(1, total + 1))
        # Each thread's entries carry its own sequence order.
        for entry in journal.replay():
            assert got[entry.context["thread"]][entry.context["n"]] == entry.sequence
        assert stats["records"] == total
        assert stats["mean_batch"] > 1.0, f"no group commit: {stats}"
