"""RESPONSE_STREAM function URLs (docs/reference.md §14): the function's chunks reach a raw HTTP
client as they come (chunked transfer), after the status, headers and cookies of its streaming
prelude (JSON, then 8 NUL bytes, as Node.js's `awslambda.HttpResponseStream.from` writes it:
https://docs.aws.amazon.com/lambda/latest/dg/config-rs-invoke-furls.html and API Gateway's
"Lambda proxy integration format for response streaming"); a client that hangs up mid-answer,
streamed or buffered, leaves the function's environment free for the next request."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import FUNCTIONS, Emulator, EmulatorFactory

HANDLERS = FUNCTIONS / "url_stream"
#: A liveness bound (the functions answer in milliseconds).
BOUND_S = 10.0


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory, tmp_path: Path) -> Emulator:
    config = tmp_path / "lambda-rie.toml"
    streamed = 'url = { invoke_mode = "RESPONSE_STREAM" }\nreserved_concurrency = 1'
    config.write_text(
        f"""
[defaults]
code_dir = "{HANDLERS}"
timeout = 30

[functions.prelude]
handler = "app.with_prelude"
{streamed}

[functions.raw]
handler = "app.without_prelude"
{streamed}

[functions.plain]
handler = "app.not_streamed"
{streamed}

[functions.failing]
handler = "app.fails_first"
{streamed}

[functions.waiting]
handler = "app.waits"
url = true
reserved_concurrency = 1
"""
    )
    return emulator_factory(["--config", str(config)])


class RawAnswer:
    """An HTTP/1.1 answer read off a socket: its head at once, its chunks one at a time."""

    def __init__(self, emulator: Emulator, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", emulator.port), timeout=BOUND_S)
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{emulator.port}\r\n\r\n".encode()
        )
        self.reader = self.sock.makefile("rb")
        self.status = int(self.reader.readline().split()[1])
        self.headers: list[tuple[str, str]] = []
        while (line := self.reader.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            self.headers.append((name.lower(), value.strip()))

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]

    def chunk(self) -> bytes:
        """The next chunk of a chunked body (`b""` at its end, where no trailers follow)."""
        size = int(self.reader.readline().strip(), 16)
        data = self.reader.read(size)
        assert self.reader.readline() == b"\r\n"
        return data

    def rest(self) -> bytes:
        body = b""
        while chunk := self.chunk():
            body += chunk
        return body

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class Gate:
    """Where a waiting handler connects (`?port=`), and waits until `open()`."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(BOUND_S)
        self.query = f"port={self.listener.getsockname()[1]}"
        self.waiting: socket.socket | None = None

    def wait(self) -> None:
        """Until a handler waits here."""
        self.waiting, _ = self.listener.accept()

    def open(self) -> None:
        if self.waiting is None:
            self.wait()
        assert self.waiting is not None
        self.waiting.sendall(b"x")
        self.waiting.close()
        self.waiting = None

    def close(self) -> None:
        if self.waiting is not None:
            self.waiting.close()
        self.listener.close()


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.close()


def test_the_first_chunk_arrives_before_the_handler_ends(emulator: Emulator, gate: Gate) -> None:
    answer = RawAnswer(emulator, f"/lambda-url/prelude/p?{gate.query}")
    try:
        assert answer.status == 201
        assert answer.header("content-type") == ["text/plain"]
        assert answer.header("x-stage") == ["prelude"]
        assert answer.header("set-cookie") == ["a=1; Path=/", "b=2"]
        assert answer.header("transfer-encoding") == ["chunked"]
        assert len(answer.header("x-amzn-requestid")) == 1
        assert answer.chunk() == b"chunk-1\n"
        # The handler waits at the gate: chunk 1 came while it ran.
        gate.wait()
        gate.open()
        assert answer.rest() == b"chunk-2\n"
    finally:
        answer.close()


def test_a_stream_without_prelude_is_a_200_of_its_content_type(emulator: Emulator) -> None:
    answer = emulator.request("GET", "/lambda-url/raw/")
    assert answer.status == 200
    assert answer.header("Content-Type") == "application/octet-stream"
    assert answer.body == b"raw-1\nraw-2\n"


def test_a_result_that_is_not_streamed_is_sent_as_it_is(emulator: Emulator) -> None:
    answer = emulator.request("GET", "/lambda-url/plain/")
    assert answer.status == 200
    assert answer.header("Content-Type") == "application/json"
    assert answer.json() == {"statusCode": 418, "body": "teapot"}


def test_a_function_failing_before_its_stream_is_502(emulator: Emulator) -> None:
    answer = emulator.request("GET", "/lambda-url/failing/")
    assert (answer.status, answer.body) == (502, b"Internal Server Error")


def answered_again(emulator: Emulator, path: str) -> int:
    """The status of `path` once it answers something other than 429 (the single environment
    still busy), within the bound."""
    deadline = time.monotonic() + BOUND_S
    while True:
        status = emulator.request("GET", path).status
        if status != 429 or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_a_client_leaving_mid_stream_frees_the_environment(emulator: Emulator, gate: Gate) -> None:
    # 500 chunks after it leaves: more than any queue between the function and the socket.
    answer = RawAnswer(emulator, f"/lambda-url/prelude/p?{gate.query}&more=500")
    assert answer.chunk() == b"chunk-1\n"
    answer.close()
    gate.wait()
    # Reserved concurrency 1: while the handler waits, its one environment is busy.
    assert emulator.request("GET", "/lambda-url/prelude/p").status == 429
    gate.open()
    assert answered_again(emulator, "/lambda-url/prelude/p") == 201
    assert emulator.process.poll() is None


def test_a_client_leaving_a_buffered_answer_frees_the_environment(
    emulator: Emulator, gate: Gate
) -> None:
    sock = socket.create_connection(("127.0.0.1", emulator.port), timeout=BOUND_S)
    sock.sendall(f"GET /lambda-url/waiting/?{gate.query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    gate.wait()
    assert emulator.request("GET", "/lambda-url/waiting/").status == 429
    sock.close()
    gate.open()
    assert answered_again(emulator, "/lambda-url/waiting/") == 200
    assert emulator.process.poll() is None
