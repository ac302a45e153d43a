"""Members the control plane refuses before it stores anything: versions not in their canonical
form, members of the wrong JSON type, malformed environment variable names, zips that cannot be
unpacked. Raw HTTP where boto3 would refuse to send the request."""

from __future__ import annotations

import base64
import io
import json
import stat
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from control_plane_support import (
    ARN_PREFIX,
    ROLE,
    client,
    create,
    error_of,
    invoke,
    python_zip,
    state_args,
    zip_bytes,
)
from harness import Emulator, EmulatorFactory

FUNCTIONS_PATH = "/2015-03-31/functions"
NAME_PATTERN = "[a-zA-Z]([a-zA-Z0-9_])+"
UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


def send(emu: Emulator, method: str, path: str, body: dict[str, Any]) -> tuple[int, str, str]:
    """(status, error type, message) of a raw control-plane request."""
    answer = emu.request(method, path, json.dumps(body).encode())
    data = answer.json() if answer.body else {}
    message = data.get("message", data.get("Message", "")) if answer.status >= 400 else ""
    return answer.status, answer.header("x-amzn-ErrorType") or "", message


def validation(value: str, member: str, constraint: str) -> tuple[int, str, str]:
    return (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}",
    )


def create_body(name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(python_zip()).decode()},
    }
    body.update(extra)
    return body


def test_versions_with_leading_zeros_name_no_version(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    lam.publish_version(FunctionName="fn")
    lam.update_function_configuration(FunctionName="fn", Description="two")
    lam.publish_version(FunctionName="fn")
    aliases = f"{FUNCTIONS_PATH}/fn/aliases"
    missing = (404, "ResourceNotFoundException", f"Function not found: {ARN_PREFIX}fn:99")
    assert send(emu, "POST", aliases, {"Name": "a", "FunctionVersion": "99"}) == missing
    for version in ["01", "001", "+1"]:
        assert send(emu, "POST", aliases, {"Name": "a", "FunctionVersion": version}) == (
            404,
            "ResourceNotFoundException",
            f"Function not found: {ARN_PREFIX}fn:{version}",
        )
    weighted = {"AdditionalVersionWeights": {"02": 0.5}}
    assert send(
        emu, "POST", aliases, {"Name": "a", "FunctionVersion": "1", "RoutingConfig": weighted}
    ) == (404, "ResourceNotFoundException", f"Function not found: {ARN_PREFIX}fn:02")
    # "01" does not pass for the version the alias already names.
    same = {"AdditionalVersionWeights": {"01": 0.5}}
    assert send(
        emu, "POST", aliases, {"Name": "a", "FunctionVersion": "1", "RoutingConfig": same}
    ) == (404, "ResourceNotFoundException", f"Function not found: {ARN_PREFIX}fn:01")
    assert send(emu, "POST", aliases, {"Name": "live", "FunctionVersion": "1"})[0] == 201
    assert send(emu, "PUT", f"{aliases}/live", {"FunctionVersion": "02"}) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {ARN_PREFIX}fn:02",
    )
    assert send(emu, "PUT", f"{aliases}/live", {"RoutingConfig": weighted})[0] == 404
    assert lam.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "1"
    # The version the alias uses cannot be deleted, in any spelling.
    deleted = emu.request("DELETE", f"{FUNCTIONS_PATH}/fn?Qualifier=1")
    assert deleted.status == 409
    assert emu.request("DELETE", f"{FUNCTIONS_PATH}/fn?Qualifier=01").status == 204
    assert lam.get_function(FunctionName="fn", Qualifier="1")["Configuration"]["Version"] == "1"
    assert emu.request("GET", f"{FUNCTIONS_PATH}/fn?Qualifier=01").status == 404
    # The Invoke API reads versions the same way: `01` runs nothing.
    for path in [
        f"{FUNCTIONS_PATH}/fn/invocations?Qualifier=01",
        f"{FUNCTIONS_PATH}/fn:01/invocations",
    ]:
        assert send(emu, "POST", path, {}) == (
            404,
            "ResourceNotFoundException",
            f"Function not found: {ARN_PREFIX}fn:01",
        ), path
    payload, _ = invoke(lam, "fn:live")
    assert payload["version"] == "1"


