"""Black-box harness: run lambda-rie as a real process, find its port, talk HTTP to it.

Both faces of the command line are covered: the native binary (`target/release/lambda-rie`)
and the Python entry of the package (`python -m lambda_rie`). Every wait has a
deadline and every started process is torn down, whatever the test did.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Optional

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "tests" / "functions"
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable
VENV_BIN = Path(sys.executable).parent
NATIVE_BINARY = ROOT / "target" / "release" / "lambda-rie"
#: The `lambda-rie` that `pip install lambda-rie` puts on PATH: the native binary, from the wheel.
INSTALLED_COMMAND = VENV_BIN / "lambda-rie"
#: The Python entry of the same command line (`python -m lambda_rie`).
PYTHON_ENTRY = [PYTHON, "-m", "lambda_rie"]

#: The two faces of the same command line, by test id.
FACES = {"native": [str(NATIVE_BINARY)], "script": PYTHON_ENTRY}

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RUNTIME_API_BASE = "/2018-06-01/runtime"
LISTENING = re.compile(r"Invoke API listening on http://([0-9.]+):(\d+)")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "012345678912"
DEFAULT_FUNCTION = "test_function"
DEFAULT_ARN = f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{DEFAULT_FUNCTION}"


def service_error(message: str) -> bytes:
    """The body of an Invoke API service error, as AWS writes it."""
    return json.dumps({"Type": "User", "message": message}).encode()


# NOTE: bounds, not expectations: a start takes ~0.1 s, an invoke a few ms.
START_DEADLINE_S = 10.0
STOP_DEADLINE_S = 10.0
LINE_DEADLINE_S = 10.0
HTTP_TIMEOUT_S = 60.0

# Variables of the test runner's environment that would change what lambda-rie does.
_SCRUBBED_PREFIXES = ("AWS_", "LAMBDA_", "_LAMBDA_", "_X_AMZN")
_SCRUBBED_NAMES = {"_HANDLER", "LOG_LEVEL", "TZ"}


def awslambdaric(handler: str) -> list[str]:
    """The runtime command that serves `handler` with awslambdaric from this venv."""
    return ["--", PYTHON, "-m", "awslambdaric", handler]


def clean_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """This process's environment without Lambda variables, with the venv first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_SCRUBBED_PREFIXES) and key not in _SCRUBBED_NAMES
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    # NOTE: keeps tests/functions free of __pycache__ written by the runtimes.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Response:
    """One HTTP answer, read whole."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    body: Optional[bytes] = None,
    headers: Optional[dict[str, str]] = None,
    timeout: float = HTTP_TIMEOUT_S,
) -> Response:
    """One request on a fresh connection."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return Response(answer.status, answer.headers, answer.read())
    finally:
        conn.close()


def encode_body(body: Any) -> bytes:
    """bytes go as they are; anything else (a str too) as JSON."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


class OutputCollector:
    """Reads one pipe of the emulator line by line in a thread, so that it never blocks."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._pump, name=f"lambda-rie {name}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for raw in iter(self._stream.readline, b""):
            with self._changed:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, pattern: str, deadline_s: float = LINE_DEADLINE_S) -> re.Match[str]:
        """The first line matching `pattern` (re.search), waiting at most `deadline_s`."""
        regex = re.compile(pattern)
        end = time.monotonic() + deadline_s
        with self._changed:
            seen = 0
            while True:
                for line in self._lines[seen:]:
                    match = regex.search(line)
                    if match is not None:
                        return match
                seen = len(self._lines)
                left = end - time.monotonic()
                if left <= 0 or self._closed:
                    state = "closed" if self._closed else f"{deadline_s} s passed"
                    raise AssertionError(
                        f"no line matching {pattern!r} ({state}); output was:\n"
                        + "\n".join(self._lines)
                    )
                self._changed.wait(left)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class Emulator:
    """A running lambda-rie process started by a test."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        self.argv = list(argv)
        self.process = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stdout = OutputCollector(self.process.stdout, "stdout")
        self.stderr = OutputCollector(self.process.stderr, "stderr")
        self.host = ""
        self.port = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wait_listening(self, deadline_s: float = START_DEADLINE_S) -> None:
        """Read the Invoke API's address off stderr."""
        try:
            match = self.stderr.wait_for(LISTENING.pattern, deadline_s)
        except AssertionError as exc:
            raise AssertionError(
                f"{self.argv} did not report its Invoke API address: {exc}\n"
                f"stdout:\n{self.stdout.text()}"
            ) from None
        self.host, self.port = match.group(1), int(match.group(2))
        if self.host == "0.0.0.0":
            self.host = "127.0.0.1"

    def invoke(
        self,
        body: Any = b"{}",
        headers: Optional[dict[str, str]] = None,
        *,
        function: str = "function",
        timeout: float = HTTP_TIMEOUT_S,
    ) -> Response:
        """POST one invocation to `/2015-03-31/functions/{function}/invocations`."""
        path = f"/2015-03-31/functions/{function}/invocations"
        return self.request("POST", path, encode_body(body), headers, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[dict[str, str]] = None,
        *,
        timeout: float = HTTP_TIMEOUT_S,
    ) -> Response:
        return request(
            self.host, self.port, method, path, body=body, headers=headers, timeout=timeout
        )

    def stdout_text(self) -> str:
        return self.stdout.text()

    def stderr_text(self) -> str:
        return self.stderr.text()

    def refused(self) -> str:
        """The error line of an emulator started with `wait=False` that must refuse to start
        (exit code 2)."""
        assert self.process.wait(timeout=10) == 2, self.stderr_text()
        return self.stderr.wait_for(r"^lambda-rie: ").string

    def descendants(self) -> list[int]:
        """Pids of every live process below the emulator or in its session."""
        return [pid for pid in _process_table_below(self.pid) if pid != self.pid]

    def stop(self, deadline_s: float = STOP_DEADLINE_S) -> Optional[int]:
        """SIGTERM the emulator as `docker stop` does; its exit code, or None if it hung."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(deadline_s)
        except subprocess.TimeoutExpired:
            return None

    def kill_all(self) -> None:
        """Leave nothing behind: SIGKILL the emulator, its session and its descendants."""
        leftovers = _process_table_below(self.pid)
        if self.process.poll() is None:
            leftovers.append(self.pid)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_DEADLINE_S)
        self.stdout.join(STOP_DEADLINE_S)
        self.stderr.join(STOP_DEADLINE_S)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Stop gracefully, then make sure."""
        self.stop()
        self.kill_all()


