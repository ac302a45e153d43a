"""boto3 and the aws CLI as they are, pointed at lambda-rie with `endpoint_url` (docs/reference.md
§2).

Two functions of `tests/functions/many/lambda-rie.toml` are invoked by name, partial ARN, full
ARN and alias, listed and described; the clients use dummy credentials and never retry.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    FACES,
    FUNCTIONS,
    UUID,
    VENV_BIN,
    Emulator,
    EmulatorFactory,
    clean_env,
    lambda_client,
)

MANY = FUNCTIONS / "many"
CONFIG = MANY / "lambda-rie.toml"
AWS_CLI = VENV_BIN / "aws"
CLI_DEADLINE_S = 60.0

#: What `lambda-rie.toml` declares: memory, timeout ([defaults] gives audit 5 s), the alias.
DECLARED = {
    "orders": {"memory": 256, "timeout": 10, "alias": "live", "table": "orders"},
    "audit": {"memory": 512, "timeout": 5, "alias": "prod", "table": "audit"},
}


def arn(name: str) -> str:
    return f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{name}"


def identifiers(name: str) -> list[tuple[str, dict[str, str], str]]:
    """(FunctionName, extra Invoke arguments, the ARN the function sees) for every routing form."""
    alias = DECLARED[name]["alias"]
    return [
        (name, {}, arn(name)),
        (f"{DEFAULT_ACCOUNT}:function:{name}", {}, arn(name)),
        (arn(name), {}, arn(name)),
        (name, {"Qualifier": alias}, f"{arn(name)}:{alias}"),
        (f"{arn(name)}:{alias}", {}, f"{arn(name)}:{alias}"),
    ]


@pytest.fixture(scope="module")
def emulator(face: list[str]) -> Iterator[Emulator]:
    """One emulator per face serving both functions of the config file."""
    factory = EmulatorFactory(face)
    try:
        yield factory(["--config", str(CONFIG)], cwd=MANY)
    finally:
        factory.close()


@pytest.fixture(scope="module")
def client(emulator: Emulator) -> Any:
    return lambda_client(emulator.url)


def request_id(answer: dict[str, Any]) -> str:
    rid: str = answer["ResponseMetadata"]["RequestId"]
    assert re.fullmatch(UUID, rid), rid
    return rid


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_boto3_invokes_by_name_partial_arn_full_arn_and_alias(client: Any, name: str) -> None:
    for function_name, extra, seen_arn in identifiers(name):
        answer = client.invoke(
            FunctionName=function_name, Payload=json.dumps({"env": ["TABLE"]}), **extra
        )
        assert answer["StatusCode"] == 200, (function_name, extra)
        assert answer["ExecutedVersion"] == "$LATEST"
        assert "FunctionError" not in answer
        request_id(answer)
        result = json.loads(answer["Payload"].read())
        assert result["function_name"] == name
        assert result["invoked_function_arn"] == seen_arn, (function_name, extra)
        assert result["memory_limit_in_mb"] == str(DECLARED[name]["memory"])
        assert result["env"] == {"TABLE": DECLARED[name]["table"]}


def test_boto3_log_type_tail_returns_the_start_end_and_report_lines(client: Any) -> None:
    answer = client.invoke(FunctionName="orders", LogType="Tail", Payload=b"{}")
    assert answer["StatusCode"] == 200
    rid = request_id(answer)
    log = base64.b64decode(answer["LogResult"]).decode()
    lines = log.splitlines()
    assert f"START RequestId: {rid} Version: $LATEST" in lines, log
    assert f"describe orders {rid}" in lines, log
    assert f"END RequestId: {rid}" in lines, log
    report = [line for line in lines if line.startswith(f"REPORT RequestId: {rid}\t")]
    assert len(report) == 1, log
    assert "\tMemory Size: 256 MB\t" in report[0]


def test_boto3_dry_run_answers_204_and_runs_nothing(client: Any, emulator: Emulator) -> None:
    def starts() -> int:
        return sum(line.startswith("describe audit ") for line in emulator.stdout.lines())

    before = starts()
    answer = client.invoke(FunctionName="audit", InvocationType="DryRun", Payload=b"{}")
    assert answer["StatusCode"] == 204
    assert answer["Payload"].read() == b""
    # A sync invoke after it: only that one runs the function.
    rid = request_id(client.invoke(FunctionName="audit", Payload=b"{}"))
    emulator.stdout.wait_for(rf"^describe audit {rid}$")
    assert starts() == before + 1


def test_boto3_event_answers_202_then_runs_the_function(client: Any, emulator: Emulator) -> None:
    for function_name, extra, _seen in identifiers("audit")[2:4]:
        answer = client.invoke(
            FunctionName=function_name, InvocationType="Event", Payload=b'{"async": 1}', **extra
        )
        assert answer["StatusCode"] == 202
        assert answer["Payload"].read() == b""
        rid = request_id(answer)
        emulator.stdout.wait_for(rf"^describe audit {rid}$")


def test_boto3_lists_and_gets_both_functions(client: Any) -> None:
    listed = {f["FunctionName"]: f for f in client.list_functions()["Functions"]}
    assert sorted(listed) == sorted(DECLARED)
    for name, declared in DECLARED.items():
        described = client.get_function(FunctionName=name)["Configuration"]
        by_arn = client.get_function(FunctionName=arn(name))["Configuration"]
        for configuration in (listed[name], described, by_arn):
            assert configuration["FunctionName"] == name
            assert configuration["FunctionArn"] == arn(name)
            assert configuration["Handler"] == "many.describe"
            assert configuration["MemorySize"] == declared["memory"]
            assert configuration["Timeout"] == declared["timeout"]
            assert configuration["Runtime"].startswith("python3")
            assert configuration["Environment"] == {"Variables": {"TABLE": declared["table"]}}


def test_boto3_unknown_function_raises_resource_not_found(client: Any) -> None:
    not_found = client.exceptions.ResourceNotFoundException
    with pytest.raises(not_found) as raised:
        client.invoke(FunctionName="nope", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["Error"]["Message"] == (
        f"Function not found: {arn('nope')}:$LATEST"
    )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(not_found):
        client.invoke(FunctionName="orders", Qualifier="prod", Payload=b"{}")
    with pytest.raises(not_found):
        client.invoke(FunctionName=arn("orders").replace(DEFAULT_ACCOUNT, "999999999999"))
    with pytest.raises(not_found):
        client.get_function(FunctionName="nope")


# --- the aws CLI (awscli from PyPI), one process per call, run side by side ---


def aws(emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
    )
    return subprocess.run(
        [str(AWS_CLI), "lambda", *args, "--endpoint-url", emulator.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_DEADLINE_S,
        check=False,
    )


def aws_invoke(emulator: Emulator, out: Path, function_name: str, *args: str) -> dict[str, Any]:
    """`aws lambda invoke`: its printed answer, with the payload it wrote under `Payload`."""
    done = aws(
        emulator,
        "invoke",
        "--function-name",
        function_name,
        # NOTE: awscli v1 sends a blob argument as it is (v2's --cli-binary-format is unknown).
        "--payload",
        '{"env": ["TABLE"]}',
        *args,
        str(out),
    )
    assert done.returncode == 0, (function_name, args, done.stderr)
    answer: dict[str, Any] = json.loads(done.stdout)
    answer["Payload"] = out.read_bytes()
    return answer


@pytest.fixture(scope="module")
def native_emulator() -> Iterator[Emulator]:
    """The config file served by the native binary, for the aws CLI.

    NOTE: only one face: every aws CLI call is a Python process that loads botocore (~0.5 s of
    CPU), and what it sends does not depend on the face serving it.
    """
    factory = EmulatorFactory(FACES["native"])
    try:
        # Eight sync invokes and one Event run side by side: room for all of them, whatever the
        # machine's default cap (four per CPU).
        yield factory(["--config", str(CONFIG), "--max-environments", "16"], cwd=MANY)
    finally:
        factory.close()


def test_aws_cli_invokes_lists_and_describes_both_functions(
    native_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = native_emulator
    calls: list[tuple[str, tuple[str, ...], str]] = []
    for name in sorted(DECLARED):
        # Name, partial ARN, full ARN, alias (--qualifier); the full ARN with the alias is boto3's.
        for function_name, extra, seen_arn in identifiers(name)[:4]:
            qualifier = ("--qualifier", extra["Qualifier"]) if extra else ()
            calls.append((function_name, qualifier, seen_arn))
    calls[0] = (calls[0][0], ("--log-type", "Tail"), calls[0][2])
    others = [("audit", ("--invocation-type", "Event")), ("audit", ("--invocation-type", "DryRun"))]
    with ThreadPoolExecutor(max_workers=len(calls) + len(others) + 3) as pool:
        invokes = [
            pool.submit(aws_invoke, emulator, tmp_path / f"out{n}.json", name, *args)
            for n, (name, args, _seen) in enumerate(calls)
        ]
        event, dry_run = (
            pool.submit(aws_invoke, emulator, tmp_path / f"other{n}.json", name, *args)
            for n, (name, args) in enumerate(others)
        )
        listed = pool.submit(aws, emulator, "list-functions")
        described = pool.submit(aws, emulator, "get-function", "--function-name", "audit")
        unknown = pool.submit(aws, emulator, "get-function", "--function-name", "nope")
        answers = [future.result() for future in invokes]

    for (function_name, args, seen_arn), answer in zip(calls, answers):
        assert answer["StatusCode"] == 200, (function_name, args)
        assert answer["ExecutedVersion"] == "$LATEST"
        result = json.loads(answer["Payload"])
        assert result["invoked_function_arn"] == seen_arn, (function_name, args)
        assert result["env"] == {"TABLE": result["function_name"]}
    log = base64.b64decode(answers[0]["LogResult"]).decode()
    assert re.search(rf"^START RequestId: {UUID} Version: \$LATEST$", log, re.M), log
    assert re.search(rf"^END RequestId: {UUID}$", log, re.M), log
    assert re.search(rf"^REPORT RequestId: {UUID}\tDuration: ", log, re.M), log
    assert event.result()["StatusCode"] == 202
    assert event.result()["Payload"] == b""
    assert dry_run.result()["StatusCode"] == 204

    assert listed.result().returncode == 0, listed.result().stderr
    functions = {f["FunctionName"]: f for f in json.loads(listed.result().stdout)["Functions"]}
    assert sorted(functions) == sorted(DECLARED)
    for name, declared in DECLARED.items():
        assert functions[name]["MemorySize"] == declared["memory"]
        assert functions[name]["Timeout"] == declared["timeout"]
        assert functions[name]["Handler"] == "many.describe"
    assert described.result().returncode == 0, described.result().stderr
    audit = json.loads(described.result().stdout)["Configuration"]
    assert (audit["FunctionArn"], audit["MemorySize"], audit["Timeout"]) == (arn("audit"), 512, 5)
    assert unknown.result().returncode != 0
    assert "(ResourceNotFoundException)" in unknown.result().stderr
    # NOTE: GetFunction names the ARN as asked (unqualified); Invoke names `:$LATEST`.
    assert f"Function not found: {arn('nope')}\n" in unknown.result().stderr
