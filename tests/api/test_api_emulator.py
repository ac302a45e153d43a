"""The Python API: invoke semantics, AWS service errors, Event invocations, metrics, checks."""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import ARN, HANDLERS, alive

import lambda_rie
from lambda_rie import (
    Emulator,
    Function,
    InvalidRequestContentError,
    LambdaRieError,
    RequestTooLargeError,
    ResourceNotFoundError,
    TooManyRequestsError,
)

# NOTE: bounds, not expectations: an Event invocation is answered in a few ms.
EVENT_DEADLINE_S = 10.0


def echo(**options: Any) -> Function:
    return Function("echo", handler="app.echo", **{"code_dir": HANDLERS, **options})


def who() -> Function:
    return Function("who", handler="app.whoami", code_dir=HANDLERS)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator([echo(), who()]) as e:
        yield e


def test_service_errors_are_lambda_rie_errors() -> None:
    for error in (
        ResourceNotFoundError,
        TooManyRequestsError,
        RequestTooLargeError,
        InvalidRequestContentError,
    ):
        assert issubclass(error, LambdaRieError)
        assert getattr(lambda_rie, error.__name__) is error


def test_an_unknown_function_raises_resource_not_found(emu: Emulator) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        emu.invoke("missing", {})
    assert str(caught.value) == f"Function not found: {ARN}:missing:$LATEST"


def test_reserved_concurrency_zero_raises_too_many_requests() -> None:
    with Emulator([echo(reserved_concurrency=0)]) as e:
        with pytest.raises(TooManyRequestsError, match=r"^Rate Exceeded\.$"):
            e.invoke("echo", {})
        assert e.metrics()["lambda_rie_invocations_total:echo:throttled"] == 1


def test_an_oversized_event_raises_request_too_large(emu: Emulator) -> None:
    body = b'"' + b"x" * 6_291_455 + b'"'
    with pytest.raises(RequestTooLargeError) as caught:
        emu.invoke("echo", body)
    assert str(caught.value) == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )


def test_an_event_that_is_not_json_raises_invalid_request_content(emu: Emulator) -> None:
    with pytest.raises(
        InvalidRequestContentError, match=r"^Could not parse request body into json: "
    ):
        emu.invoke("echo", b"{not json")


def test_events_are_sent_as_json_and_bytes_as_they_are(emu: Emulator) -> None:
    assert emu.invoke("echo", {"a": [1, 2.5, None]}).json() == {"a": [1, 2.5, None]}
    assert emu.invoke("echo", b'{"raw": true}').payload == b'{"raw":true}'
    assert emu.invoke("echo", '"text"').json() == "text"
    assert emu.invoke("echo").json() == {}


def test_names_route_as_the_invoke_api_does(emu: Emulator) -> None:
    assert emu.invoke("function", [1]).json() == [1]
    assert emu.invoke(f"{ARN}:who").json()["arn"] == f"{ARN}:who"
    assert emu.invoke("who:$LATEST").json()["arn"] == f"{ARN}:who:$LATEST"


def test_client_context_reaches_the_function(emu: Emulator) -> None:
    answer = emu.invoke("who", client_context={"custom": {"tenant": "t1"}}).json()
    assert answer["custom"] == {"tenant": "t1"}


def test_a_client_context_that_is_not_an_object_is_refused_as_the_invoke_api_does(
    emu: Emulator,
) -> None:
    for context in ([1, 2], "text", {"k": "x" * 3600}):
        with pytest.raises(InvalidRequestContentError, match="Client context must be"):
            emu.invoke("who", client_context=context)  # type: ignore[arg-type]
    assert emu.invoke("who", client_context={"k": "v"}).json()["custom"] is None


def test_invoke_async_queues_an_event_invocation(emu: Emulator) -> None:
    before = emu.metrics()["lambda_rie_invocations_total:echo:success"]
    request_id = emu.invoke_async("echo", {"queued": True})
    assert len(request_id) == 36
    deadline = time.monotonic() + EVENT_DEADLINE_S
    while emu.metrics()["lambda_rie_invocations_total:echo:success"] == before:
        assert time.monotonic() < deadline, "the Event invocation never ran"
        time.sleep(0.01)


