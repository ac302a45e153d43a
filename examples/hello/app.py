"""An example Lambda function: greets the caller and echoes the event back."""

from __future__ import annotations

from typing import Any


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Answer `{"message": "Hello, <name>!", ...}` for an event like `{"name": "<name>"}`."""
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"greeting {name}")
    return {
        "message": f"Hello, {name}!",
        "event": event,
        "request_id": context.aws_request_id,
    }