def proc_stats() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the `/proc/PID/stat` fields after the name: state, ppid, pgrp,
    session, ...) of every process that still exists when it is read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # NOTE: the command name may contain spaces and parentheses; fields follow the last ')'.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        yield int(entry.name), name, stat[stat.rindex(")") + 2 :].split()


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, session id) for every live, non-zombie process."""
    return {
        pid: (int(fields[1]), int(fields[3]))
        for pid, _name, fields in proc_stats()
        if fields[0] != "Z"
    }


def _process_table_below(root: int) -> list[int]:
    """Live pids in session `root` or descending from `root`."""
    table = _process_table()
    found = {pid for pid, (_ppid, session) in table.items() if session == root}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _session) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    found.discard(root)
    return sorted(found)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def pids_with_env(marker: str) -> list[int]:
    """Live pids whose environment contains the exact entry `marker` (e.g. `TOKEN=abc`)."""
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


class EmulatorFactory:
    """Starts emulators for one face of the CLI and tears every one of them down."""

    def __init__(self, face: list[str]) -> None:
        self.face = face
        self.started: list[Emulator] = []

    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path = FUNCTIONS,
        env: Optional[dict[str, str]] = None,
        wait: bool = True,
        prefix: Sequence[str] = (),
    ) -> Emulator:
        """Start `lambda-rie [loopback ephemeral addresses] ARGS` and wait for its listening line.

        `prefix` goes before the emulator's own argv (e.g. `unshare --pid --fork --`).
        """
        defaults = []
        if "--runtime-interface-emulator-address" not in args:
            defaults += ["--runtime-interface-emulator-address", "127.0.0.1:0"]
        if "--runtime-api-address" not in args:
            defaults += ["--runtime-api-address", "127.0.0.1:0"]
        argv = [*prefix, *self.face, *defaults, *args]
        emulator = Emulator(argv, cwd, env if env is not None else clean_env())
        self.started.append(emulator)
        if wait:
            emulator.wait_listening()
        return emulator

    def close(self) -> None:
        for emulator in self.started:
            emulator.close()


def stress_size(small: int, full: int) -> int:
    """The size of a stress test: `small` in the normal run, `full` with LAMBDA_RIE_STRESS=full."""
    return full if os.environ.get("LAMBDA_RIE_STRESS") == "full" else small


def children(parent: int) -> list[tuple[int, str, str]]:
    """(pid, command name, state) of every child of `parent`, zombies included."""
    return [
        (pid, name, fields[0]) for pid, name, fields in proc_stats() if int(fields[1]) == parent
    ]


def lambda_client(url: str, **config: Any) -> Any:
    """A boto3 Lambda client for the emulator at `url`: dummy credentials, never retrying."""
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name=DEFAULT_REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )
