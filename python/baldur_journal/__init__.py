"""baldur_journal: the baldur-journal engine for Python services on
baldur-framework.

- :class:`DiskEventJournalRepository`: the ``EventJournalRepository`` on a
  durable, append-only journal directory.
- :class:`JournalStatisticsRepository`: the ``StatisticsRepositoryInterface``
  folded over any of these journals.
- :class:`SqlStatisticsRepository`: the same interface over the reference's
  own DLQ tables in SQLite (the answers of its ``SQLStatisticsRepository``).
- :class:`EventJournalLifecycle`: the reference's lifecycle interface on
  the engine's tiered storage (archive moves whole old segments to a tier
  directory, purge deletes the tier's oldest).
- :func:`open`: a journal by URL (``file:``, ``memory:``, ``redis://``,
  ``sqlite://``).

With baldur-framework installed the classes subclass its interfaces and take
and return its own ``JournalEntry``, ``JournalQueryFilter`` and
``JournalQueryResult`` and statistics DTOs; without it, dataclasses of the
same shape from this package.
"""

from . import errors
from ._types import (
    REFERENCE,
    JournalEntry,
    JournalQueryFilter,
    JournalQueryResult,
)
from .errors import (
    JournalClosedError,
    JournalCorruptionError,
    JournalError,
    JournalInputError,
    JournalLockedError,
    JournalReadOnlyError,
)
from .journal import DiskEventJournalRepository, EventJournalLifecycle, open
from .stats import JournalStatisticsRepository, SqlStatisticsRepository

__all__ = [
    "REFERENCE",
    "DiskEventJournalRepository",
    "EventJournalLifecycle",
    "JournalClosedError",
    "JournalCorruptionError",
    "JournalEntry",
    "JournalError",
    "JournalInputError",
    "JournalLockedError",
    "JournalQueryFilter",
    "JournalQueryResult",
    "JournalReadOnlyError",
    "JournalStatisticsRepository",
    "SqlStatisticsRepository",
    "errors",
    "open",
]
