"""The progress bar on stderr: redrawn in place on a terminal, one line per phase otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30
_REDRAW_S = 0.1


class Progress:
    """Counts finished units (cold starts and warm invocations) out of `total`."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self._total = max(1, total)
        self._base = 0
        self._stream = stream
        self._live = stream.isatty()
        self._drawn_at = 0.0
        self._phase = ""

    def phase(self, label: str) -> None:
        """A new phase (`256 MB cold`, `256 MB warm`) starts; off a terminal, say so once."""
        self._phase = label
        if not self._live:
            print(f"lambda-rie bench: {label}", file=self._stream, flush=True)

    def show(self, done_in_phase: int, phase_units: int, *, force: bool = False) -> None:
        """Redraw with `done_in_phase` of the phase's `phase_units` done (at most 10 times/s)."""
        now = time.monotonic()
        if not self._live or (not force and now - self._drawn_at < _REDRAW_S):
            return
        self._drawn_at = now
        done = min(self._total, self._base + done_in_phase)
        filled = _WIDTH * done // self._total
        bar = "#" * filled + "." * (_WIDTH - filled)
        percent = 100 * done // self._total
        line = f"\r[{bar}] {percent:3d}%  {self._phase} {done_in_phase}/{phase_units}"
        self._stream.write(line.ljust(78))
        self._stream.flush()

    def advance(self, units: int) -> None:
        """The phase is over: its `units` count as done."""
        self._base += units

    def finish(self) -> None:
        """Leave the bar's line behind for the table."""
        if self._live:
            self._stream.write("\r" + " " * 78 + "\r")
            self._stream.flush()