BIG = 2**70


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"Timeout": "abc"}, validation("abc", "timeout", "Member must be an integer")),
        ({"Timeout": "3"}, validation("3", "timeout", "Member must be an integer")),
        ({"Timeout": 1.9}, validation("1.9", "timeout", "Member must be an integer")),
        ({"Timeout": True}, validation("true", "timeout", "Member must be an integer")),
        ({"MemorySize": []}, validation("[]", "memorySize", "Member must be an integer")),
        (
            {"EphemeralStorage": {"Size": "1024"}},
            validation("1024", "ephemeralStorage.size", "Member must be an integer"),
        ),
        (
            {"Environment": {"Variables": {"AB": 1}}},
            validation(
                "AB",
                "environment.variables",
                "Map value must satisfy constraint: [Member must be a string]",
            ),
        ),
        ({"Environment": "x"}, validation("x", "environment", "Member must be a structure")),
        ({"Layers": "x"}, validation("x", "layers", "Member must be a list")),
        (
            {"Architectures": ["sparc"]},
            validation(
                "[sparc]",
                "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[x86_64, arm64]]",
            ),
        ),
        (
            {"Architectures": ["x86_64", "arm64"]},
            validation(
                "[x86_64, arm64]",
                "architectures",
                "Member must have length less than or equal to 1",
            ),
        ),
        ({"Description": 5}, validation("5", "description", "Member must be a string")),
        (
            {"TracingConfig": {"Mode": "On"}},
            validation(
                "On",
                "tracingConfig.mode",
                "Member must satisfy enum value set: [Active, PassThrough]",
            ),
        ),
    ],
)
def test_members_of_the_wrong_type_are_refused_and_not_stored(
    emulator_factory: EmulatorFactory,
    state_dir: Path,
    members: dict[str, Any],
    expected: tuple[int, str, str],
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    assert send(emu, "POST", FUNCTIONS_PATH, create_body("made", **members)) == expected
    assert send(emu, "GET", f"{FUNCTIONS_PATH}/made", {})[0] == 404
    create(lam, "fn")
    before = lam.get_function_configuration(FunctionName="fn")
    assert send(emu, "PUT", f"{FUNCTIONS_PATH}/fn/configuration", members) == expected
    after = lam.get_function_configuration(FunctionName="fn")
    assert (after["Timeout"], after["MemorySize"], after["Architectures"]) == (
        before["Timeout"],
        before["MemorySize"],
        before["Architectures"],
    )
    # boto3 still reads every function.
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["fn"]


def test_integers_beyond_64_bits_are_out_of_range(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    body = b'{"Timeout": %d}' % BIG
    answer = emu.request("PUT", f"{FUNCTIONS_PATH}/fn/configuration", body)
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "InvalidParameterValueException"
    assert answer.json()["message"] == f"function fn: Timeout: {BIG} is out of range (1-900)"
    assert lam.get_function_configuration(FunctionName="fn")["Timeout"] == 3


def test_aliases_and_layers_refuse_members_of_the_wrong_type(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    lam.publish_version(FunctionName="fn")
    aliases = f"{FUNCTIONS_PATH}/fn/aliases"
    assert send(
        emu, "POST", aliases, {"Name": "a", "FunctionVersion": "1", "RoutingConfig": "x"}
    ) == validation("x", "routingConfig", "Member must be a structure")
    assert send(emu, "POST", aliases, {"Name": "a", "FunctionVersion": 1}) == validation(
        "1", "functionVersion", "Member must be a string"
    )
    assert send(emu, "POST", aliases, {"Name": "a", "FunctionVersion": "1"})[0] == 201
    assert send(emu, "PUT", f"{aliases}/a", {"Description": ["x"]}) == validation(
        "[x]", "description", "Member must be a string"
    )
    assert lam.get_alias(FunctionName="fn", Name="a")["Description"] == ""
    layer = {"Content": {"ZipFile": base64.b64encode(zip_bytes({"lib.py": ""})).decode()}}
    assert send(
        emu, "POST", "/2018-10-31/layers/lib/versions", {**layer, "CompatibleRuntimes": "x"}
    ) == validation("x", "compatibleRuntimes", "Member must be a list")
    assert lam.list_layer_versions(LayerName="lib")["LayerVersions"] == []


def test_descriptions_over_256_characters_are_refused(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    long = "d" * 257
    refused = validation(long, "description", "Member must have length less than or equal to 256")
    assert send(emu, "POST", FUNCTIONS_PATH, create_body("made", Description=long)) == refused
    assert send(emu, "GET", f"{FUNCTIONS_PATH}/made", {})[0] == 404
    create(lam, "fn", Description="é" * 256)
    assert send(emu, "PUT", f"{FUNCTIONS_PATH}/fn/configuration", {"Description": long}) == refused
    assert lam.get_function_configuration(FunctionName="fn")["Description"] == "é" * 256
    versions = f"{FUNCTIONS_PATH}/fn/versions"
    assert send(emu, "POST", versions, {"Description": long}) == refused
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="fn")["Versions"]] == [
        "$LATEST"
    ]
    assert send(emu, "POST", versions, {"Description": "v" * 256})[0] == 201
    aliases = f"{FUNCTIONS_PATH}/fn/aliases"
    body = {"Name": "a", "FunctionVersion": "1"}
    assert send(emu, "POST", aliases, {**body, "Description": long}) == refused
    assert send(emu, "POST", aliases, body)[0] == 201
    assert send(emu, "PUT", f"{aliases}/a", {"Description": long}) == refused
    assert lam.get_alias(FunctionName="fn", Name="a")["Description"] == ""
    layer = {"Content": {"ZipFile": base64.b64encode(zip_bytes({"lib.py": ""})).decode()}}
    layers = "/2018-10-31/layers/lib/versions"
    assert send(emu, "POST", layers, {**layer, "Description": long}) == refused


@pytest.mark.parametrize(
    ("handler", "constraint"),
    [
        ("", "Member must satisfy regular expression pattern: [^\\s]+"),
        ("app handler", "Member must satisfy regular expression pattern: [^\\s]+"),
        ("app.handler\t", "Member must satisfy regular expression pattern: [^\\s]+"),
        ("h" * 129, "Member must have length less than or equal to 128"),
    ],
)
def test_handlers_follow_the_models_pattern_and_length(
    emulator_factory: EmulatorFactory, state_dir: Path, handler: str, constraint: str
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    refused = validation(handler, "handler", constraint)
    assert send(emu, "POST", FUNCTIONS_PATH, create_body("made", Handler=handler)) == refused
    assert send(emu, "GET", f"{FUNCTIONS_PATH}/made", {})[0] == 404
    create(lam, "fn", Handler="h" * 128)
    assert send(emu, "PUT", f"{FUNCTIONS_PATH}/fn/configuration", {"Handler": handler}) == refused
    assert lam.get_function_configuration(FunctionName="fn")["Handler"] == "h" * 128


SID_PATTERN = "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
ACTION_PATTERN = "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"StatementId": "a.b"}, validation("a.b", "statementId", SID_PATTERN)),
        ({"StatementId": "a b"}, validation("a b", "statementId", SID_PATTERN)),
        (
            {"StatementId": "s" * 101},
            validation(
                "s" * 101, "statementId", "Member must have length less than or equal to 100"
            ),
        ),
        (
            {"StatementId": ""},
            validation("", "statementId", "Member must have length greater than or equal to 1"),
        ),
        ({"Action": "s3:GetObject"}, validation("s3:GetObject", "action", ACTION_PATTERN)),
        ({"Action": "lambda:"}, validation("lambda:", "action", ACTION_PATTERN)),
        ({"Action": "lambda:Invoke*"}, validation("lambda:Invoke*", "action", ACTION_PATTERN)),
    ],
)
def test_permission_statement_ids_and_actions_follow_the_model(
    emulator_factory: EmulatorFactory,
    state_dir: Path,
    members: dict[str, Any],
    expected: tuple[int, str, str],
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    policy = f"{FUNCTIONS_PATH}/fn/policy"
    body = {"StatementId": "s-1_A", "Action": "lambda:InvokeFunction", "Principal": "*"}
    assert send(emu, "POST", policy, {**body, **members}) == expected
    assert send(emu, "GET", policy, {})[0] == 404
    for action in ["lambda:*", "*", "lambda:GetFunction"]:
        sid = f"{action.replace(':', '-').replace('*', 'all')}-{'s' * 60}"
        assert send(emu, "POST", policy, {**body, "StatementId": sid, "Action": action})[0] == 201


def test_tag_values_must_be_strings(emulator_factory: EmulatorFactory, state_dir: Path) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    path = f"/2017-03-31/tags/{quote(ARN_PREFIX + 'fn', safe='')}"
    refused = validation(
        "{a=1}", "tags", "Map value must satisfy constraint: [Member must be a string]"
    )
    assert send(emu, "POST", path, {"Tags": {"a": 1}}) == refused
    assert lam.list_tags(Resource=ARN_PREFIX + "fn")["Tags"] == {}
    assert send(emu, "POST", path, {"Tags": {"a": "1"}})[0] == 204
    assert lam.list_tags(Resource=ARN_PREFIX + "fn")["Tags"] == {"a": "1"}


TAG_PATTERN = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"


def test_tag_keys_and_values_have_the_models_lengths(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    path = f"/2017-03-31/tags/{quote(ARN_PREFIX + 'fn', safe='')}"
    long_key, long_value = "k" * 129, "v" * 257
    assert send(emu, "POST", path, {"Tags": {long_key: "v"}}) == validation(
        f"{{{long_key}=v}}",
        "tags",
        "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1, "
        f"Member must satisfy regular expression pattern: {TAG_PATTERN}]",
    )
    assert send(emu, "POST", path, {"Tags": {"k": long_value}}) == validation(
        f"{{k={long_value}}}",
        "tags",
        "Map value must satisfy constraint: [Member must have length less than or equal to 256, "
        "Member must have length greater than or equal to 0, "
        f"Member must satisfy regular expression pattern: {TAG_PATTERN}]",
    )
    untag = emu.request("DELETE", f"{path}?tagKeys={long_key}")
    assert untag.status == 400
    assert untag.header("x-amzn-ErrorType") == "ValidationException"
    assert lam.list_tags(Resource=ARN_PREFIX + "fn")["Tags"] == {}
    lam.tag_resource(Resource=ARN_PREFIX + "fn", Tags={"k" * 128: "v" * 256})
    assert lam.list_tags(Resource=ARN_PREFIX + "fn")["Tags"] == {"k" * 128: "v" * 256}
    # CreateFunction's tags are held to the same lengths.
    with pytest.raises(ClientError) as refused:
        create(lam, "tagged", Tags={long_key: "v"})
    assert error_of(refused.value)[:2] == (400, "ValidationException")


def test_list_markers_resume_after_the_last_item_returned(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    for n in range(6):
        create(lam, f"f{n}")
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["f0", "f1"]
    lam.delete_function(FunctionName="f0")
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["f2", "f3"]
    for timeout in [10, 11, 12]:
        lam.update_function_configuration(FunctionName="f1", Timeout=timeout)
        lam.publish_version(FunctionName="f1")
    versions = lam.list_versions_by_function(FunctionName="f1", MaxItems=2)
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST", "1"]
    lam.delete_function(FunctionName="f1", Qualifier="1")
    rest = lam.list_versions_by_function(
        FunctionName="f1", MaxItems=2, Marker=versions["NextMarker"]
    )
    assert [v["Version"] for v in rest["Versions"]] == ["2", "3"]
    for alias in ["a0", "a1", "a2", "a3"]:
        lam.create_alias(FunctionName="f1", Name=alias, FunctionVersion="2")
    aliases = lam.list_aliases(FunctionName="f1", MaxItems=2)
    lam.delete_alias(FunctionName="f1", Name="a1")
    more = lam.list_aliases(FunctionName="f1", MaxItems=2, Marker=aliases["NextMarker"])
    assert [a["Name"] for a in more["Aliases"]] == ["a2", "a3"]
    everything = [
        (f["FunctionName"], f["Version"])
        for page in lam.get_paginator("list_functions").paginate(
            FunctionVersion="ALL", PaginationConfig={"PageSize": 2}
        )
        for f in page["Functions"]
    ]
    assert everything == [
        ("f1", "$LATEST"),
        ("f1", "2"),
        ("f1", "3"),
        ("f2", "$LATEST"),
        ("f3", "$LATEST"),
        ("f4", "$LATEST"),
        ("f5", "$LATEST"),
    ]
    # A version deleted at the end of a page of every version: the next page goes on after it.
    lam.update_function_configuration(FunctionName="f1", Timeout=13)
    lam.publish_version(FunctionName="f1")
    page = lam.list_functions(FunctionVersion="ALL", MaxItems=3)
    assert [(f["FunctionName"], f["Version"]) for f in page["Functions"]] == [
        ("f1", "$LATEST"),
        ("f1", "2"),
        ("f1", "3"),
    ]
    lam.delete_function(FunctionName="f1", Qualifier="3")
    after = lam.list_functions(FunctionVersion="ALL", MaxItems=2, Marker=page["NextMarker"])
    assert [(f["FunctionName"], f["Version"]) for f in after["Functions"]] == [
        ("f1", "4"),
        ("f2", "$LATEST"),
    ]
    assert send(emu, "GET", f"{FUNCTIONS_PATH}/?Marker=garbage", {}) == (
        400,
        "InvalidParameterValueException",
        "Invalid marker",
    )


@pytest.mark.parametrize(
    ("value", "constraint"),
    [
        ("10001", "Member must have value less than or equal to 10000"),
        ("0", "Member must have value greater than or equal to 1"),
        ("-5", "Member must have value greater than or equal to 1"),
    ],
)
def test_max_items_outside_the_models_range_is_refused(
    emulator_factory: EmulatorFactory, state_dir: Path, value: str, constraint: str
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    refused = validation(value, "maxItems", constraint)
    for path in [
        f"{FUNCTIONS_PATH}/",
        f"{FUNCTIONS_PATH}/fn/versions",
        f"{FUNCTIONS_PATH}/fn/aliases",
    ]:
        assert send(emu, "GET", f"{path}?MaxItems={value}", {}) == refused, path
        status, _, _ = send(emu, "GET", f"{path}?MaxItems=10000", {})
        assert status == 200, path
    assert send(emu, "GET", "/2018-10-31/layers?MaxItems=51", {}) == validation(
        "51", "maxItems", "Member must have value less than or equal to 50"
    )


@pytest.mark.parametrize("name", ["AWS_REGION=eu-west-9", "1A", "A B", "", "A", "A\x00B"])
def test_environment_variable_names_follow_aws_pattern(
    emulator_factory: EmulatorFactory, state_dir: Path, name: str
) -> None:
    emu = emulator_factory(state_args(state_dir))
    create(client(emu), "fn")
    status, code, message = send(
        emu,
        "PUT",
        f"{FUNCTIONS_PATH}/fn/configuration",
        {"Environment": {"Variables": {name: "x"}}},
    )
    assert (status, code) == (400, "ValidationException")
    assert message.endswith(
        "at 'environment.variables' failed to satisfy constraint: Map keys must satisfy "
        f"constraint: [Member must satisfy regular expression pattern: {NAME_PATTERN}]"
    )


def test_environment_values_with_nul_and_reserved_names_are_refused(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn", Environment={"Variables": {"COLOR": "red"}})
    path = f"{FUNCTIONS_PATH}/fn/configuration"
    assert send(emu, "PUT", path, {"Environment": {"Variables": {"COLOR": "a\x00b"}}}) == (
        validation(
            "COLOR",
            "environment.variables",
            "Map value must satisfy constraint: [Member must not contain the NUL character]",
        )
    )
    # A reserved name keeps AWS's own answer.
    status, code, message = send(
        emu, "PUT", path, {"Environment": {"Variables": {"AWS_REGION": "x"}}}
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.endswith("Reserved keys used in this request: AWS_REGION")
    payload, _ = invoke(lam, "fn")
    assert payload["color"] == "red"


def zip_of_entries(entries: list[tuple[str, int]]) -> bytes:
    """A zip of entries (name, unix mode); names ending in `/` are folders."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, mode in entries:
            info = zipfile.ZipInfo(name)
            kind = stat.S_IFDIR if name.endswith("/") else stat.S_IFREG
            info.external_attr = (kind | mode) << 16
            archive.writestr(info, "" if name.endswith("/") else "x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "entries",
    [
        [("x", 0o644), ("x/y", 0o644)],
        [("x/y", 0o644), ("x", 0o644)],
        [(".", 0o644)],
        [("n" * 256, 0o644)],
    ],
    ids=["file-then-folder", "folder-then-file", "dot", "long-name"],
)
def test_zips_whose_entries_collide_cannot_be_unzipped(
    emulator_factory: EmulatorFactory, state_dir: Path, entries: list[tuple[str, int]]
) -> None:
    emu = emulator_factory(state_args(state_dir))
    zipped = zip_of_entries([("app.py", 0o644), *entries])
    body = create_body("fn", Code={"ZipFile": base64.b64encode(zipped).decode()})
    assert send(emu, "POST", FUNCTIONS_PATH, body) == (
        400,
        "InvalidParameterValueException",
        UNZIP_ERROR,
    )
    blobs = state_dir / "blobs"
    assert not blobs.is_dir() or list(blobs.iterdir()) == []


def test_setuid_setgid_and_sticky_bits_are_dropped(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    zipped = zip_of_entries(
        [("app.py", 0o644), ("suid", 0o4755), ("sgid", 0o2755), ("d/", 0o1777), ("d/f", 0o644)]
    )
    created = create(client(emu), "fn", zipped)
    hex_digest = base64.b64decode(created["CodeSha256"]).hex()
    code = state_dir / "code" / hex_digest
    for name in ["suid", "sgid", "d", "d/f"]:
        mode = (code / name).stat().st_mode
        assert mode & 0o7000 == 0, (name, oct(mode))
    assert (code / "suid").stat().st_mode & 0o777 == 0o755


def test_event_invoke_configs_refuse_what_aws_refuses(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    path = f"{FUNCTIONS_PATH.replace('2015-03-31', '2019-09-25')}/fn/event-invoke-config"
    nothing = (
        400,
        "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
    )
    assert send(emu, "PUT", path, {"DestinationConfig": None}) == nothing
    for side, member in [("OnSuccess", "onSuccess"), ("OnFailure", "onFailure")]:
        assert send(
            emu, "PUT", path, {"DestinationConfig": {side: {"Destination": True}}}
        ) == validation(
            "true", f"destinationConfig.{member}.destination", "Member must be a string"
        )
        status, code, message = send(
            emu, "PUT", path, {"DestinationConfig": {side: {"Destination": "notanarn"}}}
        )
        assert (status, code) == (400, "ValidationException")
        assert f"at 'destinationConfig.{member}.destination'" in message
        fifo = "arn:aws:sqs:us-east-1:012345678912:queue-name.fifo"
        assert send(emu, "PUT", path, {"DestinationConfig": {side: {"Destination": fifo}}}) == (
            400,
            "InvalidParameterValueException",
            f"The destination ARN {fifo} is invalid: a FIFO queue or topic cannot be a "
            "destination of asynchronous invocations.",
        )
    bucket = "arn:aws:s3:::bucket"
    assert send(
        emu, "PUT", path, {"DestinationConfig": {"OnSuccess": {"Destination": bucket}}}
    ) == (
        400,
        "InvalidParameterValueException",
        f"The destination ARN {bucket} is invalid: an S3 bucket is supported only as an "
        "OnFailure destination.",
    )
    assert emu.request("GET", path).status == 404
    put = lam.put_function_event_invoke_config(
        FunctionName="fn", DestinationConfig={"OnFailure": {"Destination": bucket}}
    )
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": bucket}}