def test_metrics_use_the_names_of_the_metrics_endpoint() -> None:
    with Emulator([echo()]) as e:
        e.invoke("echo", {})
        metrics = e.metrics()
    for key in (
        "lambda_rie_invocations_total:echo:success",
        "lambda_rie_invocations_total:echo:throttled",
        "lambda_rie_cold_starts_total:echo",
        "lambda_rie_concurrent_executions:echo",
        "lambda_rie_concurrent_executions_peak:echo",
        "lambda_rie_environments:echo:idle",
        "lambda_rie_duration_seconds_count:echo",
        "lambda_rie_duration_seconds_bucket:echo:+Inf",
        "lambda_rie_init_duration_seconds_sum:echo",
        "lambda_rie_async_queue_depth:echo",
        "lambda_rie_async_events_total:echo:success",
    ):
        assert key in metrics
    assert metrics["lambda_rie_invocations_total:echo:success"] == 1
    assert metrics["lambda_rie_cold_starts_total:echo"] == 1


def test_defaults_are_the_cores() -> None:
    f = Function("f", handler="app.echo")
    assert (f.timeout, f.memory, f.ephemeral_storage) == (3, 128, 512)
    assert (f.provisioned_concurrency, f.max_concurrency, f.idle_timeout) == (0, 1, 600)
    assert f.reserved_concurrency is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "function echo: timeout: 0 is out of range (1-900)"),
        ({"memory": 64}, "function echo: memory: 64 is out of range (128-10240)"),
        ({"reserved_concurrency": -1}, "function echo: reserved_concurrency: -1 is out of range"),
        ({"command": ["x"]}, "function echo: give exactly one of handler and command, not both"),
        ({"code_dir": "/no/such/dir"}, "function echo: code_dir: /no/such/dir is not a directory"),
        (
            {"environment": {"LAMBDA_TASK_ROOT": "/x", "AWS_REGION": "x"}},
            "function echo: environment: Lambda was unable to configure your environment variables"
            " because the environment variables you have provided contains reserved keys that are"
            " currently not supported for modification. Reserved keys used in this request:"
            " AWS_REGION, LAMBDA_TASK_ROOT",
        ),
        (
            {"reserved_concurrency": 2, "provisioned_concurrency": 3},
            "function echo: provisioned_concurrency: 3 is more than reserved_concurrency (2)",
        ),
        (
            {"provisioned_concurrency": 1000},
            "function echo: provisioned_concurrency: 1000 is more than max_environments (4)",
        ),
    ],
)
def test_bad_function_values_are_refused_naming_the_option(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(LambdaRieError) as caught:
        Emulator([echo(**options)], max_environments=4)
    assert str(caught.value).startswith(message)


def test_a_function_name_aws_refuses_is_refused() -> None:
    with pytest.raises(LambdaRieError) as caught:
        Emulator([Function("../../etc/passwd", handler="app.echo", code_dir=HANDLERS)])
    assert str(caught.value) == (
        'function ../../etc/passwd: name: "../../etc/passwd" is not a valid function name:'
        " 1 to 64 letters, digits, hyphens or underscores"
    )


def test_a_command_function_runs_any_runtime() -> None:
    command = [sys.executable, "-m", "lambda_rie.runtime", "app.echo"]
    with Emulator([Function("cmd", command=command, code_dir=HANDLERS)]) as e:
        assert e.invoke("cmd", {"c": 1}).json() == {"c": 1}


def test_a_code_dir_under_tmp_is_served() -> None:
    # Environments get a private /tmp; code that lives under /tmp stays visible to them.
    with tempfile.TemporaryDirectory(dir="/tmp") as code_dir:
        (Path(code_dir) / "app.py").write_text(Path(HANDLERS, "app.py").read_text())
        with Emulator([Function("echo", handler="app.echo", code_dir=code_dir)]) as e:
            assert e.invoke("echo", [2]).json() == [2]


def test_an_exception_in_the_with_block_tears_everything_down() -> None:
    seen: dict[str, Any] = {}

    def use_then_fail() -> None:
        with Emulator([who()]) as e:
            seen.update(emulator=e, pid=e.invoke("who").json()["pid"])
            seen["port"] = int(e.endpoint_url.rsplit(":", 1)[1])
            assert alive(seen["pid"])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_then_fail()
    e, pid, port = seen["emulator"], seen["pid"], seen["port"]
    assert e.closed
    assert not alive(pid)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    with pytest.raises(LambdaRieError, match=r"^the emulator is closed$"):
        e.invoke("who")
    assert e.metrics()["lambda_rie_invocations_total:who:success"] == 1


def test_an_oversized_event_invocation_raises_request_too_large(emu: Emulator) -> None:
    body = b'"' + b"x" * 1_048_575 + b'"'
    with pytest.raises(RequestTooLargeError) as caught:
        emu.invoke_async("echo", body)
    assert str(caught.value) == (
        "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )
