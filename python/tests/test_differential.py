"""A differential against the reference's InMemoryEventJournalRepository:
random sequences of appends, queries, counts, ranges and latest-sequence
reads over JSON-valued contexts, applied to both in the same process, must
give equal answers."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone

from baldur.adapters.memory.event_journal import InMemoryEventJournalRepository
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import baldur_journal as bj

BASE = datetime(2025, 1, 20, tzinfo=timezone.utc)
OFFSETS = [timezone.utc, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30))]
NAMES = ["a", "b", "c"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet="ab'\" 東\n\\", max_size=4),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
    ),
    max_leaves=6,
)
contexts = st.dictionaries(st.sampled_from(NAMES + ["d.e", ""]), json_values, max_size=4)
times = st.builds(
    lambda minutes, micros, tz: (BASE + timedelta(minutes=minutes, microseconds=micros)).astimezone(tz),
    st.integers(min_value=0, max_value=600),
    st.integers(min_value=0, max_value=999_999),
    st.sampled_from(OFFSETS),
)
entries = st.builds(
    bj.JournalEntry,
    sequence=st.integers(min_value=-5, max_value=5),
    event_type=st.sampled_from(["opened", "closed", "half_opened", "Opened"]),
    source=st.sampled_from(["breaker", "budget"]),
    timestamp=times,
    service_name=st.sampled_from(["", "payments", "search"]),
    context=contexts,
    region=st.sampled_from(["", "eu", "us"]),
    tier_id=st.sampled_from(["", "gold"]),
)


def sometimes(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """None three times in four: most filters set one or two conditions, so
    they match many entries and limits and truncation come into play."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


filters = st.builds(
    bj.JournalQueryFilter,
    event_types=sometimes(st.lists(st.sampled_from(["opened", "closed", "x"]), max_size=2)),
    service_name=sometimes(st.sampled_from(["", "payments", "search"])),
    start_time=sometimes(times),
    end_time=sometimes(times),
    region=sometimes(st.sampled_from(["", "eu"])),
    limit=st.integers(min_value=0, max_value=60),
    context_filters=sometimes(
        st.dictionaries(
            st.sampled_from(NAMES + ["missing"]),
            st.sampled_from(["None", "True", "False", "1", "-1", "a", "1.0", "[]", "{}", "''"]),
            max_size=2,
        )
    ),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), entries),
        st.tuples(st.just("batch"), st.lists(entries, min_size=1, max_size=40)),
        st.tuples(st.just("query"), filters),
        st.tuples(st.just("count"), filters),
        st.tuples(st.just("range"), st.integers(-2, 120), st.integers(-2, 120)),
        st.tuples(st.just("latest")),
    ),
    max_size=30,
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written beside the tests; a failure prints its example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations)
def test_same_answers_as_the_reference(ops):
    reference = InMemoryEventJournalRepository(max_entries=1_000_000, max_query_limit=10_000)
    with tempfile.TemporaryDirectory() as d, bj.DiskEventJournalRepository(
        f"{d}/journal", durability="os"
    ) as ours:
        for step, op in enumerate(ops):
            kind = op[0]
            if kind == "append":
                assert ours.append(op[1]) == reference.append(op[1]), step
            elif kind == "batch":
                assert ours.append_batch(op[1]) == [reference.append(e) for e in op[1]], step
            elif kind == "query":
                got, want = ours.query(op[1]), reference.query(op[1])
                assert got == want, (step, op[1])
            elif kind == "count":
                assert ours.count(op[1]) == reference.count(op[1]), (step, op[1])
            elif kind == "range":
                got = ours.get_sequence_range(op[1], op[2])
                assert got == reference.get_sequence_range(op[1], op[2]), step
            else:
                assert ours.get_latest_sequence() == reference.get_latest_sequence(), step
        # Every entry, field by field (timestamps compare as instants).
        got, want = ours.get_sequence_range(0, 10**6), reference.get_sequence_range(0, 10**6)
        assert got == want
        # == takes 1 for 1.0 and 0.0 for -0.0: the contexts' repr does not.
        assert [repr(e.context) for e in got] == [repr(e.context) for e in want]
