"""The Runtime API (docs/reference.md §3) as a custom runtime sees it: a bash + curl bootstrap, and
the test itself playing the runtime to check every answer to misuse."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from harness import (
    DEFAULT_ARN,
    FUNCTIONS,
    RUNTIME_API_BASE,
    UUID,
    Emulator,
    EmulatorFactory,
    Response,
    free_port,
    request,
)

CURL_RUNTIME = FUNCTIONS / "curl_runtime" / "bootstrap"
INVALID_REQUEST_ID = b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'
DOUBLE_RESPONSE = (
    b'{"errorMessage":"State transition from RuntimeResponseSentState to InvocationResponse '
    b'failed for runtime. Error: State transition is not allowed",'
    b'"errorType":"InvalidStateTransition"}\n'
)
DOUBLE_ERROR = DOUBLE_RESPONSE.replace(b"to InvocationResponse", b"to InvocationErrorResponse")
INVALID_RESPONSE_MODE = (
    b'{"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"}\n'
)


@pytest.mark.parametrize(
    "args",
    [["--", str(CURL_RUNTIME)], [str(CURL_RUNTIME)], ["curl_runtime/bootstrap"]],
    ids=["after-dashes", "absolute-path", "relative-path"],
)
def test_bash_curl_runtime_serves_invokes(
    emulator_factory: EmulatorFactory, args: list[str]
) -> None:
    emulator = emulator_factory(args)
    for event in ({"a": 1}, [1, 2, 3], "text", None):
        answer = emulator.invoke(event)
        assert answer.status == 200, answer.body
        assert answer.json() == {"echo": event}
        assert answer.header("X-Amz-Executed-Version") == "$LATEST"


class PlayedRuntime:
    """The test acting as the runtime of an environment whose real runtime only sleeps."""

    def __init__(self, emulator: Emulator, port: int) -> None:
        self.emulator = emulator
        self.port = port

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return request(
            "127.0.0.1", self.port, method, RUNTIME_API_BASE + path, body=body, headers=headers
        )

    def wait_up(self) -> None:
        """Wait until the environment has started its runtime (the first invoke starts it):
        a connection made before then would belong to no runtime."""
        self.emulator.stdout.wait_for(r"^INIT_START ")


@contextmanager
def invoking(emulator: Emulator) -> Iterator[ThreadPoolExecutor]:
    """A pool for invokes that are answered by the test; the emulator is stopped on the way
    out, so that an invoke left waiting by a failed assertion cannot hold the test."""
    pool = ThreadPoolExecutor(1)
    try:
        yield pool
    finally:
        emulator.close()
        pool.shutdown(wait=True)


def start_with_sleeping_runtime(emulator_factory: EmulatorFactory) -> PlayedRuntime:
    """An emulator whose runtime is `sleep`, so that the test can play the runtime."""
    port = free_port()
    emulator = emulator_factory(
        ["--runtime-api-address", f"127.0.0.1:{port}", "--timeout", "60", "--", "sleep", "600"]
    )
    return PlayedRuntime(emulator, port)


@contextmanager
def played_runtime(
    emulator_factory: EmulatorFactory, event: object
) -> Iterator[tuple[PlayedRuntime, Future[Response], Response]]:
    """Invoke an emulator whose runtime only sleeps, and take the invocation as its runtime."""
    runtime = start_with_sleeping_runtime(emulator_factory)
    with invoking(runtime.emulator) as pool:
        pending = pool.submit(runtime.emulator.invoke, event)
        runtime.wait_up()
        taken = runtime.call("GET", "/invocation/next")
        assert taken.status == 200, taken.body
        yield runtime, pending, taken


def test_next_carries_the_invocation(emulator_factory: EmulatorFactory) -> None:
    with played_runtime(emulator_factory, {"k": "v"}) as (runtime, pending, taken):
        assert taken.body == b'{"k": "v"}'
        request_id = taken.header("Lambda-Runtime-Aws-Request-Id") or ""
        assert re.fullmatch(UUID, request_id)
        assert taken.header("Lambda-Runtime-Invoked-Function-Arn") == DEFAULT_ARN
        assert taken.header("Content-Type") == "application/json"
        assert (taken.header("Lambda-Runtime-Trace-Id") or "").startswith("Root=1-")
        assert taken.header("Lambda-Runtime-Client-Context") is None
        assert taken.header("Lambda-Runtime-Cognito-Identity") is None
        deadline_ms = int(taken.header("Lambda-Runtime-Deadline-Ms") or "0")
        now_ms = time.time() * 1000
        # --timeout 60; the bounds allow for clock granularity only.
        assert now_ms < deadline_ms <= now_ms + 60_000 + 1000

        accepted = runtime.call("POST", f"/invocation/{request_id}/response", b'{"ok": true}')
        assert accepted.status == 202
        assert accepted.body == b'{"status":"OK"}\n'
        answer = pending.result(timeout=30)
        assert answer.status == 200
        assert answer.body == b'{"ok": true}'
        assert answer.header("x-amzn-RequestId") == request_id


def test_runtime_api_misuse_gets_the_spec_answers(emulator_factory: EmulatorFactory) -> None:
    with played_runtime(emulator_factory, {}) as (runtime, pending, taken):
        request_id = taken.header("Lambda-Runtime-Aws-Request-Id")

        wrong_id = runtime.call("POST", "/invocation/not-a-request-id/response", b"{}")
        assert (wrong_id.status, wrong_id.body) == (400, INVALID_REQUEST_ID)
        wrong_id = runtime.call("POST", "/invocation/not-a-request-id/error", b"{}")
        assert (wrong_id.status, wrong_id.body) == (400, INVALID_REQUEST_ID)

        late_init_error = runtime.call(
            "POST",
            "/init/error",
            b'{"errorMessage":"late","errorType":"Custom.Late"}',
            {"Lambda-Runtime-Function-Error-Type": "Custom.Late"},
        )
        assert late_init_error.status == 403
        assert late_init_error.json()["errorType"] == "InvalidStateTransition"

        assert runtime.call("GET", "/no/such/path").status == 404
        assert runtime.call("POST", "/invocation/next").status == 405
        assert runtime.call("GET", f"/invocation/{request_id}/response").status == 405

        bad_mode = runtime.call(
            "POST",
            f"/invocation/{request_id}/response",
            b"{}",
            {"Lambda-Runtime-Function-Response-Mode": "chunky"},
        )
        assert (bad_mode.status, bad_mode.body) == (400, INVALID_RESPONSE_MODE)

        done = runtime.call("POST", f"/invocation/{request_id}/response", b'"first"')
        assert done.status == 202
        assert pending.result(timeout=30).body == b'"first"'

        again = runtime.call("POST", f"/invocation/{request_id}/response", b'"second"')
        assert (again.status, again.body) == (403, DOUBLE_RESPONSE)
        error_after = runtime.call("POST", f"/invocation/{request_id}/error", b"{}")
        assert (error_after.status, error_after.body) == (403, DOUBLE_ERROR)


def test_error_post_answers_the_invoke_as_unhandled(emulator_factory: EmulatorFactory) -> None:
    error = b'{"errorMessage":"it broke","errorType":"Custom.Broken","stackTrace":[]}'
    with played_runtime(emulator_factory, {}) as (runtime, pending, taken):
        request_id = taken.header("Lambda-Runtime-Aws-Request-Id")
        accepted = runtime.call(
            "POST",
            f"/invocation/{request_id}/error",
            error,
            {"Lambda-Runtime-Function-Error-Type": "Custom.Broken"},
        )
        assert accepted.status == 202
        answer = pending.result(timeout=30)
        assert answer.status == 200
        assert answer.header("X-Amz-Function-Error") == "Unhandled"
        assert answer.body == error


def test_one_keep_alive_connection_serves_the_runtime(emulator_factory: EmulatorFactory) -> None:
    runtime = start_with_sleeping_runtime(emulator_factory)
    with invoking(runtime.emulator) as pool:
        pending = pool.submit(runtime.emulator.invoke, {"n": 0})
        runtime.wait_up()
        conn = http.client.HTTPConnection("127.0.0.1", runtime.port, timeout=30)
        try:
            for n in range(3):
                if n > 0:
                    pending = pool.submit(runtime.emulator.invoke, {"n": n})
                conn.request("GET", f"{RUNTIME_API_BASE}/invocation/next")
                taken = conn.getresponse()
                assert json.loads(taken.read()) == {"n": n}
                request_id = taken.headers["Lambda-Runtime-Aws-Request-Id"]
                conn.request(
                    "POST",
                    f"{RUNTIME_API_BASE}/invocation/{request_id}/response",
                    body=json.dumps({"got": n}),
                )
                accepted = conn.getresponse()
                assert accepted.status == 202
                accepted.read()
                assert pending.result(timeout=30).json() == {"got": n}
        finally:
            conn.close()


@pytest.mark.parametrize("cut", ["closed", "bad_chunk"])
def test_a_response_body_that_breaks_off_is_no_answer_and_may_be_posted_again(
    emulator_factory: EmulatorFactory, cut: str
) -> None:
    with played_runtime(emulator_factory, {}) as (runtime, pending, taken):
        request_id = taken.header("Lambda-Runtime-Aws-Request-Id")
        path = f"{RUNTIME_API_BASE}/invocation/{request_id}/response"
        start = f"POST {path} HTTP/1.1\r\nHost: runtime\r\n"
        sent = {
            "closed": f"{start}Content-Length: 100\r\n\r\n".encode() + b'{"partial',
            "bad_chunk": f"{start}Transfer-Encoding: chunked\r\n\r\n".encode()
            + b"5\r\nhello\r\nzz\r\n",
        }[cut]
        assert broken_post(runtime, sent).startswith(b"HTTP/1.1 400 ")
        assert not pending.done(), "a broken body is no answer"
        whole = runtime.call("POST", f"/invocation/{request_id}/response", b'"whole"')
        assert whole.status == 202
        answer = pending.result(timeout=30)
        assert (answer.status, answer.body) == (200, b'"whole"')
        assert answer.header("X-Amz-Function-Error") is None


def test_a_streamed_response_that_breaks_off_fails_the_invocation_at_once(
    emulator_factory: EmulatorFactory,
) -> None:
    with played_runtime(emulator_factory, {}) as (runtime, pending, taken):
        request_id = taken.header("Lambda-Runtime-Aws-Request-Id")
        path = f"{RUNTIME_API_BASE}/invocation/{request_id}/response"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: runtime\r\n"
            "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        reply = broken_post(runtime, head.encode() + b"5\r\nhello\r\n")
        assert b'"errorType":"InvalidRequestBody"' in reply
        # NOTE: at once, not at the 60 s timeout: part of it may have reached the caller.
        answer = pending.result(timeout=10)
        assert answer.status == 200
        assert answer.header("X-Amz-Function-Error") == "Unhandled"
        assert answer.json()["errorType"] == "Runtime.TruncatedResponse"
        late = runtime.call("POST", f"/invocation/{request_id}/response", b'"late"')
        assert (late.status, late.body) == (403, DOUBLE_RESPONSE)


def broken_post(runtime: PlayedRuntime, sent: bytes) -> bytes:
    """Send `sent` (a post whose body breaks off) and half-close: its answer."""
    with socket.create_connection(("127.0.0.1", runtime.port), timeout=10) as conn:
        conn.sendall(sent)
        conn.shutdown(socket.SHUT_WR)
        reply = conn.recv(65536)
    assert b'"errorType":"InvalidRequestBody"' in reply, reply
    return reply
