"""DiskEventJournalRepository: baldur-framework's EventJournalRepository on
the baldur-journal disk engine."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

from . import _native
from .errors import JournalError
from ._codec import EPOCH  # noqa: F401  (configures the native core first)
from ._types import EventJournalLifecycle as _EventJournalLifecycleBase
from ._types import EventJournalRepository, JournalEntry, JournalQueryFilter, JournalQueryResult

#: The reference's default ``max_query_limit``.
DEFAULT_MAX_QUERY_LIMIT = 10_000
#: Entries per native call while iterating a replay or a tail.
REPLAY_CHUNK_ENTRIES = 2048
#: The largest sequence the engine stores.
SEQUENCE_MAX = 2**64 - 1


def _clamp_sequence(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}")
    return min(max(value, 0), SEQUENCE_MAX)


def _check_timeout(timeout: float | None) -> float | None:
    """A timeout in seconds: ``None`` (no limit) or a number, 0 or more."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, got {type(timeout).__name__}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be 0 or more seconds, got {timeout}")
    return None if math.isinf(timeout) else float(timeout)


class DiskEventJournalRepository(EventJournalRepository):
    """An append-only journal in a directory, durable by default.

    ``path``: the journal directory (created when missing); default
    ``$BALDUR_JOURNAL_DIR``, so a registry can build it with no arguments.
    ``durability``: ``"always"`` (the default: ``append`` returns only after
    the ``fdatasync`` that covers the entry; concurrent appends share one
    sync), ``"every:N"`` (sync every N records), ``"interval:MS"`` or
    ``"os"`` (acknowledge once written; an OS crash or power cut can lose the
    entries acknowledged since the last sync, a process crash cannot).
    ``segment_bytes``: the segment file size. ``read_only``: never write to
    the directory (for a copy off a broken machine, or to follow a live
    writer). ``max_query_limit``: the cap on a query's limit, as the
    reference's.

    Differences from the reference's in-memory journal: entries survive
    restarts and sequences continue; contexts are stored as JSON, so values
    that are not JSON come back as the primitives the reference's SQL
    adapter stores (see ``baldur_journal._codec``), and mutating a context
    after ``append`` changes nothing stored; timestamps come back as aware
    UTC datetimes (the same instant); a naive datetime and a negative limit
    are refused.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        durability: str = "always",
        segment_bytes: int | None = None,
        read_only: bool = False,
        max_query_limit: int = DEFAULT_MAX_QUERY_LIMIT,
        *,
        _native_journal: Any = None,
    ) -> None:
        if _native_journal is not None:
            self._native = _native_journal
            self.path = None
            return
        if path is None:
            path = os.environ.get("BALDUR_JOURNAL_DIR")
            if not path:
                raise ValueError(
                    "path: no journal directory given and BALDUR_JOURNAL_DIR is not set"
                )
        if not isinstance(durability, str):
            raise TypeError(f"durability must be a str, got {type(durability).__name__}")
        if segment_bytes is not None and (
            isinstance(segment_bytes, bool) or not isinstance(segment_bytes, int)
        ):
            raise TypeError(f"segment_bytes must be an int, got {type(segment_bytes).__name__}")
        if isinstance(max_query_limit, bool) or not isinstance(max_query_limit, int):
            raise TypeError(
                f"max_query_limit must be an int, got {type(max_query_limit).__name__}"
            )
        if max_query_limit < 1:
            raise ValueError(f"max_query_limit must be 1 or more, got {max_query_limit}")
        self.path = os.fspath(path)
        self._native = _native.NativeJournal.open_dir(
            self.path, durability, segment_bytes, bool(read_only), max_query_limit
        )

    # -- the reference's interface -------------------------------------------

    def append(self, entry: JournalEntry) -> int:
        """Appends ``entry`` (its ``sequence`` is ignored); returns the
        assigned sequence once the entry is acknowledged (durable, under
        ``durability="always"``)."""
        return self._native.append(entry)

    def query(self, query_filter: JournalQueryFilter) -> JournalQueryResult:
        """Entries matching the filter in ascending sequence order, at most
        the effective limit, with exact ``truncated`` and ``total_count``."""
        entries, truncated, total = self._native.query(query_filter)
        return JournalQueryResult(entries=entries, truncated=truncated, total_count=total)

    def get_sequence_range(self, start_sequence: int, end_sequence: int) -> list[JournalEntry]:
        """Entries with ``start_sequence <= sequence < end_sequence``, ascending."""
        return list(self.replay(start_sequence, end_sequence))

    def get_latest_sequence(self) -> int:
        """The latest sequence, 0 when the journal is empty."""
        return self._native.latest()

    def count(self, query_filter: JournalQueryFilter) -> int:
        """The number of entries matching the filter (its limit is ignored)."""
        return self._native.count(query_filter)

    # -- more than the interface ---------------------------------------------

    def append_batch(self, entries: Iterable[JournalEntry]) -> list[int]:
        """Appends entries as one batch with consecutive sequences and one
        sync; either all are acknowledged or the call raises."""
        return self._native.append_batch(entries)

    def replay(self, start: int = 1, end: int | None = None) -> Iterator[JournalEntry]:
        """Lazily yields the entries with ``start <= sequence < end`` (``end``
        None: to the end of the journal as it is when iteration starts),
        a chunk at a time, so a replay of millions of entries holds one
        chunk in memory."""
        start = _clamp_sequence(start, "start")
        if end is not None:
            end = _clamp_sequence(end, "end")
        return self._chunks(start, end)

    def tail(
        self, after: int = 0, limit: int | None = None, timeout: float | None = 0.0
    ) -> Iterator[JournalEntry]:
        """Lazily yields the entries after sequence ``after`` (at most
        ``limit``). A follower calls it again with the last sequence it saw;
        on a read-only handle it sees what the writer has synced.

        ``timeout``: how long, in seconds, to wait for a first entry when
        there is none after ``after`` yet (see :meth:`wait`): ``0`` (the
        default) yields what the journal holds now, ``None`` waits without
        limit. The wait starts at the first ``next()`` and releases the GIL;
        when it times out the iterator is empty."""
        after = _clamp_sequence(after, "after")
        timeout = _check_timeout(timeout)
        if after == SEQUENCE_MAX:
            return iter(())
        return self._tail(after, limit, timeout)

    def _tail(self, after: int, limit: int | None, timeout: float | None) -> Iterator[JournalEntry]:
        self._behind_retention(after)
        if timeout != 0 and self._native.wait(after, timeout) <= after:
            return
        self._behind_retention(after)
        yield from self._chunks(after + 1, None, limit)

    def _behind_retention(self, after: int) -> None:
        """A follower that read up to ``after`` must not skip entries a
        retention drop removed before it read them: it gets an error that
        names them (``after`` 0, from the start, gets what remains)."""
        mark = self._native.retention_mark()
        if after > 0 and mark is not None and after + 1 < mark:
            raise JournalError(
                f"the follower fell behind retention: sequences {after + 1}..{mark - 1} were "
                f"dropped before they were read (the journal now starts at {mark})"
            )

    def wait(self, after: int, timeout: float | None = None) -> int:
        """Blocks until the journal holds an entry after sequence ``after``,
        or ``timeout`` seconds pass (``None``: no limit); returns the latest
        sequence, ``after`` or below when the time ran out.

        The wait sleeps in the native core without the GIL (no polling in
        Python): an append through any handle of this process wakes it at
        once, and a writer in another process is seen within about 10 ms
        (the native core looks at the journal that often). Ctrl-C ends it
        (``KeyboardInterrupt``) within about 0.1 s, and closing the journal
        from another thread with ``JournalClosedError``."""
        after = _clamp_sequence(after, "after")
        return self._native.wait(after, _check_timeout(timeout))

    def _chunks(self, start: int, end: int | None, limit: int | None = None) -> Iterator[JournalEntry]:
        left = limit
        cursor = self._native.cursor(start, end)
        while end is None or start < end:
            want = REPLAY_CHUNK_ENTRIES if left is None else min(left, REPLAY_CHUNK_ENTRIES)
            if want <= 0:
                return
            if cursor is not None:
                chunk = cursor.next_chunk(want)
            else:
                chunk = self._native.range(start, end, want)
            yield from chunk
            if len(chunk) < want:
                return
            if left is not None:
                left -= len(chunk)
            last = chunk[-1].sequence
            if last == SEQUENCE_MAX:
                return
            start = last + 1

    def sync(self) -> None:
        """Waits until everything acknowledged is durable."""
        self._native.sync()

    def write_stats(self) -> dict[str, float] | None:
        """This handle's writer since the open: ``records`` appended,
        ``syncs`` that made them durable, and ``mean_batch`` (records per
        sync, the group-commit batch); None for a journal not on disk."""
        stats = self._native.write_stats()
        if stats is None:
            return None
        records, syncs = stats
        return {
            "records": records,
            "syncs": syncs,
            "mean_batch": records / syncs if syncs else 0.0,
        }

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._native.closed

    def close(self) -> None:
        """Drains, syncs and releases the journal (and the writer lock).
        Calls after it raise ``JournalClosedError``; a second close does
        nothing."""
        self._native.close()

    def __enter__(self) -> DiskEventJournalRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"DiskEventJournalRepository({self.path!r}, {state})"


class EventJournalLifecycle(_EventJournalLifecycleBase):
    """baldur-framework's ``EventJournalLifecycle`` on the engine's tiered
    storage (docs/DESIGN.md, "Retention" and "Tiered storage").

    ``archive_older_than(cutoff)`` moves every sealed segment whose entries
    were all appended before ``cutoff`` to ``tier_dir`` (copied, synced and
    proven against the segment's digest before the originals go; the
    journal then starts at its retention mark, and ``open(dir,
    tier_dir=...)``-style reads are the command line's ``--tier-dir``).
    ``purge_archived(before)`` deletes the tier's segments whose entries were
    all appended before ``before``. Both work on whole segments, never on
    single entries (the active segment always stays), and return how many
    entries they moved or deleted.
    """

    def __init__(self, journal: DiskEventJournalRepository, tier_dir: str | os.PathLike[str]) -> None:
        if not isinstance(journal, DiskEventJournalRepository):
            raise TypeError(f"journal must be a DiskEventJournalRepository, got {type(journal).__name__}")
        self._journal = journal
        self._tier = os.fspath(tier_dir)

    def archive_older_than(self, cutoff: Any) -> int:
        return self._journal._native.archive_older_than(cutoff, self._tier)

    def purge_archived(self, before: Any) -> int:
        return self._journal._native.purge_archived(before, self._tier)

    def retention_mark(self) -> int | None:
        """The first retained sequence of the live journal (None: nothing moved)."""
        return self._journal._native.retention_mark()


def open(url: str, read_only: bool = False) -> DiskEventJournalRepository:  # noqa: A001
    """Opens the journal ``url`` names, as the Rust ``open`` and the CLI's
    ``--journal``: ``file:///path`` or a bare path (a disk journal),
    ``memory:`` (a new, empty in-memory journal),
    ``redis://host:6379/0?prefix=NAME[&layout=baldur]``, or
    ``sqlite:///relative.db`` / ``sqlite:////absolute.db`` (the reference's
    ``baldur_event_journal`` table, docs/SQL.md; PostgreSQL URLs are refused
    by this package's build). The result has the same methods whatever the
    backend."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    return DiskEventJournalRepository(
        _native_journal=_native.NativeJournal.open_url(url, bool(read_only))
    )
