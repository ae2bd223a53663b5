"""A seeded DLQ workload written as journal events (docs/EVENTS.md): new
entries over 40 days, their replays, resolutions, rejections, escalations,
audit links, and circuit-breaker transitions."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import baldur_journal as bj

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
DOMAINS = ["payments", "orders", "search", "shipping", ""]
FAILURES = ["timeout", "validation", "rate_limit", "unknown_error"]
STEPS = ["dlq_replay_start", "dlq_replay_success", "dlq_replay_failed", "dlq_escalate",
         "dlq_resolve", "dlq_reject", "dlq_retry", "dlq_expire"]


def event(event_type: str, at: datetime, context: dict, service: str = "") -> bj.JournalEntry:
    return bj.JournalEntry(
        sequence=0,
        event_type=event_type,
        source="baldur.dlq",
        timestamp=at,
        service_name=service,
        context=context,
    )


def dlq_events(entries: int = 300, seed: int = 7) -> list[bj.JournalEntry]:
    rng = random.Random(seed)
    out: list[tuple[datetime, bj.JournalEntry]] = []
    for n in range(entries):
        created = NOW - timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        entry_id = f"dlq-{n}"
        out.append((created, event("dlq_store", created, {
            "entry_id": entry_id,
            "domain": rng.choice(DOMAINS),
            "failure_type": rng.choice(FAILURES),
            "retry_count": rng.randrange(0, 3),
            "max_retries": 2,
            "error_code": rng.choice(["", "E503", "E400"]),
            "error_message": "upstream failed",
            "snapshot_data": {"order_id": n},
            "actor_id": "runtime",
        })))
        at = created
        for _ in range(rng.randrange(0, 4)):
            at += timedelta(minutes=rng.randrange(1, 3000))
            if at >= NOW:
                break
            out.append((at, event(rng.choice(STEPS), at, {"entry_id": entry_id, "actor_id": "op"})))
    for n, service in enumerate(["payments", "orders", "search"]):
        at = NOW - timedelta(hours=10 - n)
        out.append((at, event("circuit_breaker_opened", at, {
            "service_name": service, "previous_state": "closed",
            "window_failure_count": 5 + n, "window_total_calls": 20}, service)))
        if n:
            at += timedelta(minutes=30)
            out.append((at, event("circuit_breaker_half_opened", at, {
                "service_name": service, "previous_state": "open", "new_state": "half_open"},
                service)))
        if n == 2:
            at += timedelta(minutes=30)
            out.append((at, event("circuit_breaker_closed", at, {
                "service_name": service, "previous_state": "half_open", "new_state": "closed"},
                service)))
    out.sort(key=lambda pair: pair[0])
    return [e for _, e in out]
