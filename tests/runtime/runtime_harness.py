"""Harness of the runtime tests: a fake Runtime API, runtime processes, and the real emulator."""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest

CORPUS = Path(__file__).parent / "handlers"
REPO = Path(__file__).resolve().parents[2]
# NOTE: a module with a syntax error cannot live in the repository (linters parse every file);
# the corpus is copied and it is written into the copy. Not under /tmp: lambda-rie refuses a
# code directory there, since every environment gets its own private /tmp.
(REPO / "target").mkdir(exist_ok=True)
_HANDLERS_ROOT = tempfile.mkdtemp(prefix="runtime-handlers-", dir=REPO / "target")
atexit.register(shutil.rmtree, _HANDLERS_ROOT, ignore_errors=True)
HANDLERS = Path(_HANDLERS_ROOT) / "handlers"
shutil.copytree(CORPUS, HANDLERS, ignore=shutil.ignore_patterns("__pycache__"))
(HANDLERS / "syntax_error.py").write_text("def handler(event, context):\n    return (1 +\n")
# The launch the emulator uses (the same entry point as `python -m lambda_rie.runtime`).
OURS = [
    sys.executable,
    "-c",
    "import sys; from lambda_rie.runtime.bootstrap import main; main(sys.argv)",
]
AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric"]
NEXT_PATH = "/2018-06-01/runtime/invocation/next"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RESTORE_NEXT_PATH = "/2018-06-01/runtime/restore/next"


def mask(text: str) -> str:
    """`text` with timestamps and request ids masked, for comparing two runs."""
    return _UUID.sub("<id>", _TIMESTAMP.sub("<time>", text))


class Post:
    """One request the runtime made to the fake Runtime API."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.body = body

    @property
    def kind(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def json(self) -> Any:
        return json.loads(self.body)


class FakeRuntimeApi:
    """A Runtime API that hands out queued events and records what comes back."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()
        self.posts: queue.Queue[Post] = queue.Queue()
        self.connections = 0
        self.next_calls = 0
        self.restore_calls = 0
        self.waiting = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # NOTE: head and body go out in two writes; without this, delayed ACKs add 40 ms.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                api.connections += 1
                super().setup()

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == RESTORE_NEXT_PATH:
                    api.restore_calls += 1
                    self._reply(200, b"")
                    return
                if self.path != NEXT_PATH:
                    self._reply(404, b"{}")
                    return
                api.next_calls += 1
                api.waiting.set()
                while True:
                    try:
                        body, headers = api.events.get(timeout=0.1)
                        break
                    except queue.Empty:
                        if api.closed:
                            return
                api.waiting.clear()
                self._reply(200, body, headers)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.posts.put(Post(self.path, headers, body))
                self._reply(202, b'{"status":"OK"}\n')

            def _reply(self, status: int, body: bytes, headers: Optional[dict[str, str]] = None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.closed = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def push(
        self,
        body: bytes = b"{}",
        content_type: str = "application/json",
        request_id: Optional[str] = None,
        **extra: str,
    ) -> str:
        """Queue an event; returns its request id."""
        request_id = request_id or str(uuid.uuid4())
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
            "Lambda-Runtime-Invoked-Function-Arn": (
                "arn:aws:lambda:us-east-1:012345678912:function:test_function"
            ),
            "Lambda-Runtime-Trace-Id": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4d1c1;Sampled=1",
            "Content-Type": content_type,
        }
        headers.update({name.replace("_", "-"): value for name, value in extra.items()})
        self.events.put((body, headers))
        return request_id

    def invoke(self, body: bytes = b"{}", timeout: float = 20, **kwargs: Any) -> Post:
        """Queue an event and wait for the runtime's answer to it."""
        self.push(body, **kwargs)
        return self.posts.get(timeout=timeout)

    def close(self) -> None:
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


def runtime_env(api_address: str, **extra: str) -> dict[str, str]:
    """The environment a runtime sees (as lambda-rie sets it up)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_LAMBDA_", "_LAMBDA_")) and key != "AWS_EXECUTION_ENV"
    }
    env.update(
        AWS_LAMBDA_RUNTIME_API=api_address,
        AWS_LAMBDA_FUNCTION_NAME="test_function",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/test_function",
        AWS_LAMBDA_LOG_STREAM_NAME="2025/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


class RuntimeProcess:
    """A runtime process serving `handler` from the handler corpus against a fake API."""

    def __init__(self, command: list[str], handler: str, api: FakeRuntimeApi, **env: str):
        self.api = api
        self.proc = subprocess.Popen(
            [*command, handler],
            cwd=HANDLERS,
            env=runtime_env(api.address, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = b""

    def wait_idle(self, timeout: float = 20) -> None:
        """Wait until the runtime is blocked in `/next`."""
        deadline = time.monotonic() + timeout
        while not self.api.waiting.is_set():
            assert self.proc.poll() is None, self.finish()
            assert time.monotonic() < deadline, "runtime never asked for /next"
            self.api.waiting.wait(0.001)

    def finish(self, timeout: float = 10) -> str:
        """Stop the process (if still running) and return all it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            # NOTE: bounded too: a descendant that kept the pipe open must not hang the suite.
            try:
                out, _ = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                out = b""
        self.output += out or b""
        return self.output.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# The real emulator


def emulator_binary() -> Optional[str]:
    """The native lambda-rie binary, if built."""
    candidate = os.environ.get("LAMBDA_RIE_BIN") or str(REPO / "target" / "release" / "lambda-rie")
    if os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("lambda-rie")


_LISTENING = re.compile(rb"Invoke API listening on http://([0-9.]+:[0-9]+)")


class Emulator:
    """lambda-rie serving one runtime command, with its output collected."""

    def __init__(self, command: list[str], code_dir: Path, args: list[str], env: dict[str, str]):
        binary = emulator_binary()
        if binary is None:
            pytest.skip("lambda-rie binary not built (cargo build --release -p lambda-rie-cli)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--runtime-interface-emulator-address",
                "127.0.0.1:0",
                "--runtime-api-address",
                "127.0.0.1:0",
                *args,
                "--",
                *command,
            ],
            cwd=code_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        deadline = time.monotonic() + 20
        while True:
            with self._lock:
                found = _LISTENING.search(bytes(self.stderr))
            if found:
                self.endpoint = "http://" + found.group(1).decode()
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"lambda-rie did not start: {self.stderr.decode(errors='replace')}")
            time.sleep(0.01)

    def _pump(self, stream: Any, sink: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._lock:
                sink.extend(chunk)

    def invoke(
        self, body: bytes = b"{}", headers: Optional[dict[str, str]] = None, timeout: float = 30
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.endpoint + "/2015-03-31/functions/function/invocations",
            data=body,
            headers=headers or {},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read()

    def output(self) -> str:
        with self._lock:
            return self.stdout.decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def wait_for(predicate: Any, timeout: float = 10, interval: float = 0.01) -> Any:
    """Poll `predicate` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
