"""How context values are stored, and the native core's configuration.

Plain JSON values (str, int, float, bool, None, list, dict with str keys)
round-trip exactly; the native core writes them itself. Anything else goes
through :func:`encode_context`, which stores it the way baldur-framework's
SQL adapter does: the standard library's ``json.dumps`` with its fallbacks
(enums as their value, datetimes, dates and times as ISO text, Decimal, UUID,
bytes and timedelta as ``str``). Such values come back as those primitives.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from . import _native, errors
from ._types import JournalEntry

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _primitive(value: Any) -> Any:
    """The SQL adapter's ``json.dumps`` fallback (baldur.core.types)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID, bytes, timedelta)):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_context(context: dict) -> str:
    """JSON text of a context holding values beyond plain JSON."""
    try:
        return json.dumps(context, default=_primitive, ensure_ascii=False, allow_nan=False)
    except TypeError as e:
        raise TypeError(f"context: {e}") from None
    except ValueError as e:
        raise ValueError(f"context: {e}") from None
    except RecursionError:
        raise ValueError("context: nested too deeply") from None


def _fills_dict(cls: type) -> bool:
    """Whether instances of ``cls`` can be built by filling ``__dict__``: a
    dataclass with exactly the seed's eight fields, no ``__post_init__``
    and no slots (the reference's JournalEntry, and ours)."""
    import dataclasses

    names = ["sequence", "event_type", "source", "timestamp", "service_name", "context",
             "region", "tier_id"]
    return (
        dataclasses.is_dataclass(cls)
        and [f.name for f in dataclasses.fields(cls)] == names
        and not hasattr(cls, "__post_init__")
        and not hasattr(cls, "__slots__")
    )


_native.configure(
    entry_class=JournalEntry,
    datetime_type=datetime,
    epoch=EPOCH,
    json_loads=json.loads,
    encode_context=encode_context,
    errors={
        "journal": errors.JournalError,
        "locked": errors.JournalLockedError,
        "corruption": errors.JournalCorruptionError,
        "input": errors.JournalInputError,
        "closed": errors.JournalClosedError,
        "read_only": errors.JournalReadOnlyError,
    },
    fill_entry_dict=_fills_dict(JournalEntry),
)


def to_nanos(value: datetime, field: str) -> int:
    """An aware datetime as UTC nanoseconds since the epoch."""
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise ValueError(f"{field} is a naive datetime ({value}): give it a UTC offset")
    return (value - EPOCH) // timedelta(microseconds=1) * 1000


def from_text(value: str | None) -> datetime | None:
    """An RFC 3339 text from the native core (``...Z``) as an aware datetime."""
    if value is None:
        return None
    return datetime.fromisoformat(value)
