"""Fuzzing the Invoke API front of a running emulator with hypothesis.

Random methods, paths (the real route prefixes with random tails, percent escapes, huge and
empty names, ARNs), headers (the `X-Amz-*` ones with random values, bad base64, huge values)
and bodies (random bytes, deep JSON, invalid UTF-8) go out over raw sockets, so that requests
http.client would refuse to send are sent too. Every answer must be a well-formed HTTP/1.1
response (status line, headers, a body of exactly the length its framing says); a service error
carries `x-amzn-ErrorType` and AWS's JSON shape; nothing is a 5xx; a streamed answer is a valid
event stream. Afterwards the emulator is alive and still serves a normal invoke.

The examples are derandomized (a failure reproduces run after run), few by default and many
with `LAMBDA_RIE_STRESS=full`, and each run also stops at a wall-clock budget.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Optional, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import (
    DEFAULT_ACCOUNT,
    DEFAULT_FUNCTION,
    DEFAULT_REGION,
    FUNCTIONS,
    INVOKE_PATH,
    Emulator,
    EmulatorFactory,
    stress_size,
)

ROBUST = FUNCTIONS / "robust"
EXAMPLES = stress_size(150, 3000)
# NOTE: a budget, not an expectation: an example takes a few ms (an invoke ~1 ms warm).
BUDGET_S = stress_size(90, 900)
# At least this many examples must have run within the budget, or the run proves little.
MIN_EXAMPLES = 30
SOCKET_TIMEOUT_S = 60.0

SERVICE_ERROR_CODES = {
    "ResourceNotFoundException": 404,
    "RequestEntityTooLargeException": 413,
    "InvalidRequestContentException": 400,
    "InvalidParameterValueException": 400,
    "ValidationException": 400,
    "TooManyRequestsException": 429,
    "MethodNotAllowedException": 405,
    "UnknownOperationException": 404,
}
TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# NOTE: HTTP/1.0 too: a request made of junk may say HTTP/1.0 and gets a 1.0 answer.
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*")


@dataclass
class Answer:
    """One HTTP answer read off a socket, its framing checked."""

    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())


def dechunk(raw: bytes) -> bytes:
    """The body of a chunked message; the whole of `raw` must be its chunks and final chunk."""
    body = bytearray()
    at = 0
    while True:
        end = raw.index(b"\r\n", at)
        size = int(raw[at:end].split(b";")[0], 16)
        at = end + 2
        if size == 0:
            assert raw[at:] == b"\r\n", f"bytes after the last chunk: {raw[at:]!r}"
            return bytes(body)
        body += raw[at : at + size]
        assert raw[at + size : at + size + 2] == b"\r\n", "a chunk without its CRLF"
        at += size + 2


def parse_answer(raw: bytes, *, head: bool = False) -> Answer:
    """Check that `raw` is one whole HTTP/1.1 response and nothing more, and read it."""
    split = raw.find(b"\r\n\r\n")
    assert split >= 0, f"no end of head in {raw[:300]!r}"
    lines = raw[:split].split(b"\r\n")
    status = STATUS_LINE.fullmatch(lines[0])
    assert status is not None, f"bad status line {lines[0]!r}"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        assert sep, f"bad header line {line!r}"
        assert TOKEN.fullmatch(name), f"bad header name in {line!r}"
        headers[name.decode().lower()] = value.strip().decode("latin-1")
    code = int(status.group(1))
    rest = raw[split + 4 :]
    if head or code in (204, 304):
        assert rest == b"", f"{code} with a body: {rest[:100]!r}"
        return Answer(code, headers, b"")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        assert "content-length" not in headers, "both Content-Length and chunked"
        return Answer(code, headers, dechunk(rest))
    assert "content-length" in headers, f"no framing in {headers}"
    assert len(rest) == int(headers["content-length"]), (
        f"body of {len(rest)} bytes, Content-Length {headers['content-length']}"
    )
    return Answer(code, headers, rest)


def exchange(emulator: Emulator, request: bytes) -> bytes:
    """Send `request` on a fresh connection and read until the emulator closes it."""
    with socket.create_connection((emulator.host, emulator.port), SOCKET_TIMEOUT_S) as sock:
        # The emulator may answer and close before it has read all of a refused request.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def event_stream_messages(body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Decode an AWS event stream, checking both CRCs of every message (zlib's CRC-32)."""
    messages = []
    at = 0
    while at < len(body):
        total, headers_len, prelude_crc = struct.unpack(">III", body[at : at + 12])
        assert prelude_crc == zlib.crc32(body[at : at + 8]), "prelude CRC"
        message = body[at : at + total]
        assert len(message) == total, "a truncated message"
        (message_crc,) = struct.unpack(">I", message[-4:])
        assert message_crc == zlib.crc32(message[:-4]), "message CRC"
        headers = {}
        h = 12
        while h < 12 + headers_len:
            name_len = message[h]
            name = message[h + 1 : h + 1 + name_len].decode()
            assert message[h + 1 + name_len] == 7, "a header that is not a string"
            (value_len,) = struct.unpack(">H", message[h + 2 + name_len : h + 4 + name_len])
            start = h + 4 + name_len
            headers[name] = message[start : start + value_len].decode()
            h = start + value_len
        messages.append((headers, message[12 + headers_len : -4]))
        at += total
    return messages


