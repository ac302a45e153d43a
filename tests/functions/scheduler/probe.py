"""A handler that says which execution environment ran it, for the scheduler and stress tests.

Served with awslambdaric or the built-in runtime as `probe.handler` from this directory. The
event's `action` picks a behaviour; every answer that returns normally carries the identity of
the process that ran it (pid, process group, Runtime API address, initialization type) and the
wall-clock interval of the handler, so that tests prove concurrency by overlap.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable


def identity(context: Any, started: float) -> dict[str, Any]:
    """Who ran this invocation, and when."""
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "pgid": os.getpgid(0),
        "request_id": context.aws_request_id,
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "max_concurrency": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
        "start": started,
        "end": time.time(),
    }


def report(event: dict[str, Any], context: Any) -> Any:
    """Sleep `seconds` (default 0), then say who ran it."""
    started = time.time()
    time.sleep(float(event.get("seconds", 0)))
    return {"n": event.get("n"), **identity(context, started)}


def fail(event: dict[str, Any], _context: Any) -> Any:
    raise ValueError(f"failed {event.get('n')}")


def hang(event: dict[str, Any], _context: Any) -> Any:
    """Outlive the function timeout (the emulator must answer Sandbox.Timedout)."""
    time.sleep(float(event.get("seconds", 5)))
    return "finished"


def crash(event: dict[str, Any], _context: Any) -> Any:
    """Leave the runtime process at once, without answering."""
    os._exit(int(event.get("code", 1)))


def big(event: dict[str, Any], _context: Any) -> Any:
    """A JSON string response of exactly `bytes` bytes (quotes included), tagged with `n`."""
    tag = f"{event.get('n')}:"
    return tag + "x" * (int(event["bytes"]) - 2 - len(tag))


ACTIONS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "report": report,
    "fail": fail,
    "hang": hang,
    "crash": crash,
    "big": big,
}


def handler(event: Any, context: Any) -> Any:
    """Run `ACTIONS[event["action"]]`; echo any other event (the benchmarks' no-op)."""
    if isinstance(event, dict) and "action" in event:
        return ACTIONS[event["action"]](event, context)
    return event
