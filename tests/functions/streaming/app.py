"""Generator handlers of the built-in runtime: each yielded item is streamed as one chunk."""

import asyncio
import time


def chunks(event, context):
    """`event["chunks"]` chunks `chunk-<i>\\n`, `event["delay"]` seconds apart, as str."""
    for i in range(event["chunks"]):
        if i:
            time.sleep(event["delay"])
        yield f"chunk-{i}\n"


async def async_chunks(event, context):
    """The same as bytes from an async generator."""
    for i in range(event["chunks"]):
        if i:
            await asyncio.sleep(event["delay"])
        yield f"chunk-{i}\n".encode()


def fails_midway(event, context):
    """One chunk, then an exception."""
    yield b"chunk-0\n"
    raise ValueError("boom midway")