def check_answer(method: str, path: str, answer: Answer) -> None:
    """What every answer of the front must be, whatever was asked."""
    where = f"{method} {path[:200]} -> {answer.status} {answer.body[:300]!r}"
    assert answer.status < 500, where
    code = answer.header("x-amzn-ErrorType")
    if answer.status >= 300 or code is not None:
        assert code in SERVICE_ERROR_CODES, where
        assert answer.status == SERVICE_ERROR_CODES[code], where
        assert answer.header("Content-Type") == "application/json", where
        if method == "HEAD":
            return  # a HEAD answer states its body's length and sends none
        body = json.loads(answer.body)
        assert body["Type"] == "User", where
        key = "Message" if code == "ResourceNotFoundException" else "message"
        assert set(body) <= {"Type", key, "Reason"}, where
        assert isinstance(body[key], str), where
        return
    assert answer.status in (200, 202, 204), where
    if answer.header("X-Amz-Function-Error") is not None:
        assert answer.header("X-Amz-Function-Error") == "Unhandled", where
    log_result = answer.header("X-Amz-Log-Result")
    if log_result is not None:
        assert b"START RequestId: " in base64.b64decode(log_result, validate=True), where
    if answer.header("Content-Type") == "application/vnd.amazon.eventstream":
        messages = event_stream_messages(answer.body)
        assert messages, where
        assert messages[-1][0][":event-type"] == "InvokeComplete", where


# The request strategies. Everything is sent as it is, so each piece stays inside what an
# HTTP/1.1 request line and header lines can carry (a request hyper refuses is the job of
# `test_junk_bytes_get_a_well_formed_answer_or_none`).
T = TypeVar("T")
URI_CHARS = "ABCXYZabcxyz0189-._~!$&'()*+,;=:@"
ARN = f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{DEFAULT_FUNCTION}"

