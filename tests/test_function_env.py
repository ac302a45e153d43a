"""Environment variables the function sees (docs/reference.md §6) and option precedence
(§1)."""

from __future__ import annotations

import re
from pathlib import Path

from harness import FUNCTIONS, EmulatorFactory, awslambdaric, clean_env, free_port


def test_environment_of_a_cli_function(emulator_factory: EmulatorFactory) -> None:
    port = free_port()
    emulator = emulator_factory(
        ["--runtime-api-address", f"127.0.0.1:{port}", *awslambdaric("app.handler")],
        env=clean_env({"FOO": "bar"}),
    )
    env = emulator.invoke({"action": "env"}).json()
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "test_function"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "3008"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/test_function"
    assert re.fullmatch(
        r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_RUNTIME_API"] == f"127.0.0.1:{port}"
    assert env["LAMBDA_TASK_ROOT"] == str(FUNCTIONS)
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    # CLI mode: the runtime inherits lambda-rie's environment, as `docker run -e` expects.
    assert env["FOO"] == "bar"
    assert "AWS_LAMBDA_FUNCTION_TIMEOUT" not in env


def test_flags_reach_the_function(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        ["--function-name", "orders", "--memory", "512", *awslambdaric("app.handler")]
    )
    env = emulator.invoke({"action": "env"}).json()
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "orders"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/orders"
    context = emulator.invoke({"action": "context"}, function="orders").json()
    assert context["function_name"] == "orders"
    assert context["memory_limit_in_mb"] == "512"
    assert context["log_group_name"] == "/aws/lambda/orders"
    assert context["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]


def test_environment_variables_configure_the_emulator(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        awslambdaric("app.handler"),
        env=clean_env(
            {
                "AWS_LAMBDA_FUNCTION_TIMEOUT": "2",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
                "AWS_LAMBDA_FUNCTION_NAME": "from_env",
                "AWS_REGION": "eu-central-1",
            }
        ),
    )
    context = emulator.invoke({"action": "context"}, function="from_env").json()
    assert 0 < context["remaining_ms"] <= 2000
    assert context["memory_limit_in_mb"] == "1024"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:eu-central-1:012345678912:function:from_env"
    )
    env = emulator.invoke({"action": "env"}, function="from_env").json()
    assert "AWS_LAMBDA_FUNCTION_TIMEOUT" not in env
    assert env["AWS_REGION"] == "eu-central-1"


def test_flags_win_over_environment_variables(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        ["--timeout", "5", "--memory", "256", *awslambdaric("app.handler")],
        env=clean_env(
            {"AWS_LAMBDA_FUNCTION_TIMEOUT": "2", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
        ),
    )
    context = emulator.invoke({"action": "context"}).json()
    assert 2000 < context["remaining_ms"] <= 5000
    assert context["memory_limit_in_mb"] == "256"


def test_code_dir_is_the_working_directory_and_task_root(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(
        ["--code-dir", str(FUNCTIONS), *awslambdaric("app.handler")], cwd=tmp_path
    )
    # awslambdaric imports `app` from its working directory: answering at all shows it.
    env = emulator.invoke({"action": "env"}).json()
    assert env["LAMBDA_TASK_ROOT"] == str(FUNCTIONS)
    assert emulator.invoke({"action": "context"}).json()["cwd"] == str(FUNCTIONS)
