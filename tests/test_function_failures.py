"""Function-side failures (docs/reference.md §2, §4, §7): each answers 200 + `X-Amz-Function-Error`.

Payloads the platform writes are compact JSON, byte for byte; the runtime's own error JSON keeps
awslambdaric's formatting.
"""

from __future__ import annotations

import json
import re
import signal
import uuid
from pathlib import Path

import pytest

from harness import Emulator, EmulatorFactory, awslambdaric

RESPONSE_LIMIT = 6291556
RESPONSE_TOO_LARGE = (
    b'{"errorMessage":"Response payload size exceeded maximum allowed payload size '
    b'(6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}'
)


def assert_unhandled(answer_status: int, function_error: str | None) -> None:
    assert answer_status == 200
    assert function_error == "Unhandled"


def test_handler_error_is_the_runtimes_error_json(echo_emulator: Emulator) -> None:
    pid_before = echo_emulator.invoke({"action": "context"}).json()["pid"]
    answer = echo_emulator.invoke({"action": "fail", "message": "bad input"})
    assert_unhandled(answer.status, answer.header("X-Amz-Function-Error"))
    request_id = answer.header("x-amzn-RequestId")
    head = json.dumps({"errorMessage": "bad input", "errorType": "ValueError"})[:-1]
    assert answer.body.startswith(f'{head}, "requestId": "{request_id}", "stackTrace": ['.encode())
    body = answer.json()
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert any("app.py" in frame and "raise ValueError" in frame for frame in body["stackTrace"])
    # A handler error leaves the environment warm: the same runtime process answers next.
    assert echo_emulator.invoke({"action": "context"}).json()["pid"] == pid_before


def test_timeout_kills_the_runtime_and_keeps_tmp(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(["--timeout", "1", *awslambdaric("app.handler")])
    tmp_name = f"lambda-rie-test-{uuid.uuid4().hex}"
    try:
        first = emulator.invoke({"action": "count"}).json()
        assert emulator.invoke({"action": "count"}).json() == {"count": 2, "pid": first["pid"]}
        written = emulator.invoke({"action": "write_tmp", "name": tmp_name, "text": "survives"})
        assert written.json() == "written"

        answer = emulator.invoke({"action": "sleep", "seconds": 30})
        assert_unhandled(answer.status, answer.header("X-Amz-Function-Error"))
        request_id = re.escape(answer.header("x-amzn-RequestId") or "?")
        assert re.fullmatch(
            rb'\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: '
            + request_id.encode()
            + rb' Error: Task timed out after 1\.0[0-2] seconds"\}',
            answer.body,
        ), answer.body
        emulator.stdout.wait_for(rf"^\S+ {request_id} Task timed out after 1\.0[0-2] seconds$")
        emulator.stdout.wait_for(
            rf"^REPORT RequestId: {request_id}\tDuration: 1000\.00 ms\tBilled Duration: 1000 ms\t"
            r"Memory Size: \d+ MB\tMax Memory Used: \d+ MB\tStatus: timeout\t$"
        )

        # A fresh runtime process: module globals are gone, /tmp is not.
        after = emulator.invoke({"action": "count"}).json()
        assert after["count"] == 1
        assert after["pid"] != first["pid"]
        assert emulator.invoke({"action": "read_tmp", "name": tmp_name}).json() == "survives"
    finally:
        Path("/tmp", tmp_name).unlink(missing_ok=True)


def test_globals_persist_across_warm_invokes(echo_emulator: Emulator) -> None:
    counts = [echo_emulator.invoke({"action": "count"}).json() for _ in range(3)]
    assert [c["count"] - counts[0]["count"] for c in counts] == [0, 1, 2]
    assert len({c["pid"] for c in counts}) == 1


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "broken_import.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'broken_import': "
            "No module named 'lambda_rie_test_no_such_module'",
        ),
        (
            "app.no_such_handler",
            "Runtime.HandlerNotFound",
            "Handler 'no_such_handler' missing on module 'app'",
        ),
    ],
    ids=["import-error", "missing-handler"],
)
def test_init_error_is_the_runtimes_init_error_json(
    emulator_factory: EmulatorFactory, handler: str, error_type: str, message: str
) -> None:
    emulator = emulator_factory(awslambdaric(handler))
    expected = json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
    ).encode()
    for _ in range(2):  # every invoke retries init, and gets the same answer
        answer = emulator.invoke({})
        assert_unhandled(answer.status, answer.header("X-Amz-Function-Error"))
        assert answer.body == expected
    emulator.stdout.wait_for(
        r"^INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: error\t"
        rf"Error Type: {re.escape(error_type)}$"
    )


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"action": "exit", "code": 1}, "Runtime exited with error: exit status 1"),
        ({"action": "exit", "code": 0}, "Runtime exited without providing a reason"),
        (
            {"action": "signal", "signal": int(signal.SIGKILL)},
            "Runtime exited with error: signal: killed",
        ),
    ],
    ids=["exit-1", "exit-0", "sigkill"],
)
def test_runtime_exit_is_runtime_exit_error(
    emulator_factory: EmulatorFactory, event: dict[str, object], reason: str
) -> None:
    emulator = emulator_factory(awslambdaric("app.handler"))
    first_pid = emulator.invoke({"action": "context"}).json()["pid"]
    answer = emulator.invoke(event)
    assert_unhandled(answer.status, answer.header("X-Amz-Function-Error"))
    request_id = answer.header("x-amzn-RequestId")
    assert (
        answer.body
        == (
            f'{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {request_id} '
            f'Error: {reason}"}}'
        ).encode()
    )
    emulator.stdout.wait_for(f"^RequestId: {request_id} Error: {re.escape(reason)}$")
    emulator.stdout.wait_for(
        rf"^REPORT RequestId: {request_id}\t.*\tStatus: error\tError Type: Runtime\.ExitError\t$"
    )
    # The next invoke is a cold start in a new runtime process.
    after = emulator.invoke({"action": "context"})
    assert after.status == 200
    assert after.json()["pid"] != first_pid


@pytest.mark.parametrize("size", [RESPONSE_LIMIT + 1, 7 << 20], ids=["limit+1", "7MiB"])
def test_response_over_the_limit_is_response_size_too_large(
    emulator_factory: EmulatorFactory, size: int
) -> None:
    emulator = emulator_factory(awslambdaric("app.handler"))
    answer = emulator.invoke({"action": "big", "bytes": size})
    assert_unhandled(answer.status, answer.header("X-Amz-Function-Error"))
    assert answer.body == RESPONSE_TOO_LARGE
    assert emulator.invoke({"after": "big"}).json() == {"after": "big"}


def test_response_of_exactly_the_limit_passes(echo_emulator: Emulator) -> None:
    answer = echo_emulator.invoke({"action": "big", "bytes": RESPONSE_LIMIT})
    assert answer.status == 200
    assert answer.header("X-Amz-Function-Error") is None
    assert len(answer.body) == RESPONSE_LIMIT