escape = st.integers(0, 255).map(lambda b: f"%{b:02X}")
segment = st.lists(
    st.one_of(st.text(URI_CHARS, min_size=1, max_size=4), escape, st.just("%")), max_size=24
).map("".join)
valid_names = st.sampled_from(
    [
        "function",
        DEFAULT_FUNCTION,
        ARN,
        f"{ARN}:$LATEST",
        f"{ARN}%3A%24LATEST",
        f"{DEFAULT_ACCOUNT}:function:{DEFAULT_FUNCTION}",
        "arn%3Aaws%3Alambda%3Aus-east-1%3A012345678912%3Afunction%3Atest_function",
    ]
)
odd_names = st.one_of(
    st.sampled_from(["", "..%2F..%2Fetc%2Fpasswd", "%00", "%ff%fe", "other", f"{ARN}:live"]),
    segment,
    st.integers(65, 8000).map(lambda n: "n" * n),
)
queries = st.one_of(
    st.just(""),
    st.sampled_from(["$LATEST", "%24LATEST", "live", "7", ""]).map(lambda q: f"?Qualifier={q}"),
    segment.map(lambda q: f"?{q}"),
)
other_methods = st.one_of(
    st.sampled_from(["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
    st.from_regex(r"[A-Z]{1,10}", fullmatch=True).filter(lambda m: m != "CONNECT"),
)


def weighted(draw: st.DrawFn, *choices: tuple[int, st.SearchStrategy[T]]) -> T:
    """Draw from one of `choices` with the given weights (hypothesis's one_of has none)."""
    pick = draw(st.integers(0, sum(weight for weight, _ in choices) - 1))
    for weight, strategy in choices:
        if pick < weight:
            return draw(strategy)
        pick -= weight
    raise AssertionError("unreachable")


@st.composite
def method_and_target(draw: st.DrawFn) -> tuple[str, str]:
    """Mostly POSTed invokes of real names (the function then runs), and the rest."""
    name = weighted(draw, (7, valid_names), (3, odd_names))
    invoke = f"/2015-03-31/functions/{name}/invocations"
    method, path = weighted(
        draw,
        (60, st.just(("POST", invoke))),
        (10, st.just(("POST", f"/2021-11-15/functions/{name}/response-streaming-invocations"))),
        (8, other_methods.map(lambda m: (m, invoke))),
        (
            8,
            st.tuples(
                st.just("GET"),
                st.sampled_from(
                    [
                        "/2015-03-31/functions/",
                        "/_lambda-rie/metrics",
                        f"/2015-03-31/functions/{name}",
                        f"/2015-03-31/functions/{name}/configuration",
                    ]
                ),
            ),
        ),
        (
            14,
            st.tuples(
                st.just("POST") | other_methods,
                st.tuples(
                    st.sampled_from(["/2015-03-31/functions/", "/2021-11-15/functions/", "/"]),
                    segment,
                    st.sampled_from(["", "/invocations", "/invocations/"]),
                ).map("".join),
            ),
        ),
    )
    return method, path + weighted(draw, (3, st.just("")), (1, queries))


header_bytes = st.binary(max_size=80).map(
    lambda raw: bytes(b if 0x20 <= b < 0x7F or b >= 0x80 else 0x61 for b in raw).strip()
)
json_objects = st.dictionaries(
    st.text(max_size=8), st.integers() | st.text(max_size=20), max_size=5
)
client_contexts = st.one_of(
    json_objects.map(lambda o: base64.b64encode(json.dumps(o).encode())),
    st.sampled_from([b"%%% not base64 %%%", b"e30", b"W10=", b"bnVsbA==", b"=" * 8]),
    st.integers(2700, 12000).map(lambda n: base64.b64encode(json.dumps({"k": "v" * n}).encode())),
    header_bytes,
)


@st.composite
def invoke_headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """Each `X-Amz-*` header the front reads, absent or with a good, near or random value,
    and other `X-Amz-*` headers (some huge)."""
    near = {b"event", b"", b"Event ", b"tail"}
    choices = [
        (b"X-Amz-Invocation-Type", [b"RequestResponse", b"Event", b"Event", b"DryRun"]),
        (b"X-Amz-Log-Type", [b"None", b"Tail"]),
        (
            b"Content-Type",
            [b"application/json", b"text/plain", b"application/x-www-form-urlencoded"],
        ),
    ]
    headers = []
    for name, good in choices:
        value = weighted(
            draw,
            (4, st.just(None)),
            (4, st.sampled_from(good)),
            (1, st.sampled_from(sorted(near))),
            (1, header_bytes),
        )
        if value is not None:
            headers.append((name, value))
    if draw(st.integers(0, 3)) == 0:
        headers.append((b"X-Amz-Client-Context", draw(client_contexts)))
    for name in (b"X-Amzn-Trace-Id", b"X-Amz-Tenant-Id"):
        if draw(st.integers(0, 5)) == 0:
            headers.append((name, draw(header_bytes)))
    headers += draw(
        st.lists(
            st.tuples(
                st.from_regex(rb"X-Amz-[A-Za-z0-9-]{1,20}", fullmatch=True),
                header_bytes | st.integers(1, 60_000).map(lambda n: b"h" * n),
            ),
            max_size=3,
        )
    )
    return draw(st.permutations(headers))


deep_json = st.integers(1, 1500).flatmap(
    lambda depth: st.lists(st.booleans(), min_size=depth, max_size=depth).map(
        lambda kinds: (
            "".join('{"k":' if k else "[" for k in kinds)
            + "0"
            + "".join("}" if k else "]" for k in reversed(kinds))
        ).encode()
    )
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Mostly JSON (which the function then gets), and every kind of body AWS refuses."""
    return weighted(
        draw,
        (5, json_values.map(lambda v: json.dumps(v).encode())),
        (2, json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode())),
        (2, st.binary(max_size=512)),
        (2, deep_json),
        (1, st.binary(min_size=1, max_size=64).map(lambda b: b'{"bad": "\xff' + b + b'"}')),
        (1, st.sampled_from([b"", b"  \n", b"{}", b"null", b"[", b'"unterminated'])),
        (1, st.sampled_from([1_048_577, 6_291_457]).map(lambda n: b'"' + b"x" * (n - 2) + b'"')),
    )


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """A whole request: its method, its target (for messages) and its bytes."""
    method, target = draw(method_and_target())
    headers = draw(invoke_headers())
    body = draw(bodies())
    head = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    head += [name + b": " + value for name, value in headers]
    head += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    return method, target, b"\r\n".join(head) + b"\r\n\r\n" + body


def start(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(["--timeout", "10", "echo.handler"], cwd=ROBUST)


def assert_still_serving(emulator: Emulator) -> None:
    """The emulator is alive and answers a normal invoke with the event."""
    assert emulator.process.poll() is None, emulator.stderr_text()[-2000:]
    answer = emulator.invoke({"after": "fuzzing"})
    assert answer.status == 200, answer.body[:300]
    assert answer.header("X-Amz-Function-Error") is None, answer.body[:300]
    assert answer.json() == {"after": "fuzzing"}
    assert emulator.request("GET", "/_lambda-rie/metrics").status == 200


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.timeout(BUDGET_S + 120)
def test_any_request_gets_one_well_formed_answer(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory)
    end = time.monotonic() + BUDGET_S
    ran = []

    @FUZZ_SETTINGS
    @given(request=requests())
    def one(request: tuple[str, str, bytes]) -> None:
        if time.monotonic() > end:
            return
        ran.append(1)
        method, target, raw = request
        received = exchange(emulator, raw)
        assert received.startswith(b"HTTP/1.1 "), received[:100]
        answer = parse_answer(received, head=method == "HEAD")
        check_answer(method, target, answer)

    one()
    assert len(ran) >= min(MIN_EXAMPLES, EXAMPLES), f"only {len(ran)} examples in {BUDGET_S} s"
    assert_still_serving(emulator)


junk = st.one_of(
    st.binary(min_size=1, max_size=2048),
    st.tuples(other_methods, segment, st.binary(max_size=300)).map(
        lambda p: f"{p[0]} /{p[1]} HTTP/1.1\r\n".encode() + p[2] + b"\r\n\r\n"
    ),
    st.tuples(other_methods, st.binary(min_size=1, max_size=100)).map(
        lambda p: f"{p[0]} {INVOKE_PATH} HTTP/1.1\r\nContent-Length: ".encode() + p[1] + b"\r\n\r\n"
    ),
    st.binary(max_size=64).map(
        lambda b: f"POST {INVOKE_PATH} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + b
    ),
)


@pytest.mark.timeout(BUDGET_S + 120)
def test_junk_bytes_get_a_well_formed_answer_or_none(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory)
    end = time.monotonic() + BUDGET_S

    @FUZZ_SETTINGS
    @given(raw=junk)
    def one(raw: bytes) -> None:
        if time.monotonic() > end:
            return
        with socket.create_connection((emulator.host, emulator.port), SOCKET_TIMEOUT_S) as sock:
            try:
                sock.sendall(raw)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # closed on us already: what it sent (if anything) is read below
            received = bytearray()
            while True:
                try:
                    chunk = sock.recv(1 << 16)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
        # Each request it could make out gets one whole answer, in order; then it closes.
        rest = bytes(received)
        while rest:
            split = rest.find(b"\r\n\r\n")
            assert split >= 0, f"a partial answer {rest[:300]!r} to {raw[:300]!r}"
            head = parse_answer(rest[: split + 4], head=True)
            after = rest[split + 4 :]
            # A HEAD request (junk can make one) is answered by a head alone.
            head_only = after[:7] in (b"", b"HTTP/1.")
            length = 0 if head_only else int(head.header("content-length") or 0)
            answer = parse_answer(rest[: split + 4 + length], head=head_only)
            assert 200 <= answer.status < 500, f"{answer} for {raw[:300]!r}"
            rest = after[length:]

    one()
    assert_still_serving(emulator)
