"""A benchmark handler for HTTP events (function URLs, API Gateway): it answers with the request's
body, and with the event itself when it is not an HTTP event (a plain Invoke)."""

from __future__ import annotations

from typing import Any


def handler(event: Any, context: Any) -> Any:
    """The HTTP request's body (a 200 with that body), or the event unchanged."""
    if isinstance(event, dict) and "requestContext" in event:
        return event.get("body", "")
    return event
