"""A benchmark handler that holds its environment busy: it sleeps `hold_s` seconds from the event,
then answers with the event and when it started and ended (epoch seconds), so that a caller can
prove that invocations overlapped, each in its own environment."""

from __future__ import annotations

import time
from typing import Any


def handler(event: Any, context: Any) -> Any:
    """Sleep `event["hold_s"]` seconds; answer `{"event", "started", "ended"}`."""
    started = time.time()
    time.sleep(float(event.get("hold_s", 0)))
    return {"event": event, "started": started, "ended": time.time()}
