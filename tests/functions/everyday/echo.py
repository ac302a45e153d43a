"""Handlers of the everyday-use tests: one-shot invoke and hot reload."""

from __future__ import annotations

from typing import Any


def echo(event: Any, _context: Any) -> Any:
    """Return the event."""
    return event


def fail(event: Any, _context: Any) -> Any:
    """Raise, so that `lambda-rie invoke` exits 1."""
    raise ValueError("no good")
