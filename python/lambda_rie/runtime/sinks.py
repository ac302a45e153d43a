"""Where log records end up: stdout as text, or the telemetry descriptor AWS hands the runtime,
one frame per record (type by format and level, length, timestamp, message).

Imports nothing of the runtime: both the log set-up and the root logger's format use it.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

    LogSink = Union["StandardLogSink", "FramedTelemetryLogSink"]

# Telemetry frame types (big-endian u32): text/JSON x level; 0xA55A0003 is text, no level.
_TEXT_FRAME = 0xA55A0003
_JSON_FRAME = 0xA55A0002


def frame_type(json_format: bool, level: int) -> bytes:
    """The telemetry frame type of a record of `level` (a multiple of 10, 0..50)."""
    base = _JSON_FRAME if json_format else _TEXT_FRAME
    offset = 0 if level <= 0 else 4 * (min(level, 50) // 10) + 4
    return (base + offset).to_bytes(4, "big")


class StandardLogSink:
    """Logs written to stdout as text."""

    def log(self, message: str, frame_type: Optional[bytes] = None) -> None:
        sys.stdout.write(message)

    def log_error(self, lines: list[str]) -> None:
        sys.stdout.write("\r".join(lines) + "\n")

    def close(self) -> None:
        pass


class FramedTelemetryLogSink:
    """Logs written as frames to the telemetry file descriptor AWS hands the runtime."""

    def __init__(self, fd: int, json_format: bool) -> None:
        self.file = os.fdopen(fd, "wb", 0)
        self.json_format = json_format

    def log(self, message: str, frame_type: Optional[bytes] = None) -> None:
        encoded = message.encode("utf-8")
        stamp = time.time_ns() // 1000
        kind = frame_type or _TEXT_FRAME.to_bytes(4, "big")
        self.file.write(kind + len(encoded).to_bytes(4, "big") + stamp.to_bytes(8, "big") + encoded)

    def log_error(self, lines: list[str]) -> None:
        self.log("\n".join(lines), frame_type(self.json_format, 40))

    def close(self) -> None:
        self.file.close()
