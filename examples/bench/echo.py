"""A benchmark handler that imports only the standard library: it answers with the event."""

from __future__ import annotations

from typing import Any


def handler(event: Any, context: Any) -> Any:
    """Return the event unchanged, so the answer is as large as the request."""
    return event
