"""Exceptions of baldur_journal. Each carries the engine's message: the
journal directory for a second writer, the file and byte offset for damage,
the field for bad input."""


class JournalError(Exception):
    """Any error of the journal engine."""


class JournalLockedError(JournalError):
    """Another process holds the journal's writer lock (open it read-only,
    or stop the other writer)."""


class JournalCorruptionError(JournalError):
    """A damaged, missing or foreign file: the message names the file and
    the byte offset."""


class JournalInputError(JournalError, ValueError):
    """Input the engine refuses (an entry, filter, timestamp or option)."""


class JournalClosedError(JournalError):
    """The journal is closed."""


class JournalReadOnlyError(JournalError):
    """A write to a journal opened read-only."""
