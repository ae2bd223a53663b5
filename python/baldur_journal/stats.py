"""baldur-framework's StatisticsRepositoryInterface, twice:

- :class:`JournalStatisticsRepository` folds a journal (docs/STATISTICS.md).
  Every read catches up with the journal first, so entries appended by any
  process are counted. Writes (``persist_entry``, ``link_audit_entry``,
  ``archive_old_entries``, ...) append events to the journal.
- :class:`SqlStatisticsRepository` reads and writes the reference's own DLQ
  tables (``baldur_dlq``, ``baldur_cb_state``) in a SQLite database, as the
  reference's ``SQLStatisticsRepository`` does (docs/SQL.md).

Unlike the reference's adapters, which answered every failure with empty
data, a method that cannot answer raises.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import _native
from ._codec import _primitive, from_text, to_nanos
from ._types import (
    AuditTrailEntry,
    CircuitBreakerInfo,
    CircuitBreakerSummary,
    CleanupStats,
    DomainDistribution,
    EntityAuditTrail,
    FailureTypeDistribution,
    PaginatedResult,
    RecentActivity,
    StatisticsRepositoryInterface,
    StatusCounts,
)

#: A URL's scheme (anything else is a path).
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

#: Fields of list items and entry details that hold times.
_TIME_FIELDS = ("created_at", "updated_at", "resolved_at", "last_retry_at", "expires_at")


def _times(item: dict[str, Any]) -> dict[str, Any]:
    for name in _TIME_FIELDS:
        if name in item:
            item[name] = from_text(item[name])
    return item


class _NativeStatisticsRepository(StatisticsRepositoryInterface):
    """The interface's 20 methods over a native statistics object
    (``self._native``), shared by both repositories."""

    _native: Any

    def _call(self, method: str, **arguments: Any) -> Any:
        # Values beyond JSON (datetimes, Decimal, ...) as the reference's SQL
        # adapter writes them.
        try:
            text = json.dumps(arguments, default=_primitive, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{method}: {e}") from None
        return json.loads(self._native.call(method, text))

    # -- reads -----------------------------------------------------------------

    def get_status_counts(self) -> StatusCounts:
        return StatusCounts(**self._call("get_status_counts"))

    def get_domain_distribution(self, limit: int = 10) -> list[DomainDistribution]:
        return [DomainDistribution(**d) for d in self._call("get_domain_distribution", limit=limit)]

    def get_failure_type_distribution(self, limit: int = 10) -> list[FailureTypeDistribution]:
        return [
            FailureTypeDistribution(**d)
            for d in self._call("get_failure_type_distribution", limit=limit)
        ]

    def get_recent_activity(self, hours: int = 24, days: int = 7) -> RecentActivity:
        return RecentActivity(**self._call("get_recent_activity", hours=hours, days=days))

    def get_resolution_rate(self, days: int = 30) -> float:
        return float(self._call("get_resolution_rate", days=days))

    def get_avg_retry_count(self) -> float:
        return float(self._call("get_avg_retry_count"))

    def list_entries(
        self,
        page: int = 1,
        page_size: int = 20,
        status: str | None = None,
        domain: str | None = None,
        failure_type: str | None = None,
        order_by: str = "-created_at",
    ) -> PaginatedResult:
        answer = self._call(
            "list_entries",
            page=page,
            page_size=page_size,
            status=status,
            domain=domain,
            failure_type=failure_type,
            order_by=order_by,
        )
        answer.pop("total_pages", None)
        answer["items"] = [_times(item) for item in answer["items"]]
        return PaginatedResult(**answer)

    def get_entry_detail(self, entry_id: str) -> dict[str, Any] | None:
        detail = self._call("get_entry_detail", entry_id=entry_id)
        return None if detail is None else _times(detail)

    def get_sla_breaches(
        self, sla_threshold_hours: int = 4, statuses: list[str] | None = None
    ) -> dict[str, int]:
        return self._call(
            "get_sla_breaches", sla_threshold_hours=sla_threshold_hours, statuses=statuses
        )

    def get_cleanup_stats(self) -> CleanupStats:
        answer = self._call("get_cleanup_stats")
        answer.pop("can_archive", None)
        answer.pop("can_purge", None)
        return CleanupStats(**answer)

    def get_circuit_breaker_summary(self) -> CircuitBreakerSummary:
        return CircuitBreakerSummary(**self._call("get_circuit_breaker_summary"))

    def list_circuit_breakers(self) -> list[CircuitBreakerInfo]:
        out = []
        for info in self._call("list_circuit_breakers"):
            info["last_failure_time"] = from_text(info.get("last_failure_time"))
            info["last_state_change"] = from_text(info.get("last_state_change"))
            out.append(CircuitBreakerInfo(**info))
        return out

    def get_audit_trail_by_entity(
        self, entity_id: str, entity_type: str = "dlq_entry"
    ) -> EntityAuditTrail:
        answer = self._call(
            "get_audit_trail_by_entity", entity_id=entity_id, entity_type=entity_type
        )
        entries = []
        for item in answer.get("entries", []):
            item["timestamp"] = from_text(item["timestamp"])
            entries.append(AuditTrailEntry(**item))
        return EntityAuditTrail(
            entity_id=answer["entity_id"],
            entity_type=answer["entity_type"],
            domain=answer["domain"],
            created_at=from_text(answer.get("created_at")),
            resolved_at=from_text(answer.get("resolved_at")),
            current_status=answer.get("current_status", "unknown"),
            entries=entries,
        )

    # -- writes ----------------------------------------------------------------

    def archive_old_entries(self, older_than_days: int = 30) -> int:
        return self._call("archive_old_entries", older_than_days=older_than_days)

    def purge_archived(
        self, ids: list[str] | None = None, older_than_days: int | None = None
    ) -> int:
        """Purges archived entries by ids, by age, or both. Unlike the
        reference, neither given is an error, not "purge every archived
        entry"."""
        return self._call("purge_archived", ids=ids, older_than_days=older_than_days)

    def persist_entry(self, entry_data: dict[str, Any]) -> str | None:
        if not isinstance(entry_data, dict):
            raise TypeError(f"entry_data must be a dict, got {type(entry_data).__name__}")
        return self._call("persist_entry", entry_data=entry_data)

    def sync_from_runtime(self, entries: list[dict[str, Any]]) -> int:
        return self._call("sync_from_runtime", entries=list(entries))

    def link_audit_entry(
        self,
        entity_id: str,
        entity_type: str,
        action: str,
        actor_id: str | None = None,
        status: str | None = None,
        details: str | None = None,
        audit_record_hash: str | None = None,
    ) -> bool:
        return self._call(
            "link_audit_entry",
            entity_id=entity_id,
            entity_type=entity_type,
            action=action,
            actor_id=actor_id,
            status=status,
            details=details,
            audit_record_hash=audit_record_hash,
        )

    def should_persist_async(self) -> bool:
        return self._call("should_persist_async")

    def get_async_persist_task_name(self) -> str | None:
        return self._call("get_async_persist_task_name")


