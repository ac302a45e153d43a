"""The Invoke API (docs/reference.md §2): routing, request headers, response headers, service
errors."""

from __future__ import annotations

import base64
import http.client
import json
import re
import uuid

import pytest

from harness import (
    DEFAULT_ACCOUNT,
    DEFAULT_ARN,
    DEFAULT_FUNCTION,
    UUID,
    Emulator,
    EmulatorFactory,
    awslambdaric,
    service_error,
)

SYNC_LIMIT = 6291456


def json_string_of_size(size: int) -> bytes:
    """A JSON document (one string) of exactly `size` bytes."""
    return b'"' + b"a" * (size - 2) + b'"'


def test_echo_answers_with_the_event_and_aws_headers(echo_emulator: Emulator) -> None:
    event = {"hello": "world", "numbers": [1, 2, 3], "nested": {"ok": True}}
    answer = echo_emulator.invoke(event)
    assert answer.status == 200
    assert answer.json() == event
    assert answer.header("Content-Type") == "application/json"
    assert answer.header("X-Amz-Executed-Version") == "$LATEST"
    assert re.fullmatch(UUID, answer.header("x-amzn-RequestId") or "")
    assert answer.header("X-Amz-Function-Error") is None


def test_request_id_header_is_the_one_the_function_saw(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke({"action": "context"})
    assert answer.status == 200
    assert answer.json()["aws_request_id"] == answer.header("x-amzn-RequestId")


def test_each_invoke_gets_its_own_request_id(echo_emulator: Emulator) -> None:
    ids = {echo_emulator.invoke({}).header("x-amzn-RequestId") for _ in range(3)}
    assert len(ids) == 3


def test_empty_body_reaches_the_function_as_empty_object(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke(b"")
    assert answer.status == 200
    assert answer.json() == {}


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain"])
def test_non_json_body_is_invalid_request_content(
    echo_emulator: Emulator, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = echo_emulator.invoke(b"this is {not json", headers)
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "InvalidRequestContentException"
    body = answer.json()
    assert body["Type"] == "User"
    assert body["message"].startswith("Could not parse request body into json: ")


def test_content_type_of_the_request_reaches_the_runtime(echo_emulator: Emulator) -> None:
    # awslambdaric hands a non-JSON content type's bytes to the handler raw and returns raw
    # bytes as application/unknown: both directions of the content type are visible.
    answer = echo_emulator.invoke(b'"raw"', {"Content-Type": "text/plain"})
    assert answer.status == 200
    assert answer.body == b'"raw"'
    assert answer.header("Content-Type") == "application/unknown"


def test_request_one_byte_over_6_mib_is_413(echo_emulator: Emulator) -> None:
    try:
        answer = echo_emulator.invoke(json_string_of_size(SYNC_LIMIT + 1))
    except (BrokenPipeError, ConnectionResetError) as exc:
        pytest.fail(f"the emulator dropped the connection instead of answering 413: {exc!r}")
    assert answer.status == 413
    assert answer.header("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    assert answer.body == service_error(
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    assert echo_emulator.invoke({"still": "up"}).json() == {"still": "up"}


def test_request_of_exactly_6_mib_is_served(echo_emulator: Emulator) -> None:
    event = json_string_of_size(SYNC_LIMIT)
    answer = echo_emulator.invoke(event)
    assert answer.status == 200
    assert answer.header("X-Amz-Function-Error") is None
    assert len(answer.body) == SYNC_LIMIT
    assert answer.body == event


def test_unknown_function_is_404_with_capital_message(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke({}, function="no_such_function")
    assert answer.status == 404
    assert answer.header("x-amzn-ErrorType") == "ResourceNotFoundException"
    assert answer.body == (
        b'{"Type": "User", "Message": "Function not found: '
        b'arn:aws:lambda:us-east-1:012345678912:function:no_such_function:$LATEST"}'
    )


@pytest.mark.parametrize(
    ("name", "seen_arn"),
    [
        ("function", DEFAULT_ARN),
        (DEFAULT_FUNCTION, DEFAULT_ARN),
        (f"{DEFAULT_ACCOUNT}:function:{DEFAULT_FUNCTION}", DEFAULT_ARN),
        (DEFAULT_ARN, DEFAULT_ARN),
        (f"{DEFAULT_ARN}:$LATEST", f"{DEFAULT_ARN}:$LATEST"),
    ],
    ids=["function", "name", "partial-arn", "full-arn", "qualified-arn"],
)
def test_routing_by_name_and_arn(echo_emulator: Emulator, name: str, seen_arn: str) -> None:
    answer = echo_emulator.invoke({"action": "context"}, function=name)
    assert answer.status == 200, answer.body
    assert answer.json()["invoked_function_arn"] == seen_arn


@pytest.mark.parametrize(
    "name",
    [
        f"arn:aws:lambda:eu-west-1:{DEFAULT_ACCOUNT}:function:{DEFAULT_FUNCTION}",
        f"arn:aws:lambda:us-east-1:999999999999:function:{DEFAULT_FUNCTION}",
        f"999999999999:function:{DEFAULT_FUNCTION}",
    ],
    ids=["other-region", "other-account", "partial-other-account"],
)
def test_arn_of_another_region_or_account_is_404(echo_emulator: Emulator, name: str) -> None:
    answer = echo_emulator.invoke({}, function=name)
    assert answer.status == 404
    assert answer.header("x-amzn-ErrorType") == "ResourceNotFoundException"


def test_function_name_region_and_account_flags_shape_the_arn(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(
        [
            "--function-name",
            "orders",
            "--region",
            "eu-west-1",
            "--account-id",
            "111122223333",
            *awslambdaric("app.handler"),
        ]
    )
    arn = "arn:aws:lambda:eu-west-1:111122223333:function:orders"
    answer = emulator.invoke({"action": "context"}, function=arn)
    assert answer.status == 200
    assert answer.json()["invoked_function_arn"] == arn
    assert answer.json()["function_name"] == "orders"
    assert emulator.invoke({"action": "context"}, function="orders").status == 200
    missing = emulator.invoke({}, function=DEFAULT_FUNCTION)
    assert missing.status == 404
    assert missing.body == (
        b'{"Type": "User", "Message": "Function not found: '
        b'arn:aws:lambda:eu-west-1:111122223333:function:test_function:$LATEST"}'
    )


def test_dry_run_is_204_without_a_body(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke({"x": 1}, {"X-Amz-Invocation-Type": "DryRun"})
    assert answer.status == 204
    assert answer.body == b""


def test_event_invocation_is_accepted_with_202_and_runs(echo_emulator: Emulator) -> None:
    marker = f"event-marker-{uuid.uuid4().hex}"
    answer = echo_emulator.invoke(
        {"action": "log", "message": marker}, {"X-Amz-Invocation-Type": "Event"}
    )
    assert answer.status == 202, answer.body
    assert answer.body == b""
    assert re.fullmatch(UUID, answer.header("x-amzn-RequestId") or "")
    assert answer.header("X-Amz-Executed-Version") is None
    echo_emulator.stdout.wait_for(f"^{marker}$")
    assert echo_emulator.invoke({"after": "event"}).json() == {"after": "event"}


def test_log_type_tail_returns_this_invocations_log(echo_emulator: Emulator) -> None:
    marker = f"tail-marker-{uuid.uuid4().hex}"
    answer = echo_emulator.invoke({"action": "log", "message": marker}, {"X-Amz-Log-Type": "Tail"})
    assert answer.status == 200
    request_id = answer.header("x-amzn-RequestId")
    tail = base64.b64decode(answer.header("X-Amz-Log-Result") or "", validate=True).decode()
    assert f"START RequestId: {request_id} Version: $LATEST" in tail
    assert marker in tail
    assert f"END RequestId: {request_id}" in tail
    assert f"REPORT RequestId: {request_id}\t" in tail
    assert tail.index("START") < tail.index(marker) < tail.index("END") < tail.index("REPORT")


def test_no_log_result_without_tail(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke({}, {"X-Amz-Log-Type": "None"})
    assert answer.status == 200
    assert answer.header("X-Amz-Log-Result") is None


def test_client_context_reaches_the_handler(echo_emulator: Emulator) -> None:
    client_context = {"custom": {"tenant": "blue", "n": 7}, "env": {"platform": "test"}}
    header = base64.b64encode(json.dumps(client_context).encode()).decode()
    answer = echo_emulator.invoke({"action": "context"}, {"X-Amz-Client-Context": header})
    assert answer.status == 200
    assert answer.json()["client_context_custom"] == {"tenant": "blue", "n": 7}


def test_client_context_that_is_not_base64_is_400(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke({}, {"X-Amz-Client-Context": "%%% not base64 %%%"})
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "InvalidRequestContentException"
    assert answer.body == service_error(
        "Client context must be a valid Base64-encoded JSON object."
    )


def test_trace_id_is_passed_through(echo_emulator: Emulator) -> None:
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    answer = echo_emulator.invoke({"action": "context"}, {"X-Amzn-Trace-Id": trace})
    assert answer.status == 200
    assert answer.json()["trace_id"] == trace


def test_trace_id_is_generated_when_absent(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke({"action": "context"})
    assert answer.status == 200
    assert (answer.json()["trace_id"] or "").startswith("Root=1-")


def test_keep_alive_connection_serves_many_invokes(echo_emulator: Emulator) -> None:
    conn = http.client.HTTPConnection(echo_emulator.host, echo_emulator.port, timeout=60)
    try:
        for n in range(5):
            conn.request(
                "POST", "/2015-03-31/functions/function/invocations", body=json.dumps({"n": n})
            )
            answer = conn.getresponse()
            assert answer.status == 200
            assert json.loads(answer.read()) == {"n": n}
    finally:
        conn.close()
