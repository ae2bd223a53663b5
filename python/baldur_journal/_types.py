"""The seed's data types: baldur-framework's own classes when it is
installed, else dataclasses of the same shape."""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

try:
    from baldur.interfaces.event_journal import (
        EventJournalLifecycle,
        EventJournalRepository,
        JournalEntry,
        JournalQueryFilter,
        JournalQueryResult,
    )
    from baldur.interfaces.statistics import (
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

    REFERENCE = True
except ImportError:  # baldur-framework is not installed
    REFERENCE = False

    class EventJournalRepository(ABC):  # type: ignore[no-redef]
        """Stands in for baldur-framework's interface of the same name."""

    class EventJournalLifecycle(ABC):  # type: ignore[no-redef]
        """Stands in for baldur-framework's interface of the same name."""

    class StatisticsRepositoryInterface(ABC):  # type: ignore[no-redef]
        """Stands in for baldur-framework's interface of the same name."""

    @dataclass(frozen=True)
    class JournalEntry:  # type: ignore[no-redef]
        """One event (the seed's JournalEntry)."""

        sequence: int
        event_type: str
        source: str
        timestamp: datetime
        service_name: str
        context: dict[str, Any] = field(default_factory=dict)
        region: str = ""
        tier_id: str = ""

    @dataclass
    class JournalQueryFilter:  # type: ignore[no-redef]
        """Query criteria (the seed's JournalQueryFilter)."""

        event_types: list[str] | None = None
        service_name: str | None = None
        start_time: datetime | None = None
        end_time: datetime | None = None
        region: str | None = None
        limit: int = 1000
        context_filters: dict[str, str] | None = None

    @dataclass(frozen=True)
    class JournalQueryResult:  # type: ignore[no-redef]
        """A query's answer (the seed's JournalQueryResult)."""

        entries: list[JournalEntry]
        truncated: bool
        total_count: int | None = None

    @dataclass
    class StatusCounts:  # type: ignore[no-redef]
        """DLQ entries by status."""

        total: int = 0
        pending: int = 0
        resolved: int = 0
        failed: int = 0
        archived: int = 0
        reviewing: int = 0
        replayed: int = 0
        requires_review: int = 0
        rejected: int = 0
        expired: int = 0

    @dataclass
    class DomainDistribution:  # type: ignore[no-redef]
        """One domain's share."""

        domain: str
        count: int
        percentage: float

    @dataclass
    class FailureTypeDistribution:  # type: ignore[no-redef]
        """One failure type's share."""

        failure_type: str
        count: int
        percentage: float

    @dataclass
    class RecentActivity:  # type: ignore[no-redef]
        """New and resolved entries in two windows."""

        new_in_24h: int = 0
        resolved_in_24h: int = 0
        new_in_7d: int = 0
        resolved_in_7d: int = 0
        trend: str = "stable"

    @dataclass
    class CleanupStats:  # type: ignore[no-redef]
        """What the cleanup could do."""

        total: int = 0
        by_status: dict[str, int] = field(default_factory=dict)
        resolved_older_than_30_days: int = 0
        archived_older_than_90_days: int = 0

        @property
        def can_archive(self) -> int:
            return self.resolved_older_than_30_days

        @property
        def can_purge(self) -> int:
            return self.archived_older_than_90_days

    @dataclass
    class PaginatedResult:  # type: ignore[no-redef]
        """One page of entries."""

        items: list[Any] = field(default_factory=list)
        total: int = 0
        page: int = 1
        page_size: int = 20
        has_next: bool = False
        has_prev: bool = False

        @property
        def total_pages(self) -> int:
            if self.page_size <= 0:
                return 0
            return (self.total + self.page_size - 1) // self.page_size

    @dataclass
    class CircuitBreakerSummary:  # type: ignore[no-redef]
        """Circuit breakers by state."""

        total: int = 0
        closed: int = 0
        open: int = 0
        half_open: int = 0

    @dataclass
    class CircuitBreakerInfo:  # type: ignore[no-redef]
        """One circuit breaker."""

        service_name: str
        state: str
        failure_count: int = 0
        success_count: int = 0
        last_failure_time: datetime | None = None
        last_state_change: datetime | None = None

    @dataclass
    class AuditTrailEntry:  # type: ignore[no-redef]
        """One action on an entity."""

        timestamp: datetime
        action: str
        actor_id: str | None = None
        status: str | None = None
        details: str | None = None
        hash_chain: str | None = None
        previous_hash: str | None = None

    @dataclass
    class EntityAuditTrail:  # type: ignore[no-redef]
        """Every action on an entity."""

        entity_id: str
        entity_type: str
        domain: str
        created_at: datetime | None = None
        resolved_at: datetime | None = None
        current_status: str = "unknown"
        entries: list[AuditTrailEntry] = field(default_factory=list)

        @property
        def total_entries(self) -> int:
            return len(self.entries)

        @property
        def is_chain_valid(self) -> bool:
            for i, entry in enumerate(self.entries):
                expected = None if i == 0 else self.entries[i - 1].hash_chain
                if entry.previous_hash != expected:
                    return False
            return True


__all__ = [
    "REFERENCE",
    "AuditTrailEntry",
    "CircuitBreakerInfo",
    "CircuitBreakerSummary",
    "CleanupStats",
    "DomainDistribution",
    "EntityAuditTrail",
    "EventJournalLifecycle",
    "EventJournalRepository",
    "FailureTypeDistribution",
    "JournalEntry",
    "JournalQueryFilter",
    "JournalQueryResult",
    "PaginatedResult",
    "RecentActivity",
    "StatisticsRepositoryInterface",
    "StatusCounts",
]
