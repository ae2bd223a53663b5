"""Drives the reference's DjangoStatisticsAdapter (baldur-framework 1.17.1,
Django 5.2) over a Django application's DLQ table in a SQLite file, or in
a PostgreSQL database when DB_PATH is a postgres:// URL (Django's
postgresql backend, through psycopg2), for tests/sql_statistics_python.rs
(the Django flavour of SqlStatistics).

The application is one model, ``ops.FailedOp`` (table ``ops_failedop``),
deriving from the reference's AbstractFailedOperation as its docs say;
Django's own schema editor creates its table.

    python baldur_django_stats.py DB_PATH generate SEED ENTRIES
        creates the table and writes a generated DLQ history through the
        ORM, with Django's clock moved to each event's time (so
        ``auto_now_add`` and ``auto_now`` stamp that time): creations,
        retries, end statuses with ``resolved_at``, late saves, and the
        adapter's own archive_old_entries and purge_archived. Prints the
        number of saves.
    python baldur_django_stats.py DB_PATH answer < requests.jsonl
        for each request {"now": ISO, "reads": [[method, kwargs], ...]}
        prints {"now", "answers": [...]}, each answer the adapter's return
        value as JSON (dataclasses as dicts with their properties,
        datetimes in ISO form).
"""

import dataclasses
import json
import random
import sys
from datetime import datetime, timedelta, timezone

import django
from django.conf import settings

CLOCK = [datetime(2025, 1, 1, tzinfo=timezone.utc)]


def database(path):
    if path.startswith("postgres://") or path.startswith("postgresql://"):
        from urllib.parse import urlparse

        url = urlparse(path)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": url.username or "",
            "PASSWORD": url.password or "",
            "HOST": url.hostname or "",
            "PORT": str(url.port or ""),
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # A generated test history: no need to sync each commit.
        "OPTIONS": {"init_command": "PRAGMA synchronous = OFF"},
    }


def setup(path):
    settings.configure(
        DATABASES={"default": database(path)},
        INSTALLED_APPS=["django.contrib.contenttypes", "baldur.adapters.django"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        LOGGING_CONFIG=None,
    )
    # The reference's app prints its startup summary on stdout: keep
    # stdout for our answers.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        django.setup()
    finally:
        sys.stdout = stdout
    import django.utils.timezone as dj_timezone

    dj_timezone.now = lambda: CLOCK[0]

    from baldur.adapters.django.models._abstract_failed_operation import (
        AbstractFailedOperation,
    )

    class FailedOp(AbstractFailedOperation):
        class Meta(AbstractFailedOperation.Meta):
            app_label = "ops"
            db_table = "ops_failedop"
            abstract = False

    from baldur.adapters.django.statistics import DjangoStatisticsAdapter

    return FailedOp, DjangoStatisticsAdapter(failed_operation_model=FailedOp)


DOMAINS = ["payments", "orders", "external_service", "notification", "data_sync", "custom"]
DOMAIN_WEIGHTS = [31, 23, 17, 11, 7, 2]
TYPES = ["timeout", "validation_error", "connection_error", "rate_limited"]
TYPE_WEIGHTS = [37, 19, 13, 7]


def generate(path, seed, entries):
    model, adapter = setup(path)
    from django.db import connection

    with connection.schema_editor() as editor:
        editor.create_model(model)
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    events = []  # (time, order, kind, payload)
    for i in range(1, entries + 1):
        created = start + timedelta(seconds=rng.randrange(0, 150 * 86400), microseconds=i)
        base = {
            "domain": rng.choices(DOMAINS, DOMAIN_WEIGHTS)[0],
            "failure_type": rng.choices(TYPES, TYPE_WEIGHTS)[0],
            "entity_type": rng.choice(["order", "payment", ""]),
            "entity_id": f"ent-{rng.randrange(500)}",
            "error_code": rng.choice(["E1", "E2", ""]),
            "error_message": f"failure {i}",
            "snapshot_data": {"attempt": i % 4, "ok": i % 3 == 0},
            "metadata": {"source": "generator"},
        }
        events.append((created, i, "create", base))
        t = created
        retries = 0
        for _ in range(rng.randrange(0, 3)):
            retries += 1
            t = t + timedelta(minutes=rng.randrange(1, 600))
            events.append((t, i, "update", {"status": "replaying", "retry_count": retries, "last_retry_at": t}))
            t = t + timedelta(minutes=rng.randrange(1, 600))
            events.append((t, i, "update", {"status": "pending"}))
        end = rng.choices(
            ["resolved", "rejected", "expired", "requires_review", "reviewing", "pending"],
            [45, 8, 6, 10, 6, 25],
        )[0]
        t = t + timedelta(minutes=rng.randrange(1, 600))
        final = {"status": end}
        if end in ("resolved", "rejected", "expired"):
            final["resolved_at"] = t
        events.append((t, i, "update", final))
    day = start
    while day < start + timedelta(days=160):
        day += timedelta(days=7)
        events.append((day, 0, "archive", 30))
        if (day - start).days % 28 == 0:
            events.append((day + timedelta(hours=1), 0, "purge_age", 21))
        if (day - start).days % 35 == 0:
            events.append((day + timedelta(hours=2), 0, "purge_ids", [rng.randrange(1, entries + 1) for _ in range(40)]))
    events.sort(key=lambda e: (e[0], e[1]))
    saves = 0
    for when, i, kind, payload in events:
        CLOCK[0] = when
        if kind == "create":
            model.objects.create(id=i, **payload)
            saves += 1
        elif kind == "update":
            row = model.objects.filter(pk=i).first()
            if row is None:
                continue  # purged
            for field, value in payload.items():
                setattr(row, field, value)
            row.save()
            saves += 1
        elif kind == "archive":
            adapter.archive_old_entries(payload)
        elif kind == "purge_age":
            adapter.purge_archived(older_than_days=payload)
        else:
            adapter.purge_archived(ids=[str(x) for x in payload])
    print(saves)


def to_json(value):
    if dataclasses.is_dataclass(value):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for prop in ("total_pages", "can_archive", "can_purge"):
            if hasattr(value, prop):
                out[prop] = getattr(value, prop)
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def answer(path):
    _, adapter = setup(path)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        CLOCK[0] = datetime.fromisoformat(request["now"])
        answers = []
        for method, kwargs in request["reads"]:
            answers.append(to_json(getattr(adapter, method)(**kwargs)))
        print(json.dumps({"now": request["now"], "answers": answers}))


def main():
    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    path, command = sys.argv[1:3]
    if command == "generate":
        generate(path, int(sys.argv[3]), int(sys.argv[4]))
    else:
        answer(path)


if __name__ == "__main__":
    main()
