"""The pytest plugin as a user meets it: markers and fixtures only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_rie import Emulator

HANDLERS = str(Path(__file__).resolve().parent / "handlers")


@pytest.mark.lambda_function("echo", handler="app.echo", code_dir=HANDLERS)
def test_invoke_answers_with_the_handlers_result(lambda_emulator: Emulator) -> None:
    first = lambda_emulator.invoke("echo", {"order": 42})
    assert first.status_code == 200
    assert first.json() == {"order": 42}
    assert first.function_error is None
    assert first.cold_start is True
    assert first.init_duration_ms is not None
    assert f"START RequestId: {first.request_id} Version: $LATEST" in first.log_tail
    assert "echo got {'order': 42}" in first.log_tail
    assert f"REPORT RequestId: {first.request_id}\tDuration: " in first.log_tail

    second = lambda_emulator.invoke("echo", {"order": 43})
    assert second.cold_start is False
    assert second.init_duration_ms is None
    assert second.json() == {"order": 43}


@pytest.mark.lambda_function("fail", handler="app.fail", code_dir=HANDLERS)
def test_a_handler_error_sets_function_error(lambda_emulator: Emulator) -> None:
    result = lambda_emulator.invoke("fail")
    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "ValueError"
    assert result.json()["errorMessage"] == "deliberate failure"
    assert "about to fail" in result.log_tail


@pytest.mark.lambda_function("echo", handler="app.echo", code_dir=HANDLERS)
@pytest.mark.lambda_function("who", handler="app.whoami", code_dir=HANDLERS, memory=256)
def test_several_markers_serve_several_functions(lambda_emulator: Emulator) -> None:
    assert sorted(f.name for f in lambda_emulator.functions) == ["echo", "who"]
    assert lambda_emulator.invoke("who").json()["memory"] == "256"
    assert lambda_emulator.invoke("echo", [1, 2]).json() == [1, 2]


@pytest.mark.lambda_function("echo", handler="app.echo", code_dir=HANDLERS)
def test_lambda_client_invokes_through_the_invoke_api(lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="echo", Payload=json.dumps({"via": "boto3"}))
    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"].read()) == {"via": "boto3"}
    assert "FunctionError" not in response
    # The plugin asks for the log tail to show it in failure reports, and hides it again.
    assert "LogResult" not in response


@pytest.mark.lambda_function("echo", handler="app.echo", code_dir=HANDLERS)
def test_lambda_client_raises_aws_errors(lambda_client: Any) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as caught:
        lambda_client.invoke(FunctionName="missing", Payload=b"{}")
    assert "Function not found: arn:aws:lambda:us-east-1:012345678912:function:missing" in str(
        caught.value
    )
