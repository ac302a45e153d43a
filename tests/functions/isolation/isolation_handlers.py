"""Handlers for the resource-isolation tests: `/tmp`, memory, processes, rlimits, freezing.

Served as `isolation_handlers.handler` from this directory, by awslambdaric or the built-in
runtime. The event's `action` picks a behaviour; every normal answer carries the pid of the
runtime process that ran it, so that tests can tell a warm environment from a restarted one.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

MB = 1 << 20

# Module state: it survives warm invokes, is stopped by the freezer, and is lost on a restart.
TICKS = {"count": 0}
_ticker: list[threading.Thread] = []


def _tick() -> None:
    while True:
        time.sleep(0.01)
        TICKS["count"] += 1


def write_tmp(event: dict[str, Any], _context: Any) -> Any:
    """Write `text` to `/tmp/<name>`, wait `seconds`, and read the file back.

    Also says which filesystem `/tmp` is (device number) and its size in MB, as `df` would.
    """
    path = Path("/tmp", event["name"])
    started = time.time()
    path.write_text(event["text"])
    time.sleep(float(event.get("seconds", 0)))
    fs = os.statvfs("/tmp")
    return {
        "pid": os.getpid(),
        "read": path.read_text(),
        "tmp_device": os.stat("/tmp").st_dev,
        "tmp_mb": fs.f_blocks * fs.f_frsize // MB,
        "start": started,
        "end": time.time(),
    }


def read_tmp(event: dict[str, Any], _context: Any) -> Any:
    """The text of `/tmp/<name>`, or None when it does not exist."""
    path = Path("/tmp", event["name"])
    return {"pid": os.getpid(), "read": path.read_text() if path.exists() else None}


def sleep(event: dict[str, Any], _context: Any) -> Any:
    time.sleep(float(event["seconds"]))
    return {"pid": os.getpid()}


def crash(event: dict[str, Any], _context: Any) -> Any:
    """Leave the runtime process at once, without answering."""
    os._exit(int(event.get("code", 1)))


def fill_tmp(event: dict[str, Any], _context: Any) -> Any:
    """Write `mb` MB to `/tmp/<name>` in 1 MB blocks; the errno that stopped it, if any."""
    block = b"\xa5" * MB
    written = 0
    failure = None
    try:
        with Path("/tmp", event["name"]).open("wb") as out:
            for _ in range(int(event["mb"])):
                out.write(block)
                out.flush()
                written += 1
    except OSError as exc:
        failure = exc.errno
    return {"pid": os.getpid(), "errno": failure, "written_mb": written}


def allocate(event: dict[str, Any], _context: Any) -> Any:
    """Hold `mb` MB of anonymous memory (one str) for `seconds`."""
    held = "x" * (int(event["mb"]) * MB)
    time.sleep(float(event.get("seconds", 0)))
    return {"pid": os.getpid(), "held_mb": len(held) // MB}


def rlimits(_event: dict[str, Any], _context: Any) -> Any:
    return {
        "pid": os.getpid(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "core": resource.getrlimit(resource.RLIMIT_CORE),
    }


def spawn(event: dict[str, Any], _context: Any) -> Any:
    """Start up to `count` `sleep 30` children; the first refused fork propagates."""
    children = []
    for _ in range(int(event["count"])):
        children.append(subprocess.Popen(["sleep", "30"]))
    return {"pid": os.getpid(), "started": len(children)}


def daemon(_event: dict[str, Any], _context: Any) -> Any:
    """Start a `setsid sleep 1000` daemon: its own session and process group, not a child the
    runtime waits for."""
    subprocess.Popen(
        ["setsid", "sleep", "1000"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {"pid": os.getpid()}


def interpreter(_event: dict[str, Any], _context: Any) -> Any:
    """Which Python runs the handler: its prefix (the virtualenv) and executable."""
    return {"pid": os.getpid(), "prefix": sys.prefix, "executable": sys.executable}


def ticks(_event: dict[str, Any], _context: Any) -> Any:
    """The counter of a background thread that ticks every 10 ms (started by the first call)."""
    if not _ticker:
        _ticker.append(threading.Thread(target=_tick, daemon=True))
        _ticker[0].start()
    return {"pid": os.getpid(), "ticks": TICKS["count"], "at": time.monotonic()}


def sparse(event: dict[str, Any], _context: Any) -> Any:
    """Leave a sparse file of `mb` MB (its size counts) in the temporary directory."""
    directory = tempfile.gettempdir()
    with Path(directory, event["name"]).open("wb") as out:
        out.truncate(int(event["mb"]) * MB)
    return {"pid": os.getpid(), "tmpdir": directory}


def list_tmpdir(_event: dict[str, Any], _context: Any) -> Any:
    directory = tempfile.gettempdir()
    return {"pid": os.getpid(), "tmpdir": directory, "entries": sorted(os.listdir(directory))}


def spin(event: dict[str, Any], _context: Any) -> Any:
    """A CPU-bound loop of `n` iterations; its CPU time and wall time, in seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    total = 0
    for i in range(int(event["n"])):
        total += i * i
    return {
        "pid": os.getpid(),
        "total": total,
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
    }


ACTIONS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "write_tmp": write_tmp,
    "read_tmp": read_tmp,
    "sleep": sleep,
    "crash": crash,
    "fill_tmp": fill_tmp,
    "allocate": allocate,
    "rlimits": rlimits,
    "spawn": spawn,
    "ticks": ticks,
    "sparse": sparse,
    "list_tmpdir": list_tmpdir,
    "spin": spin,
    "daemon": daemon,
    "interpreter": interpreter,
}


def handler(event: Any, context: Any) -> Any:
    """Run `ACTIONS[event["action"]]`; echo any other event."""
    if isinstance(event, dict) and "action" in event:
        return ACTIONS[event["action"]](event, context)
    return event
