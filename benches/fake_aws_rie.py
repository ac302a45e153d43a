#!/usr/bin/env python3
"""A stand-in for AWS's `aws-lambda-rie`, only as far as the benchmarks use it, so that the
LAMBDA_RIE_BENCH_RIE code path runs on a machine without the real binary:

    LAMBDA_RIE_BENCH_RIE=benches/fake_aws_rie.py pytest benches/test_startup_bench.py ...

`fake_aws_rie.py [--runtime-interface-emulator-address H:P] COMMAND [ARGS...]` listens on H:P
(0.0.0.0:8080 by default), starts COMMAND in the working directory on the first invocation, with
AWS_LAMBDA_RUNTIME_API pointing at its own Runtime API on the same address, and relays one
invocation at a time: `POST /2015-03-31/functions/function/invocations` waits for the runtime's
`/next`, then for its `/response` or `/error`. Standard library only; its figures say nothing
about AWS's emulator, which is written in Go.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RUNTIME_PATH = "/2018-06-01/runtime"
DEFAULT_ADDRESS = "0.0.0.0:8080"
FUNCTION_NAME = "test_function"
ARN = f"arn:aws:lambda:us-east-1:012345678912:function:{FUNCTION_NAME}"
DEADLINE_MS = 300_000


class Invocation:
    """One event waiting for the runtime's answer."""

    def __init__(self, event: bytes) -> None:
        self.request_id = str(uuid.uuid4())
        self.event = event
        self.answer = b""
        self.answered = threading.Event()


class Function:
    """The one runtime process and the invocations handed to it, one at a time."""

    def __init__(self, command: list[str], runtime_api: str) -> None:
        self._command = command
        self._runtime_api = runtime_api
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._one_at_a_time = threading.Lock()
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.in_flight: dict[str, Invocation] = {}

    def invoke(self, event: bytes) -> bytes:
        """Start the runtime if it is not running, hand it the event, wait for its answer."""
        with self._one_at_a_time:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(self._command, env=self._runtime_env())
            invocation = Invocation(event)
            self.in_flight[invocation.request_id] = invocation
            self.pending.put(invocation)
            invocation.answered.wait(DEADLINE_MS / 1000)
            self.in_flight.pop(invocation.request_id, None)
            return invocation.answer

    def _runtime_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            AWS_LAMBDA_RUNTIME_API=self._runtime_api,
            AWS_LAMBDA_FUNCTION_NAME=FUNCTION_NAME,
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="3008",
            AWS_REGION="us-east-1",
            LAMBDA_TASK_ROOT=os.getcwd(),
            _HANDLER=self._command[-1],
        )
        return env

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def handler_class(function: Function) -> type[BaseHTTPRequestHandler]:
    """The HTTP handler of both APIs, bound to `function`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the benchmarks read no access log."""

        def do_GET(self) -> None:
            if self.path != f"{RUNTIME_PATH}/invocation/next":
                self._answer(404, b'{"errorType":"NotFound"}')
                return
            invocation = function.pending.get()
            self._answer(
                200,
                invocation.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + DEADLINE_MS),
                    "Lambda-Runtime-Invoked-Function-Arn": ARN,
                },
            )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == INVOKE_PATH:
                self._answer(200, function.invoke(body))
                return
            parts = self.path.removeprefix(f"{RUNTIME_PATH}/invocation/").split("/")
            invocation = function.in_flight.get(parts[0])
            if len(parts) != 2 or parts[1] not in ("response", "error") or invocation is None:
                self._answer(404, b'{"errorType":"NotFound"}')
                return
            invocation.answer = body
            invocation.answered.set()
            self._answer(202, b'{"status":"OK"}')

        def _answer(
            self, status: int, body: bytes, headers: Optional[dict[str, str]] = None
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main(argv: list[str]) -> int:
    address = DEFAULT_ADDRESS
    if argv[:1] == ["--runtime-interface-emulator-address"]:
        address, argv = argv[1], argv[2:]
    if not argv:
        print("usage: fake_aws_rie.py [--runtime-interface-emulator-address H:P] COMMAND ...")
        return 2
    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), BaseHTTPRequestHandler)
    server.daemon_threads = True
    function = Function(argv, f"127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = handler_class(function)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        function.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