class JournalStatisticsRepository(_NativeStatisticsRepository):
    """The DLQ statistics of ``journal`` (a ``DiskEventJournalRepository``
    or anything ``baldur_journal.open`` returned).

    ``keys``: a mapping of key id to secret (bytes or str) that verifies
    keyed audit chains; ``signing_key``: the id among them that chains the
    DLQ events written through this repository (default: keyless SHA-256
    chains). ``now``: a fixed aware datetime that every time window is
    measured from, as the CLI's ``--now``; default the wall clock.
    """

    def __init__(
        self,
        journal: Any,
        keys: Mapping[str, bytes | str] | None = None,
        now: datetime | None = None,
        *,
        signing_key: str | None = None,
        _native_stats: Any = None,
    ) -> None:
        self.journal = journal
        if _native_stats is not None:
            self._native = _native_stats
            return
        native_journal = getattr(journal, "_native", None)
        if not isinstance(native_journal, _native.NativeJournal):
            raise TypeError(
                "journal must be a baldur_journal journal (DiskEventJournalRepository or "
                f"baldur_journal.open(...)), got {type(journal).__name__}"
            )
        pairs = []
        if keys is not None:
            if not isinstance(keys, Mapping):
                raise TypeError(f"keys must be a mapping of id to secret, got {type(keys).__name__}")
            for key_id, secret in keys.items():
                if not isinstance(key_id, str):
                    raise TypeError(f"keys: a key id must be a str, got {type(key_id).__name__}")
                if isinstance(secret, str):
                    secret = secret.encode()
                if not isinstance(secret, (bytes, bytearray)):
                    raise TypeError(
                        f"keys[{key_id!r}] must be bytes or str, got {type(secret).__name__}"
                    )
                pairs.append((key_id, bytes(secret)))
        now_ns = None if now is None else to_nanos(now, "now")
        self._native = _native.NativeStatistics(native_journal, pairs, signing_key, now_ns)

    def as_of(
        self,
        sequence: int | None = None,
        time: datetime | None = None,
        now: datetime | None = None,
    ) -> JournalStatisticsRepository:
        """The statistics as they were: up to ``sequence``, or of the entries
        appended at or before ``time`` (windows then measured from ``time``).
        ``now`` sets the clock of a view by sequence. The view is read-only."""
        if (sequence is None) == (time is None):
            raise ValueError("as_of takes sequence or time, exactly one")
        if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int)):
            raise TypeError(f"sequence must be an int, got {type(sequence).__name__}")
        if sequence is not None and sequence < 0:
            raise ValueError(f"sequence must be 0 or more, got {sequence}")
        time_ns = None if time is None else to_nanos(time, "time")
        now_ns = None if now is None else to_nanos(now, "now")
        view = self._native.as_of(sequence, time_ns, now_ns)
        return JournalStatisticsRepository(self.journal, _native_stats=view)


