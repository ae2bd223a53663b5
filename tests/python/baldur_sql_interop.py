"""Drives the reference's SQLEventJournalRepository (baldur-framework
1.17.1) on a SQLite file, for tests/sql_python_interop.rs.

    python baldur_sql_interop.py DB_PATH write   < entries.jsonl
        appends each entry (JSON object, our field names) with the
        reference's append; prints one assigned sequence per line.
    python baldur_sql_interop.py DB_PATH answer  < cases.jsonl
        answers each case of the conformance vectors' form
        ({"id","kind":"query","filter":{...}} or {"id","kind":"range",
        "start_sequence","end_sequence"}) with the reference's query, count
        and get_sequence_range; prints one JSON object per line, then
        {"latest": get_latest_sequence()}.

The connection is the standard library's sqlite3, as a Python service
would hand the reference; the reference's code is used as installed.
"""

import json
import sqlite3
import sys
from datetime import datetime

import structlog

from baldur.adapters.sql.event_journal import SQLEventJournalRepository
from baldur.interfaces.event_journal import JournalEntry, JournalQueryFilter
from baldur.settings.sql import SQLDialect


def repository(path):
    conn = sqlite3.connect(path)
    return SQLEventJournalRepository(lambda: conn, dialect=SQLDialect.SQLITE)


def parse_time(text):
    return None if text is None else datetime.fromisoformat(text)


def entry_json(e):
    return {
        "sequence": e.sequence,
        "event_type": e.event_type,
        "source": e.source,
        "timestamp": e.timestamp.isoformat(),
        "service_name": e.service_name,
        "context": e.context,
        "region": e.region,
        "tier_id": e.tier_id,
    }


def write(repo):
    for line in sys.stdin:
        if not line.strip():
            continue
        d = json.loads(line)
        seq = repo.append(
            JournalEntry(
                sequence=0,
                event_type=d["event_type"],
                source=d["source"],
                timestamp=parse_time(d["timestamp"]),
                service_name=d.get("service_name", ""),
                context=d.get("context", {}),
                region=d.get("region", ""),
                tier_id=d.get("tier_id", ""),
            )
        )
        print(seq)


def answer(repo):
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        if case["kind"] == "range":
            entries = repo.get_sequence_range(case["start_sequence"], case["end_sequence"])
            out = {
                "id": case["id"],
                "sequences": [e.sequence for e in entries],
                "entries": [entry_json(e) for e in entries],
            }
        else:
            f = case.get("filter") or {}
            qf = JournalQueryFilter(
                event_types=f.get("event_types"),
                service_name=f.get("service_name"),
                start_time=parse_time(f.get("start_time")),
                end_time=parse_time(f.get("end_time")),
                region=f.get("region"),
                limit=f.get("limit") if f.get("limit") is not None else 1000,
                context_filters=f.get("context_filters"),
            )
            result = repo.query(qf)
            out = {
                "id": case["id"],
                "sequences": [e.sequence for e in result.entries],
                "truncated": result.truncated,
                "total_count": result.total_count,
                "count": repo.count(qf),
            }
        print(json.dumps(out, ensure_ascii=False))
    print(json.dumps({"latest": repo.get_latest_sequence()}))


def main():
    # The reference logs through structlog, to standard output by default:
    # keep standard output for the answers.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    path, command = sys.argv[1:3]
    repo = repository(path)
    {"write": write, "answer": answer}[command](repo)


if __name__ == "__main__":
    main()
