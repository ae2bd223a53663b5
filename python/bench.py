"""Measures baldur_journal from Python against the reference's in-memory
journal, in one process (docs/PERFORMANCE.md, "From Python").

    python python/bench.py [--dir DIR] [--count N] [--durable N] [--replay N]
                           [--segment-bytes B] [--cli PATH]

Needs baldur_journal and baldur-framework 1.17.1 installed. Journals are
built under --dir (default: the system's temp directory) and removed.
Each row prints ours, the peer, and the ratio (peer time / our time, so
above 1 means we are faster).
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# The installed package, not the source tree beside this script (which has
# no compiled core).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from baldur.adapters.memory.event_journal import InMemoryEventJournalRepository  # noqa: E402

import baldur_journal as bj  # noqa: E402
from baldur_journal import JournalEntry, JournalQueryFilter  # noqa: E402

BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)
SERVICES = [f"service-{n}" for n in range(20)]


def entries(count: int) -> list[JournalEntry]:
    """Prebuilt entries: 100 event types (so each is 1%), 20 services, one
    per second, a small context like the reference subscriber's."""
    return [
        JournalEntry(
            sequence=0,
            event_type=f"event_type_{n % 100}",
            source="bench",
            timestamp=BASE + timedelta(seconds=n),
            service_name=SERVICES[n % 20],
            context={"failure_count": n % 7, "threshold": 5, "state": ["open", "closed"][n % 2]},
            region="eu-west-1",
        )
        for n in range(count)
    ]


def timed(call, repeat: int = 1) -> float:
    """Median seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name: str, ours: float, peer: float | None, unit: str, scale: float, peer_name: str):
    if peer is None:
        print(f"{name:58} ours {ours * scale:10.2f} {unit}")
        return
    print(
        f"{name:58} ours {ours * scale:10.2f} {unit}   {peer_name} {peer * scale:10.2f} {unit}"
        f"   ratio {peer / ours:6.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="where journals are built (default: a temp directory)")
    parser.add_argument("--count", type=int, default=100_000, help="entries for appends and queries")
    parser.add_argument("--durable", type=int, default=2_000, help="durable single-thread appends")
    parser.add_argument("--replay", type=int, default=1_000_000, help="entries replayed")
    parser.add_argument(
        "--segment-bytes", type=int, default=None,
        help="segment size of the queried journal (default the engine's 128 MiB)",
    )
    parser.add_argument(
        "--cli",
        default=shutil.which("baldur-journal"),
        help="the baldur-journal binary whose `bench append` measures the raw disk beside us",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="baldur-bench-", dir=args.dir))
    try:
        run(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args) -> None:
    count = args.count
    prebuilt = entries(count)

    # Appends, one call per entry, timing only the calls.
    reference = InMemoryEventJournalRepository(max_entries=count, max_query_limit=10_000)
    ours = bj.DiskEventJournalRepository(
        root / "appends", durability="os", segment_bytes=args.segment_bytes
    )
    t_ref = timed(lambda: [reference.append(e) for e in prebuilt])
    t_ours = timed(lambda: [ours.append(e) for e in prebuilt])
    row(f"append {count:,} entries, one call each, not durable", t_ours / count, t_ref / count,
        "us/entry", 1e6, "reference in-memory")
    batched = bj.DiskEventJournalRepository(root / "batch", durability="os")
    t_batch = timed(lambda: batched.append_batch(prebuilt))
    batched.close()
    row(f"append_batch of {count:,}, not durable", t_batch / count, t_ref / count, "us/entry",
        1e6, "reference in-memory")

    durable = bj.DiskEventJournalRepository(root / "durable", durability="always")
    few = prebuilt[: args.durable]
    t_durable = timed(lambda: [durable.append(e) for e in few])
    durable.close()
    name = f"append {args.durable:,}, durable (always), 1 thread"
    if args.cli:
        # The raw disk, measured by the CLI right after, on the same disk.
        done = subprocess.run(
            [args.cli, "--dir", str(root / "cli"), "bench", "append", "--events",
             str(args.durable), "--json"],
            capture_output=True, text=True, check=True,
        )
        raw = json.loads(done.stdout)["raw_events_per_s"]
        print(f"{name:58} ours {args.durable / t_durable:10.0f} appends/s   raw pwrite+fdatasync "
              f"{raw:10.0f} /s   ratio {args.durable / t_durable / raw:6.2f}")
    else:
        print(f"{name:58} ours {args.durable / t_durable:10.0f} appends/s (--cli: the raw disk)")

    # Queries on `count` entries, limit 100, per call (the journal of the
    # one-call appends holds exactly `count`).
    shapes = {
        "event type (1%)": JournalQueryFilter(event_types=["event_type_42"], limit=100),
        "service (5%)": JournalQueryFilter(service_name="service-7", limit=100),
        "time window (10%)": JournalQueryFilter(
            start_time=BASE + timedelta(seconds=count // 2),
            end_time=BASE + timedelta(seconds=count // 2 + count // 10),
            limit=100,
        ),
        "context filter (14%)": JournalQueryFilter(context_filters={"failure_count": "3"}, limit=100),
    }
    # What 100 result objects cost without a search: a range of 100
    # consecutive entries (read sequentially, then built).
    middle = count // 2
    t_objects = timed(lambda: ours.get_sequence_range(middle, middle + 100), repeat=20)
    row("100 result objects alone (get_sequence_range of 100)", t_objects, None, "ms/call", 1e3, "")
    for name, f in shapes.items():
        want = reference.query(f)
        got = ours.query(f)
        assert got.total_count == want.total_count and got.entries == want.entries, name
        t_ref = timed(lambda: reference.query(f), repeat=5)
        t_ours = timed(lambda: ours.query(f), repeat=20)
        t_count = timed(lambda: ours.count(f), repeat=20)
        row(f"query {name}, limit 100, {count:,} entries", t_ours, t_ref, "ms/call", 1e3,
            "reference in-memory")
        row(f"  of which count alone (no result objects)", t_count, None, "ms/call", 1e3, "")

    # get_sequence_range of 10 k.
    start = count // 3
    t_ref = timed(lambda: reference.get_sequence_range(start, start + 10_000), repeat=5)
    t_ours = timed(lambda: ours.get_sequence_range(start, start + 10_000), repeat=5)
    row("get_sequence_range of 10,000", t_ours, t_ref, "ms/call", 1e3, "reference in-memory")
    ours.close()

    # Replay of `replay` entries.
    big = bj.DiskEventJournalRepository(root / "replay", durability="os")
    chunk = entries(10_000)
    for _ in range(args.replay // len(chunk)):
        big.append_batch(chunk)
    total = big.get_latest_sequence()

    def replay():
        n = 0
        for _ in big.replay(1):
            n += 1
        assert n == total

    t_replay = timed(replay)
    print(f"{'replay(1) over ' + format(total, ',') + ' entries':58} ours "
          f"{total / t_replay / 1e6:10.2f} M entries/s ({t_replay:.2f} s)")
    big.close()


if __name__ == "__main__":
    main()
