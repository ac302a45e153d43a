"""Many functions from configuration (docs/reference.md §9): `lambda-rie.toml` and SAM templates.

Paths in a config file are relative to the file; errors exit 2 naming the file, the function
and the key; a template's `Globals`, `Parameters` and intrinsic functions are resolved before
the functions are served.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

from harness import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    FUNCTIONS,
    ROOT,
    UUID,
    Emulator,
    EmulatorFactory,
    lambda_client,
)
from test_scheduler import wait_until

MANY = FUNCTIONS / "many"
TEMPLATE = MANY / "template.yaml"
NODEJS_TEMPLATE = MANY / "template_nodejs.yaml"
EXIT_DEADLINE_S = 10.0
RECORD_DEADLINE_S = 10.0


def toml_value(value: Any) -> str:
    """`value` as TOML (strings, whole numbers, booleans, lists and inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # NOTE: a JSON string is a valid TOML basic string.
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    directory: Path,
    functions: dict[str, dict[str, Any]],
    defaults: Optional[dict[str, Any]] = None,
) -> Path:
    """Write `directory/lambda-rie.toml`; functions run from tests/functions/many by default.

    NOTE: `code_dir` is absolute because `directory` is usually under /tmp, which every
    execution environment replaces with its own; destinations written by the emulator itself
    (`file:NAME`) stay relative to the file.
    """
    defaults = {"code_dir": str(MANY), **(defaults or {})}
    lines = ["[defaults]", *(f"{k} = {toml_value(v)}" for k, v in defaults.items())]
    for name, keys in functions.items():
        table = f"[functions.{json.dumps(name)}]"
        lines += ["", table, *(f"{k} = {toml_value(v)}" for k, v in keys.items())]
    path = directory / "lambda-rie.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def arn(name: str) -> str:
    return f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{name}"


