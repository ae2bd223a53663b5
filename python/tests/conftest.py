"""Shared fixtures of the baldur_journal tests.

The tests import the installed package (scripts/test-python.sh installs
./python into a throwaway virtual environment), with baldur-framework
1.17.1 beside it: the classes are then the reference's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

import baldur_journal as bj

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def vectors_dir() -> Path:
    """The conformance vectors (../shared beside the repository)."""
    return Path(
        os.environ.get("BALDUR_VECTORS", REPO.parent / "shared" / "reference" / "vectors" / "journal")
    )


def cli() -> str:
    """The baldur-journal binary the answers are compared with."""
    found = os.environ.get("BALDUR_CLI") or shutil.which("baldur-journal")
    if not found:
        found = str(REPO / "target" / "debug" / "baldur-journal")
    if not Path(found).exists():
        pytest.fail(f"no baldur-journal CLI at {found} (set BALDUR_CLI; cargo build builds it)")
    return found


def run_cli(*args: str) -> str:
    done = subprocess.run([cli(), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"baldur-journal {' '.join(args)}: {done.stderr}"
    return done.stdout


def cli_json(*args: str):
    return json.loads(run_cli(*args))


def entry_from_json(line: dict, sequence: int = 0) -> bj.JournalEntry:
    return bj.JournalEntry(
        sequence=sequence,
        event_type=line["event_type"],
        source=line["source"],
        timestamp=datetime.fromisoformat(line["timestamp"]),
        service_name=line["service_name"],
        context=line.get("context", {}),
        region=line.get("region", ""),
        tier_id=line.get("tier_id", ""),
    )


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
def journal(journal_dir: Path):
    with bj.DiskEventJournalRepository(journal_dir) as j:
        yield j

