"""Shared by the Python API tests: where the handlers are, and what this process owns."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

HANDLERS = str(Path(__file__).resolve().parent / "handlers")
ARN = "arn:aws:lambda:us-east-1:012345678912:function"
_LISTEN = "0A"


def _stat_fields(pid: str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(of: int) -> list[int]:
    """Processes (zombies included) whose parent is `of`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry.name)
        except OSError:
            continue
        if int(fields[1]) == of:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        return _stat_fields(str(pid))[0] != "Z"
    except OSError:
        return False


def _listening_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _LISTEN:
                inodes.add(fields[9])
    return inodes


@dataclass(frozen=True)
class Footprint:
    """What this process holds: threads, descriptors, children, listening sockets."""

    threads: int
    descriptors: int
    children: tuple[int, ...]
    listening: int

    @classmethod
    def now(cls) -> Footprint:
        fds = []
        for fd in Path("/proc/self/fd").iterdir():
            try:
                fds.append(os.readlink(fd))
            except OSError:
                continue
        sockets = {target[len("socket:[") : -1] for target in fds if target.startswith("socket:[")}
        return cls(
            threads=len(list(Path("/proc/self/task").iterdir())),
            descriptors=len(fds),
            children=tuple(sorted(children(os.getpid()))),
            listening=len(sockets & _listening_inodes()),
        )


def python_threads() -> list[str]:
    """Names of this interpreter's threads, for a failure message."""
    return [t.name for t in threading.enumerate()]