def refused(factory: EmulatorFactory, args: list[str]) -> str:
    """Start lambda-rie with `args`, expect exit 2 before it serves; its stderr."""
    emulator = factory(args, cwd=ROOT, wait=False)
    assert emulator.process.wait(EXIT_DEADLINE_S) == 2, emulator.stderr_text()
    emulator.stderr.join(EXIT_DEADLINE_S)
    assert "Invoke API listening" not in emulator.stderr_text()
    return emulator.stderr_text()


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of a `file:` destination (none while it does not exist).

    NOTE: the emulator may be appending while this reads: a last line without its newline is
    still being written and is left for the next look.
    """
    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete]


def wait_for_lines(path: Path, count: int, deadline_s: float = RECORD_DEADLINE_S) -> None:
    wait_until(f"{count} lines in {path}", lambda: len(read_lines(path)) >= count, deadline_s)


def test_config_paths_are_relative_to_the_file(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        {
            "orders": {
                "handler": "many.describe",
                "code_dir": os.path.relpath(MANY, tmp_path),
                "on_success": "file:records.jsonl",
            }
        },
    )
    # Served from elsewhere: the code and the destination are found next to the file.
    emulator = emulator_factory(["--config", str(config)], cwd=ROOT)
    answer = emulator.invoke({"n": 1}, function="orders")
    assert answer.status == 200, answer.body
    assert answer.json()["function_name"] == "orders"
    accepted = emulator.invoke({"n": 2}, {"X-Amz-Invocation-Type": "Event"}, function="orders")
    assert accepted.status == 202
    records = tmp_path / "records.jsonl"
    wait_for_lines(records, 1)
    (record,) = read_lines(records)
    assert record["requestContext"]["requestId"] == accepted.header("x-amzn-RequestId")
    assert record["requestPayload"] == {"n": 2}


def test_the_first_function_of_a_config_file_is_the_one_it_declares_first(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        {name: {"handler": "many.describe"} for name in ("zeta", "alpha", "mid")},
    )
    emulator = emulator_factory(["--config", str(config)], cwd=ROOT)
    # The RIE's path names `function`: the first function of the file, not of the alphabet.
    answer = emulator.invoke({}, function="function")
    assert answer.status == 200, answer.body
    assert answer.json()["function_name"] == "zeta"
    assert emulator.invoke({}, function="alpha").json()["function_name"] == "alpha"


@pytest.mark.parametrize(
    ("orders", "defaults", "named"),
    [
        ({"handler": "many.describe", "memroy": 256}, {}, 'function orders: unknown key "memroy"'),
        # A [defaults] key applies to every function: the first one (in file order) is named.
        ({"handler": "many.describe"}, {"time_out": 3}, 'function audit: unknown key "time_out"'),
    ],
    ids=["in-function", "in-defaults"],
)
def test_unknown_config_key_exits_2_naming_file_function_and_key(
    emulator_factory: EmulatorFactory,
    tmp_path: Path,
    orders: dict[str, Any],
    defaults: dict[str, Any],
    named: str,
) -> None:
    config = write_config(
        tmp_path, {"audit": {"handler": "many.describe"}, "orders": orders}, defaults
    )
    message = refused(emulator_factory, ["--config", str(config)])
    assert f"{config}: {named}" in message.strip().splitlines()[-1], message


def test_config_value_out_of_range_exits_2_naming_the_key_and_range(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = write_config(tmp_path, {"orders": {"handler": "many.describe", "timeout": 901}})
    message = refused(emulator_factory, ["--config", str(config)])
    assert f"{config}: function orders: timeout: 901 is out of range (1-900)" in message


def test_config_handler_reports_the_python_version_it_runs(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    # docs/reference.md §6: a handler runs on the built-in runtime with AWS_EXECUTION_ENV
    # AWS_Lambda_python3.X; GetFunction's Runtime names the same version, as AWS's runtime
    # identifiers do.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    config = write_config(tmp_path, {"orders": {"handler": "many.describe"}})
    emulator = emulator_factory(["--config", str(config)], cwd=ROOT)
    invoked = emulator.invoke({"env": ["AWS_EXECUTION_ENV"]}, function="orders").json()
    described = emulator.request("GET", "/2015-03-31/functions/orders").json()
    assert (invoked["env"]["AWS_EXECUTION_ENV"], described["Configuration"]["Runtime"]) == (
        f"AWS_Lambda_{version}",
        version,
    )


@pytest.fixture
def template_emulator(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(["--template", str(TEMPLATE)], cwd=ROOT)


ORDERS_ENV = {
    "STAGE": "test",
    "TABLE": "orders-table",
    "REGION_TABLE": f"{DEFAULT_REGION}/{DEFAULT_ACCOUNT}/orders-table",
    "AUDIT_ARN": arn("AuditFunction"),
    "JOINED": "a-test-c",
    "SECOND": "y",
}
AUDIT_ENV = {
    "STAGE": "test",
    "ORDERS": "orders-test",
    "ORDERS_ARN": arn("orders-test"),
    "LONG_SUB": "audit-test",
    "LONG_JOIN": "test:x",
    "LONG_SELECT": "z",
}


def test_sam_template_serves_both_functions_with_resolved_values(
    template_emulator: Emulator,
) -> None:
    listed = template_emulator.request("GET", "/2015-03-31/functions/")
    assert listed.status == 200, listed.body
    names = sorted(f["FunctionName"] for f in listed.json()["Functions"])
    assert names == ["AuditFunction", "orders-test"]
    expected = {
        # FunctionName from !Sub; Globals give the runtime, handler, timeout and memory.
        "orders-test": (7, 256, ORDERS_ENV),
        # The logical id names it; its own MemorySize and Timeout win over Globals.
        "AuditFunction": (20, 512, AUDIT_ENV),
    }
    for name, (timeout, memory, env) in expected.items():
        answer = template_emulator.request("GET", f"/2015-03-31/functions/{name}")
        assert answer.status == 200, answer.body
        configuration = answer.json()["Configuration"]
        assert configuration["FunctionName"] == name
        assert configuration["FunctionArn"] == arn(name)
        assert configuration["Runtime"] == "python3.12"
        assert configuration["Handler"] == "many.describe"
        assert configuration["Timeout"] == timeout
        assert configuration["MemorySize"] == memory
        assert configuration["Environment"] == {"Variables": env}

        invoked = template_emulator.invoke(
            {"env": [*env, "AWS_EXECUTION_ENV"]}, function=name
        ).json()
        assert invoked["function_name"] == name
        assert invoked["memory_limit_in_mb"] == str(memory)
        assert invoked["env"] == {**env, "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}


def test_sam_template_alias_and_lambda_destination(template_emulator: Emulator) -> None:
    # AutoPublishAlias: live is a qualifier of AuditFunction, of nothing else.
    aliased = template_emulator.request(
        "POST", "/2015-03-31/functions/AuditFunction/invocations?Qualifier=live", b"{}"
    )
    assert aliased.status == 200, aliased.body
    assert aliased.json()["invoked_function_arn"] == f"{arn('AuditFunction')}:live"
    unknown = template_emulator.request(
        "POST", "/2015-03-31/functions/orders-test/invocations?Qualifier=live", b"{}"
    )
    assert unknown.status == 404
    assert unknown.header("x-amzn-ErrorType") == "ResourceNotFoundException"
    # EventInvokeConfig OnSuccess (Type: Lambda, !GetAtt AuditFunction.Arn): AuditFunction runs.
    accepted = template_emulator.invoke(
        {"n": 1}, {"X-Amz-Invocation-Type": "Event"}, function="orders-test"
    )
    assert accepted.status == 202
    template_emulator.stdout.wait_for(
        rf"^describe orders-test {accepted.header('x-amzn-RequestId')}$"
    )
    template_emulator.stdout.wait_for(rf"^describe AuditFunction {UUID}$", RECORD_DEADLINE_S)


def test_sam_template_with_nodejs_runtime_fails_naming_the_function(
    emulator_factory: EmulatorFactory,
) -> None:
    message = refused(emulator_factory, ["--template", str(NODEJS_TEMPLATE)])
    line = message.strip().splitlines()[-1]
    assert str(NODEJS_TEMPLATE) in line, message
    assert "function NodeFunction" in line, message
    assert "nodejs20.x" in line, message
    assert "PythonFunction" not in line, message


RESERVED = (
    "Lambda was unable to configure your environment variables because the environment variables"
    " you have provided contains reserved keys that are currently not supported for modification."
    " Reserved keys used in this request: "
)
NAME_RULE = "is not a valid function name: 1 to 64 letters, digits, hyphens or underscores"


@pytest.mark.parametrize(
    ("name", "keys", "named"),
    [
        (
            "orders",
            {"code_dir": "no-such-dir"},
            "function orders: code_dir: {dir}/no-such-dir is not a directory",
        ),
        ("../../etc", {}, f'function ../../etc: "../../etc" {NAME_RULE}'),
        ("x" * 65, {}, f'function {"x" * 65}: "{"x" * 65}" {NAME_RULE}'),
        (
            "orders",
            {"environment": {"AWS_LAMBDA_RUNTIME_API": "x", "TABLE": "t", "_HANDLER": "y"}},
            f"function orders: environment: {RESERVED}AWS_LAMBDA_RUNTIME_API, _HANDLER",
        ),
        (
            "orders",
            {"aliases": {"live": "3"}},
            'function orders: aliases: alias live: version "3" does not exist'
            " (lambda-rie serves only $LATEST)",
        ),
    ],
    ids=["missing-code-dir", "name-path", "name-too-long", "reserved-variables", "alias-version"],
)
def test_config_that_aws_refuses_exits_2_naming_file_function_and_key(
    emulator_factory: EmulatorFactory,
    tmp_path: Path,
    name: str,
    keys: dict[str, Any],
    named: str,
) -> None:
    config = write_config(tmp_path, {name: {"handler": "many.describe", **keys}})
    message = refused(emulator_factory, ["--config", str(config)])
    line = message.strip().splitlines()[-1]
    assert line == f"lambda-rie: {config}: {named.format(dir=tmp_path)}", message


VARIABLES = "      Environment:\n        Variables:\n"


def sam_function(properties: str) -> str:
    """A template whose one function serves many.describe with these extra properties."""
    return (
        "Resources:\n"
        "  Orders:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.12\n"
        "      Handler: many.describe\n"
        f"{properties}"
    )


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        (
            "      CodeUri: no-such-dir/\n",
            "function Orders: CodeUri: {dir}/no-such-dir/ is not a directory",
        ),
        (
            f"      CodeUri: {MANY}\n      FunctionName: ../../etc/passwd\n",
            f'function Orders: FunctionName: "../../etc/passwd" {NAME_RULE}',
        ),
        (
            f"      CodeUri: {MANY}\n{VARIABLES}          AWS_REGION: x\n",
            f"function Orders: Environment.Variables: {RESERVED}AWS_REGION",
        ),
        (
            f"      CodeUri: {MANY}\n{VARIABLES}          BIG: {'x' * 4096}\n",
            "function Orders: Environment.Variables: 4099 bytes of variables exceed the 4 KB limit"
            " (4096 bytes)",
        ),
        (
            f"      CodeUri: {MANY}\n      Description: !Foo bar\n",
            "Resources.Orders.Properties.Description: unknown tag !Foo:"
            " not a CloudFormation intrinsic function",
        ),
    ],
    ids=["missing-code-uri", "function-name-path", "reserved-variable", "over-4-kb", "unknown-tag"],
)
def test_sam_template_that_aws_refuses_exits_2_naming_file_function_and_property(
    emulator_factory: EmulatorFactory, tmp_path: Path, properties: str, named: str
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(sam_function(properties))
    message = refused(emulator_factory, ["--template", str(template)])
    line = message.strip().splitlines()[-1]
    assert line == f"lambda-rie: {template}: {named.format(dir=tmp_path)}", message


@pytest.mark.parametrize(
    ("nested", "column"),
    [
        ("[" * 100_000 + "]" * 100_000, 19 + 65),
        ("{a: " * 100_000 + "1" + "}" * 100_000, 19 + 64 * 4 + 1),
    ],
    ids=["sequences", "mappings"],
)
def test_a_template_nested_100000_levels_is_refused_at_once(
    emulator_factory: EmulatorFactory, tmp_path: Path, nested: str, column: int
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(sam_function(f"      CodeUri: {MANY}\n      Description: {nested}\n"))
    message = refused(emulator_factory, ["--template", str(template)])
    line = message.strip().splitlines()[-1]
    # The 65th opening bracket after `      Description: ` on line 8.
    assert line == (
        f"lambda-rie: {template}: nested too deeply (more than 64 levels) at line 8 column {column}"
    ), message


def test_a_template_that_names_two_functions_alike_exits_2_naming_the_file(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    template = tmp_path / "template.yaml"
    second = sam_function(f"      CodeUri: {MANY}\n      FunctionName: same\n").replace(
        "Resources:\n  Orders:", "  Audit:"
    )
    template.write_text(sam_function(f"      CodeUri: {MANY}\n      FunctionName: same\n") + second)
    message = refused(emulator_factory, ["--template", str(template)])
    line = message.strip().splitlines()[-1]
    assert line == f"lambda-rie: {template}: function same is defined twice", message


def test_a_template_queue_is_the_event_source_of_its_get_att_arn(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    template = tmp_path / "template.yaml"
    events = (
        "      Events:\n"
        "        Jobs:\n"
        "          Type: SQS\n"
        "          Properties:\n"
        "            Queue: !GetAtt Jobs.Arn\n"
        "            Enabled: false\n"
    )
    queue = "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n"
    template.write_text(sam_function(f"      CodeUri: {MANY}\n{events}") + queue)
    emulator = emulator_factory(["--template", str(template)], cwd=ROOT)
    mappings = lambda_client(emulator.url).list_event_source_mappings()["EventSourceMappings"]
    assert [m["EventSourceArn"] for m in mappings] == [
        f"arn:aws:sqs:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:Jobs.fifo"
    ]
