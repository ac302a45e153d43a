"""Handlers of the many-functions suite, served as `many.NAME` with the built-in Python runtime
from `lambda-rie.toml`, the SAM templates of this directory and the configs the tests write.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def describe(event: Any, context: Any) -> Any:
    """Say which function ran, under which ARN, and the variables the event names in `env`."""
    print(f"describe {context.function_name} {context.aws_request_id}")
    names = event.get("env", []) if isinstance(event, dict) else []
    return {
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "event": event,
        "env": {name: os.environ.get(name) for name in names},
    }


def flaky(event: Any, context: Any) -> Any:
    """Fail the first `failures` attempts (default 2) of a request id, then succeed.

    The attempt count lives in /tmp, which lasts as long as the execution environment: the
    function runs with reserved concurrency 1, so every retry lands in the same environment.
    """
    marker = Path(tempfile.gettempdir()) / f"attempts-{context.aws_request_id}"
    attempt = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(attempt))
    print(f"attempt {attempt} of {context.aws_request_id} at {time.time():.3f}")
    if attempt <= int(event.get("failures", 2)):
        raise RuntimeError(f"attempt {attempt} failed")
    return {"attempt": attempt, "event": event}


def fail(event: Any, context: Any) -> Any:
    """Fail every attempt."""
    print(f"failing {context.aws_request_id}")
    raise ValueError(f"always fails: {event.get('n') if isinstance(event, dict) else event}")


def record(event: Any, context: Any) -> Any:
    """A destination function: log the invocation record it receives, on one line."""
    print("RECORD " + json.dumps(event, separators=(",", ":")))
    return {"received_by": context.aws_request_id}


def work(event: Any, _context: Any) -> Any:
    """The load of the stress and shutdown tests: sleep `seconds`, then fail if `fail` is set;
    the answer says when the handler started and ended."""
    started = time.time()
    time.sleep(float(event.get("seconds", 0)))
    if event.get("fail"):
        raise ValueError(f"event {event.get('n')} fails")
    return {"n": event.get("n"), "start": started, "end": time.time()}
