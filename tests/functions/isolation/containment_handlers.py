"""Handlers of the containment tests: one function's handler tries to reach into another
function's execution environment, each way a process on one machine could.

`keep_secret` writes a file to `/tmp` and answers who the runtime is; `processes` lists the pids
its `/proc` shows; `reach` tries, against the
process `pid` of another environment, its Runtime API `port` and the emulator `emulator`:
reading its `/tmp` through `/proc/PID/root`, reading its variables through `/proc/PID/environ`,
taking an invocation from its Runtime API and answering it, and signalling the emulator. Each
attempt reports what it got or the exception that stopped it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
from pathlib import Path
from typing import Any

RUNTIME = "/2018-06-01/runtime"


def keep_secret(event: dict[str, Any]) -> Any:
    Path("/tmp", event["name"]).write_text(event["text"])
    return who()


def who() -> Any:
    return {
        "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
    }


def read(path: str) -> Any:
    try:
        return {"read": Path(path).read_bytes().decode("utf-8", "replace")}
    except OSError as exc:
        return {"error": type(exc).__name__}


def take_invocation(port: int) -> Any:
    """Wait on the other environment's `/next`; answer whatever comes."""
    print("reaching for the other Runtime API", flush=True)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", f"{RUNTIME}/invocation/next")
        taken = conn.getresponse()
        body = taken.read()
        if taken.status != 200:
            return {"status": taken.status, "body": body.decode("utf-8", "replace")}
        request_id = taken.headers["Lambda-Runtime-Aws-Request-Id"]
        answer = json.dumps({"function": "hijacked"})
        conn.request("POST", f"{RUNTIME}/invocation/{request_id}/response", body=answer)
        answered = conn.getresponse()
        answered.read()
        return {"status": 200, "answered": answered.status}
    except OSError as exc:
        return {"error": type(exc).__name__}
    finally:
        conn.close()


def send_signal(pid: int) -> Any:
    try:
        os.kill(pid, signal.SIGTERM)
        return {"sent": True}
    except OSError as exc:
        return {"error": type(exc).__name__}


def reach(event: dict[str, Any]) -> Any:
    pid = event["pid"]
    return {
        "tmp": read(f"/proc/{pid}/root/tmp/{event['name']}"),
        "environ": read(f"/proc/{pid}/environ"),
        "runtime_api": take_invocation(event["port"]),
        "signal": send_signal(event["emulator"]),
    }


def processes() -> Any:
    """The pids this runtime's `/proc` lists."""
    listed = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return {**who(), "processes": listed}


def handler(event: Any, _context: Any) -> Any:
    action = event.get("action") if isinstance(event, dict) else None
    if action == "keep_secret":
        return keep_secret(event)
    if action == "reach":
        return reach(event)
    if action == "processes":
        return processes()
    return who()
