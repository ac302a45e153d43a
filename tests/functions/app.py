"""Handlers the black-box tests serve with awslambdaric (`python -m awslambdaric app.handler`).

`app.handler` echoes its event back, unless the event is an object whose `action` names one of
the behaviours below; the suite drives every function-side case through it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

# Module state: it survives warm invokes and is lost when the runtime process restarts.
STATE = {"count": 0}


def handler(event: Any, context: Any) -> Any:
    """Echo the event, or run `ACTIONS[event["action"]]`."""
    if isinstance(event, dict) and "action" in event:
        return ACTIONS[event["action"]](event, context)
    return event


def fail(event: dict[str, Any], _context: Any) -> Any:
    raise ValueError(event.get("message", "boom"))


def sleep(event: dict[str, Any], _context: Any) -> Any:
    time.sleep(event["seconds"])
    return {"slept": event["seconds"], "pid": os.getpid()}


def exit_process(event: dict[str, Any], _context: Any) -> Any:
    sys.exit(event.get("code", 1))


def kill_self(event: dict[str, Any], _context: Any) -> Any:
    os.kill(os.getpid(), event["signal"])
    time.sleep(60)


def orphan(event: dict[str, Any], _context: Any) -> Any:
    """Leave a grandchild behind whose parent has exited: it is reparented to PID 1."""
    seconds = float(event.get("seconds", 0.2))
    shell = subprocess.run(
        ["/bin/sh", "-c", f"sleep {seconds} >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        check=True,
    )
    return int(shell.stdout)


def big(event: dict[str, Any], _context: Any) -> Any:
    """A JSON string response of exactly `bytes` bytes (quotes included)."""
    return "x" * (event["bytes"] - 2)


def count(_event: dict[str, Any], _context: Any) -> Any:
    STATE["count"] += 1
    return {"count": STATE["count"], "pid": os.getpid()}


def write_tmp(event: dict[str, Any], _context: Any) -> Any:
    Path("/tmp", event["name"]).write_text(event["text"])
    return "written"


def read_tmp(event: dict[str, Any], _context: Any) -> Any:
    path = Path("/tmp", event["name"])
    return path.read_text() if path.exists() else None


def environment(_event: dict[str, Any], _context: Any) -> Any:
    return dict(os.environ)


def context_fields(_event: dict[str, Any], context: Any) -> Any:
    client_context = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context_custom": None if client_context is None else client_context.custom,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "cwd": os.getcwd(),
    }


def allocate(event: dict[str, Any], _context: Any) -> Any:
    # NOTE: bytes * n writes every page; a zero-filled buffer from calloc would not count in RSS.
    data = b"x" * (event["mb"] << 20)
    return len(data)


def log(event: dict[str, Any], _context: Any) -> Any:
    print(event["message"])
    return "logged"


ACTIONS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "fail": fail,
    "sleep": sleep,
    "exit": exit_process,
    "signal": kill_self,
    "orphan": orphan,
    "big": big,
    "count": count,
    "write_tmp": write_tmp,
    "read_tmp": read_tmp,
    "env": environment,
    "context": context_fields,
    "allocate": allocate,
    "log": log,
}
