"""One lambda-rie process started by the bench command: its address, REPORT lines and stop."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

LISTENING = re.compile(r"Invoke API listening on http://([0-9.]+):(\d+)")
_REPORT = re.compile(r"^REPORT RequestId: (\S+)\t")
_FIELD = re.compile(r"([A-Za-z ]+): ([0-9.]+) (?:ms|MB)")
_SAMPLE = re.compile(r"^([a-z_]+)(?:\{(.*)\})? ([0-9.eE+-]+|NaN)$")
_LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')
METRICS_PATH = "/_lambda-rie/metrics"

# NOTE: bounds, not expectations: lambda-rie listens within ~30 ms, a REPORT line follows the
# answer within a millisecond; the stop bound covers its own 2 s SIGTERM grace for runtimes.
START_DEADLINE_S = 30.0
REPORT_DEADLINE_S = 10.0
STOP_DEADLINE_S = 10.0
_STDERR_TAIL = 40


class EmulatorStartError(Exception):
    """lambda-rie exited or stayed silent instead of reporting its Invoke API address."""


@dataclass(frozen=True)
class ReportLine:
    """The figures of one `REPORT RequestId: ...` line (section 7 of the behaviour contract)."""

    request_id: str
    duration_ms: float
    billed_duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: Optional[float]

    @classmethod
    def parse(cls, line: str) -> Optional[ReportLine]:
        """The REPORT line's figures, or None for any other line."""
        match = _REPORT.match(line)
        if match is None:
            return None
        fields = {name.strip(): float(value) for name, value in _FIELD.findall(line)}
        try:
            return cls(
                request_id=match.group(1),
                duration_ms=fields["Duration"],
                billed_duration_ms=fields["Billed Duration"],
                memory_size_mb=int(fields["Memory Size"]),
                max_memory_used_mb=int(fields["Max Memory Used"]),
                # NOTE: a SnapStart cold start reports its restore in place of init.
                init_duration_ms=fields.get("Init Duration", fields.get("Restore Duration")),
            )
        except KeyError:
            return None


class EmulatorProcess:
    """lambda-rie started with `argv`; stdout (the function's logs) goes to `stdout_path`."""

    def __init__(self, argv: Sequence[str], cwd: Path, stdout_path: Path) -> None:
        self.stdout_path = stdout_path
        self._stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._address: Optional[tuple[str, int]] = None
        self._changed = threading.Condition()
        self._closed = False
        #: `time.perf_counter_ns()` just before the process was started.
        self.launched_ns = time.perf_counter_ns()
        with stdout_path.open("wb") as stdout:
            self._process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        stderr = self._process.stderr
        assert stderr is not None
        self._pump = threading.Thread(target=self._read_stderr, args=(stderr,), daemon=True)
        self._pump.start()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._changed:
                self._stderr_tail.append(line)
                match = LISTENING.search(line) if self._address is None else None
                if match is not None:
                    host = "127.0.0.1" if match.group(1) == "0.0.0.0" else match.group(1)
                    self._address = (host, int(match.group(2)))
                    self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait_listening(self, deadline_s: float = START_DEADLINE_S) -> tuple[str, int]:
        """The Invoke API's (host, port), read off lambda-rie's stderr."""
        end = time.monotonic() + deadline_s
        with self._changed:
            while self._address is None:
                left = end - time.monotonic()
                if self._closed or left <= 0:
                    state = "exited" if self._closed else f"was silent for {deadline_s:.0f} s"
                    tail = "\n".join(self._stderr_tail)
                    raise EmulatorStartError(f"lambda-rie {state} before listening:\n{tail}")
                self._changed.wait(left)
            return self._address

    def metric(self, name: str, function: Optional[str] = None, **labels: str) -> float:
        """The sum of metric `name`'s samples (of `function`, if given) matching `labels`."""
        host, port = self.wait_listening()
        conn = http.client.HTTPConnection(host, port, timeout=REPORT_DEADLINE_S)
        try:
            conn.request("GET", METRICS_PATH)
            text = conn.getresponse().read().decode("utf-8", "replace")
        finally:
            conn.close()
        if function is not None:
            labels["function"] = function
        total = 0.0
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match is None or match.group(1) != name:
                continue
            found = dict(_LABEL.findall(match.group(2) or ""))
            if all(found.get(key) == value for key, value in labels.items()):
                total += float(match.group(3))
        return total

    def stderr_tail(self) -> str:
        """The last lines lambda-rie wrote on stderr."""
        with self._changed:
            return "\n".join(self._stderr_tail)

    def reports(self) -> list[ReportLine]:
        """Every REPORT line written so far."""
        text = self.stdout_path.read_text("utf-8", "replace")
        found = (ReportLine.parse(line) for line in text.splitlines())
        return [report for report in found if report is not None]

    def report_of(self, request_id: str, deadline_s: float = REPORT_DEADLINE_S) -> ReportLine:
        """The REPORT line of one invocation, waiting for it to be written."""
        end = time.monotonic() + deadline_s
        while True:
            for report in self.reports():
                if report.request_id == request_id:
                    return report
            if time.monotonic() > end or self._process.poll() is not None:
                raise LookupError(f"no REPORT line for request {request_id}")
            time.sleep(0.002)

    def stop(self) -> None:
        """SIGTERM (lambda-rie stops its runtimes), then SIGKILL whatever is left of its session."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            for pid in [self._process.pid, *_session_members(self._process.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._process.wait(STOP_DEADLINE_S)
        self._pump.join(STOP_DEADLINE_S)
        if self._process.stderr is not None:
            self._process.stderr.close()


def _session_members(session: int) -> list[int]:
    """Pids of the live processes in `session` (lambda-rie's runtimes, if it hung)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # NOTE: the command name may contain spaces and parentheses; fields follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session and int(entry.name) != session:
            members.append(int(entry.name))
    return members
