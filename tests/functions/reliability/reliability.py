"""Handlers that push lambda-rie's limits: huge log output, slow work, counted Event deliveries.

Served as `reliability.handler` from this directory by the built-in runtime; the event's
`action` picks the behaviour.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any

#: Where `count` appends the request id of every invocation it runs (set by the test).
COUNT_FILE = "RELIABILITY_COUNT_FILE"

#: Connections `hold` keeps open to the Runtime API, for the environment's life.
HELD: list[socket.socket] = []


def handler(event: dict[str, Any], context: Any) -> Any:
    action = event.get("action", "echo")
    started = time.time()
    if action == "write":
        # One line of `bytes` bytes, with no newline at its end (the runtime writes none either).
        sys.stdout.write("x" * int(event["bytes"]))
        sys.stdout.flush()
    elif action == "lines":
        # `bytes` bytes of log, in lines of 1 KiB.
        line = "y" * 1023 + "\n"
        sys.stdout.write(line * (int(event["bytes"]) // len(line)))
        sys.stdout.flush()
    elif action == "sleep":
        time.sleep(float(event["seconds"]))
    elif action == "hold":
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
        HELD.extend(socket.create_connection((host, int(port))) for _ in range(event["count"]))
    elif action == "count":
        time.sleep(float(event.get("seconds", 0)))
        with open(os.environ[COUNT_FILE], "a", encoding="utf-8") as out:
            out.write(f"{event.get('n')} {context.aws_request_id}\n")
    return {"action": action, "started": started, "done": time.time()}
