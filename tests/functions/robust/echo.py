"""The function the front fuzzer invokes: it returns its event unchanged, whatever it is."""

from __future__ import annotations

from typing import Any


def handler(event: Any, _context: Any) -> Any:
    return event
