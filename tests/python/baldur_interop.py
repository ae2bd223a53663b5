"""Drives the reference's RedisEventJournalRepository (baldur-framework
1.17.1) for tests/redis_python_interop.rs.

    python baldur_interop.py REDIS_URL PREFIX write   < entries.jsonl
        appends each entry (JSON object, our field names) with the
        reference's append; prints one assigned sequence per line.
    python baldur_interop.py REDIS_URL PREFIX answer  < cases.jsonl
        answers each case of the conformance vectors' form
        ({"id","kind":"query","filter":{...}} or {"id","kind":"range",
        "start_sequence","end_sequence"}) with the reference's query, count
        and get_sequence_range; prints one JSON object per line, then
        {"latest": get_latest_sequence()}.

PREFIX replaces the reference's "baldur:journal" key prefix (an instance
attribute, so that tests sharing a server do not meet); the reference's
code is otherwise used as installed.
"""

import json
import sys
from datetime import datetime

import redis

from baldur.adapters.redis.event_journal import RedisEventJournalRepository
from baldur.interfaces.event_journal import JournalEntry, JournalQueryFilter


def repository(url, prefix):
    repo = RedisEventJournalRepository(redis.Redis.from_url(url))
    repo.KEY_PREFIX = prefix
    repo.SEQUENCE_KEY = f"{prefix}:sequence"
    return repo


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
    url, prefix, command = sys.argv[1:4]
    repo = repository(url, prefix)
    {"write": write, "answer": answer}[command](repo)


if __name__ == "__main__":
    main()