class SqlStatisticsRepository(_NativeStatisticsRepository):
    """The DLQ statistics in the reference's own tables, ``baldur_dlq`` and
    ``baldur_cb_state``, of a SQLite database: the answers of the reference's
    ``SQLStatisticsRepository`` on the same rows (docs/SQL.md lists where
    they differ: failures raise instead of reading as "no data", ties are
    broken by id, timestamps are compared as instants, ...). Named apart
    from the reference's class so that both can be imported together.

    ``url``: ``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (with
    ``busy_timeout_ms=N``), or a path to the database file (a str without a
    scheme, or a path object). ``baldur_dlq``
    is created with the reference's DDL when missing, unless ``read_only``
    (then it must exist, and the writes raise ``JournalReadOnlyError``).
    ``now``: a fixed aware datetime that every time window is measured
    from, as the CLI's ``--now``; default the wall clock. The tables hold
    only the present, so there is no ``as_of``; a PostgreSQL URL is refused
    in this release.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        now: datetime | None = None,
        read_only: bool = False,
    ) -> None:
        if isinstance(url, os.PathLike):
            url = os.fspath(url)
        if not isinstance(url, str):
            raise TypeError(f"url must be a str or a path, got {type(url).__name__}")
        if not _URL_SCHEME.match(url):
            # A path to the database file.
            if "?" in url:
                raise ValueError(f"url: the path {url!r} holds '?': give a sqlite:/// URL")
            url = "sqlite:///" + url
        self.url = url
        now_ns = None if now is None else to_nanos(now, "now")
        self._native = _native.NativeStatistics.open_sql(url, bool(read_only), now_ns)

    # The table's key is an INTEGER, which the reference returns as an int
    # in listings and entry details (the journal's fold has str ids).

    def list_entries(
        self,
        page: int = 1,
        page_size: int = 20,
        status: str | None = None,
        domain: str | None = None,
        failure_type: str | None = None,
        order_by: str = "-created_at",
    ) -> PaginatedResult:
        result = super().list_entries(page, page_size, status, domain, failure_type, order_by)
        for item in result.items:
            _integer_id(item)
        return result

    def get_entry_detail(self, entry_id: str) -> dict[str, Any] | None:
        detail = super().get_entry_detail(str(entry_id))
        return None if detail is None else _integer_id(detail)

    def __repr__(self) -> str:
        return f"SqlStatisticsRepository({self.url!r})"


def _integer_id(item: dict[str, Any]) -> dict[str, Any]:
    """``id`` as the int the table holds."""
    try:
        item["id"] = int(item["id"])
    except (KeyError, TypeError, ValueError):
        pass
    return item
