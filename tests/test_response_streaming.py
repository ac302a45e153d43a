"""Response streaming (docs/reference.md §2, §3): InvokeWithResponseStream through boto3, against
a custom runtime that streams over raw sockets and against generator handlers of the built-in
runtime; a buffered Invoke of the same functions gets the collected body.

The functions are those of `tests/functions/streaming/lambda-rie.toml`, served by one emulator
per face of the CLI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness import FUNCTIONS, UUID, Emulator, EmulatorFactory, lambda_client
from lambda_rie import Emulator as EmbeddedEmulator
from lambda_rie import Function

STREAMING = FUNCTIONS / "streaming"
THREE_CHUNKS = [b"chunk-0\n", b"chunk-1\n", b"chunk-2\n"]
#: The custom runtime's error, sent in the trailers (or to /error).
STREAM_ERROR = {"errorMessage": "boom after the first chunk", "errorType": "StreamError"}
RESPONSE_TOO_LARGE = (
    b'{"errorMessage":"Response payload size exceeded maximum allowed payload size '
    b'(6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}'
)
#: Chunks are written 300 ms apart: the first must arrive well before the last.
DELAY_S = 0.3
EARLY_BY_S = 0.5


@pytest.fixture(scope="module")
def emulator(face: list[str]) -> Iterator[Emulator]:
    factory = EmulatorFactory(face)
    try:
        yield factory(["--config", str(STREAMING / "lambda-rie.toml")], cwd=STREAMING)
    finally:
        factory.close()


@pytest.fixture(scope="module")
def client(emulator: Emulator) -> Iterator[Any]:
    client = lambda_client(emulator.url, read_timeout=60)
    yield client
    client.close()


def stream(client: Any, function: str, event: Any, **kwargs: Any) -> tuple[Any, list[Any]]:
    """The response and its events as `(receipt time, PayloadChunk bytes | InvokeComplete)`."""
    response = client.invoke_with_response_stream(
        FunctionName=function, Payload=json.dumps(event).encode(), **kwargs
    )
    events = []
    for event_ in response["EventStream"]:
        received = time.monotonic()
        if "PayloadChunk" in event_:
            events.append((received, event_["PayloadChunk"]["Payload"]))
        else:
            events.append((received, event_["InvokeComplete"]))
    return response, events


def chunks_of(events: list[Any]) -> list[bytes]:
    return [item for _, item in events if isinstance(item, bytes)]


def completion(events: list[Any]) -> dict[str, str]:
    """The `InvokeComplete` event, which must come last and only once."""
    last = events[-1][1]
    assert isinstance(last, dict), events
    assert all(isinstance(item, bytes) for _, item in events[:-1])
    return dict(last)


@pytest.mark.parametrize("function", ["custom", "generator", "async_generator"])
def test_chunks_arrive_as_the_function_writes_them(client: Any, function: str) -> None:
    response, events = stream(client, function, {"chunks": 3, "delay": DELAY_S}, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    request_id = response["ResponseMetadata"]["RequestId"]
    assert re.fullmatch(UUID, request_id)
    assert chunks_of(events) == THREE_CHUNKS
    complete = completion(events)
    assert set(complete) == {"LogResult"}
    assert f"START RequestId: {request_id}" in base64.b64decode(complete["LogResult"]).decode()
    first_at, last_at = events[0][0], events[2][0]
    # NOTE: the function takes 600 ms; a collected answer would bring all three at once.
    assert last_at - first_at >= EARLY_BY_S


def test_a_twenty_megabyte_stream_arrives_intact(client: Any, emulator: Emulator) -> None:
    size = 20 * 1024 * 1024
    _, events = stream(client, "custom", {"bytes": size})
    body = b"".join(chunks_of(events))
    assert len(body) == size
    assert completion(events) == {}
    sent = emulator.stdout.wait_for(r"sha256=([0-9a-f]{64})").group(1)
    assert hashlib.sha256(body).hexdigest() == sent


def test_an_error_after_the_first_chunk_ends_the_stream(client: Any) -> None:
    _, events = stream(client, "custom", {"fail_after": 1})
    assert chunks_of(events) == [b"chunk-0\n"]
    complete = completion(events)
    assert complete["ErrorCode"] == "StreamError"
    assert json.loads(complete["ErrorDetails"]) == STREAM_ERROR


def test_an_error_before_any_chunk_completes_with_the_error(client: Any) -> None:
    _, events = stream(client, "custom", {"error": True})
    assert chunks_of(events) == []
    complete = completion(events)
    assert complete["ErrorCode"] == "StreamError"
    assert json.loads(complete["ErrorDetails"]) == STREAM_ERROR


def test_a_timeout_mid_stream_ends_it_as_sandbox_timedout(client: Any) -> None:
    _, events = stream(client, "custom", {"hang_after": 1})
    assert chunks_of(events) == [b"chunk-0\n"]
    complete = completion(events)
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r'\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: '
        + UUID
        + r' Error: Task timed out after 2\.\d\d seconds"\}',
        complete["ErrorDetails"],
    )


def test_a_buffered_response_comes_as_one_chunk(client: Any) -> None:
    _, events = stream(client, "custom", {"buffered": "whole answer"})
    assert chunks_of(events) == [b"whole answer"]
    assert completion(events) == {}


def test_generator_error_midway_ends_the_stream_and_is_logged(
    client: Any, emulator: Emulator
) -> None:
    response, events = stream(client, "failing_generator", {}, LogType="Tail")
    assert chunks_of(events) == [b"chunk-0\n"]
    complete = completion(events)
    assert complete["ErrorCode"] == "ValueError"
    details = json.loads(complete["ErrorDetails"])
    assert (details["errorType"], details["errorMessage"]) == ("ValueError", "boom midway")
    assert any("raise ValueError" in line for line in details["stackTrace"])
    # The error is part of the invocation's log: before its END, in its tail.
    request_id = response["ResponseMetadata"]["RequestId"]
    emulator.stdout.wait_for(rf"^REPORT RequestId: {request_id}")
    log = emulator.stdout.text()
    error_at = log.index("[ERROR] ValueError: boom midway")
    assert error_at < log.index(f"END RequestId: {request_id}")
    assert "[ERROR] ValueError: boom midway" in base64.b64decode(complete["LogResult"]).decode()


@pytest.mark.parametrize("function", ["custom", "generator", "async_generator"])
def test_a_buffered_invoke_gets_the_collected_stream(client: Any, function: str) -> None:
    answer = client.invoke(
        FunctionName=function, Payload=json.dumps({"chunks": 3, "delay": 0}).encode()
    )
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["Payload"].read() == b"".join(THREE_CHUNKS)


def test_a_buffered_invoke_of_a_stream_over_6_mb_fails(client: Any) -> None:
    answer = client.invoke(FunctionName="custom", Payload=json.dumps({"bytes": 7_000_000}).encode())
    assert answer["FunctionError"] == "Unhandled"
    assert answer["Payload"].read() == RESPONSE_TOO_LARGE


def test_dry_run_and_unknown_function(client: Any) -> None:
    dry = client.invoke_with_response_stream(FunctionName="custom", InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    # NOTE: nothing reads an empty stream; closing it hands its connection back.
    dry["EventStream"].close()
    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.invoke_with_response_stream(FunctionName="nope", Payload=b"{}")
    assert missing.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:012345678912:function:nope:$LATEST"
    )


def test_the_python_api_gets_the_collected_stream() -> None:
    function = Function("generator", handler="app.chunks", code_dir=STREAMING)
    with EmbeddedEmulator([function]) as emu:
        result = emu.invoke("generator", {"chunks": 3, "delay": 0})
    assert result.function_error is None
    assert result.payload == b"".join(THREE_CHUNKS)
