"""The handler the soak test runs in the four functions of `lambda-rie.toml` beside it.

The event's `action` picks what happens: `report` answers `{"n": N}`, `fail` raises, `hang`
outlives the function timeout, `crash` leaves the process, `big` answers a JSON string of
exactly `bytes` bytes, `slow` answers after `seconds` (for clients that hang up meanwhile).
"""

from __future__ import annotations

import os
import time
from typing import Any


def handler(event: Any, _context: Any) -> Any:
    action = event.get("action") if isinstance(event, dict) else None
    n = event.get("n") if isinstance(event, dict) else None
    if action == "fail":
        raise ValueError(f"failed {n}")
    if action == "hang":
        time.sleep(float(event["seconds"]))
    if action == "crash":
        os._exit(1)
    if action == "big":
        tag = f"{n}:"
        return tag + "x" * (int(event["bytes"]) - 2 - len(tag))
    if action == "slow":
        time.sleep(float(event["seconds"]))
    return {"n": n}
