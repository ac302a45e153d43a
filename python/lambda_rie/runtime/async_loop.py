"""`async def` handlers: one event loop for the life of the environment (uvloop if installed).

Only imported for async handlers, so sync handlers never pay for `asyncio`.
"""

from __future__ import annotations

import asyncio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable
    from typing import Any, Optional


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _settle(awaitable: Awaitable[Any]) -> tuple[Any, Optional[Exception]]:
    # NOTE: the exception is caught here so that its traceback starts at this frame (cut as a
    # runtime frame) and shows no event loop internals.
    try:
        return await awaitable, None
    except Exception as exc:
        return None, exc


class AsyncRunner:
    """Runs each invocation's coroutine to completion on the environment's event loop."""

    def __init__(self) -> None:
        self.loop = _new_loop()
        asyncio.set_event_loop(self.loop)

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """The awaitable's result; its exception is raised again with the user's frames."""
        result, exc = self.loop.run_until_complete(_settle(awaitable))
        if exc is not None:
            try:
                raise exc
            finally:
                del exc
        return result
