"""The package's types hold up in a user's strictly checked test file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).resolve().parent / "typed_usage.py"
MYPY_DEADLINE_S = 300


def test_a_user_test_file_passes_mypy_strict() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(SAMPLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=MYPY_DEADLINE_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
