"""The reference's answers to the 396 public queries and ranges
(../shared/reference/vectors/journal), through the Python API."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

import baldur_journal as bj

from conftest import entry_from_json, vectors_dir


def load(name: str) -> list[dict]:
    path = vectors_dir() / name
    if not path.exists():
        pytest.fail(f"the conformance vectors are missing: {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def query_filter(spec: dict) -> bj.JournalQueryFilter:
    spec = dict(spec)
    for name in ("start_time", "end_time"):
        if spec.get(name) is not None:
            spec[name] = datetime.fromisoformat(spec[name])
    return bj.JournalQueryFilter(**spec)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    manifest = json.loads((vectors_dir() / "manifest.json").read_text())
    scenario = manifest["scenarios"]["expected.jsonl"]
    events = load("events.jsonl")
    journal = bj.DiskEventJournalRepository(
        tmp_path_factory.mktemp("vectors") / "journal",
        durability="os",
        max_query_limit=scenario["max_query_limit"],
    )
    sequences = journal.append_batch(entry_from_json(e) for e in events)
    assert sequences == list(range(1, len(events) + 1))
    yield journal, events
    journal.close()


def test_every_public_vector(loaded):
    journal, events = loaded
    cases = load("queries.jsonl")
    expected = {e["id"]: e for e in load("expected.jsonl")}
    assert len(cases) == 396
    wrong = []
    for case in cases:
        want = expected[case["id"]]
        if case["kind"] == "range":
            got = journal.get_sequence_range(case["start_sequence"], case["end_sequence"])
            answer = {"sequences": [e.sequence for e in got]}
            want = {"sequences": want["sequences"]}
        else:
            f = query_filter(case["filter"])
            result = journal.query(f)
            answer = {
                "sequences": [e.sequence for e in result.entries],
                "truncated": result.truncated,
                "total_count": result.total_count,
                "count": journal.count(f),
            }
            want = {k: want[k] for k in answer}
        if answer != want:
            wrong.append((case["id"], case.get("tags"), answer, want))
    assert not wrong, f"{len(wrong)} of {len(cases)} cases differ, first: {wrong[0]}"


def test_entries_come_back_as_appended(loaded):
    """Every field of every entry, timestamps as instants."""
    journal, events = loaded
    got = journal.get_sequence_range(1, len(events) + 1)
    assert len(got) == len(events)
    for sequence, (entry, line) in enumerate(zip(got, events), start=1):
        assert entry == entry_from_json(line, sequence)
        assert entry.timestamp.utcoffset().total_seconds() == 0
