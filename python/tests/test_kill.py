"""A Python writer killed with SIGKILL loses no acknowledged entry.

The writer prints a sequence only after ``append`` returned it (the
acknowledgement); the parent reads those lines until it has seen enough,
kills the writer mid-stream, then reopens the journal and requires every
printed sequence to be there with its payload."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import baldur_journal as bj

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    import baldur_journal as bj

    journal = bj.DiskEventJournalRepository(sys.argv[1], durability=sys.argv[2])
    n = 0
    while True:
        entry = bj.JournalEntry(0, "tick", "writer", datetime.now(timezone.utc), "kill",
                                {"n": n, "pad": "x" * (n % 300)})
        if n % 7 == 0:
            sequences = journal.append_batch([entry] * 3)
        else:
            sequences = [journal.append(entry)]
        # The acknowledgement: only after append returned.
        for sequence in sequences:
            print(sequence, n, flush=True)
        n += 1
    """
)

ACKS_BEFORE_KILL = 400


def run_and_kill(journal_dir, durability: str) -> dict[int, int]:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(journal_dir), durability],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: dict[int, int] = {}
    try:
        for line in child.stdout:
            sequence, n = map(int, line.split())
            acked[sequence] = n
            if len(acked) >= ACKS_BEFORE_KILL:
                os.kill(child.pid, signal.SIGKILL)
                break
        # Lines already written before the kill are acknowledgements too.
        for line in child.stdout:
            parts = line.split()
            if len(parts) == 2:
                acked[int(parts[0])] = int(parts[1])
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return acked


def test_sigkill_loses_no_acknowledged_entry(journal_dir):
    acked = run_and_kill(journal_dir, "always")
    assert len(acked) >= ACKS_BEFORE_KILL
    with bj.DiskEventJournalRepository(journal_dir) as journal:
        stored = {e.sequence: e.context["n"] for e in journal.replay()}
        lost = sorted(s for s in acked if stored.get(s) != acked[s])
        assert not lost, f"{len(lost)} acknowledged entries lost, first {lost[:5]}"
        # The reopened journal is writable and continues after the last one.
        latest = journal.get_latest_sequence()
        assert latest >= max(acked)
        after = bj.JournalEntry(0, "after", "test", datetime.now(timezone.utc), "kill")
        assert journal.append(after) == latest + 1
