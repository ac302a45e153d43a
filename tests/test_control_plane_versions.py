"""PublishVersion, ListVersionsByFunction and aliases with weighted routing, through boto3."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from control_plane_support import (
    ARN_PREFIX,
    client,
    create,
    error_of,
    invoke,
    python_zip,
    state_args,
)
from harness import EmulatorFactory


def test_versions_are_immutable_snapshots(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "app", python_zip("v1"))
    latest_revision = lam.get_function(FunctionName="app")["Configuration"]["RevisionId"]
    one = lam.publish_version(FunctionName="app", Description="first")
    assert one["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (one["Version"], one["FunctionArn"]) == ("1", ARN_PREFIX + "app:1")
    assert (one["State"], one["LastUpdateStatus"], one["Description"]) == (
        "Active",
        "Successful",
        "first",
    )
    again = lam.publish_version(FunctionName="app")
    assert (again["Version"], again["RevisionId"]) == ("1", one["RevisionId"])
    assert lam.get_function(FunctionName="app")["Configuration"]["RevisionId"] != latest_revision

    with pytest.raises(ClientError) as wrong_sha:
        lam.publish_version(FunctionName="app", CodeSha256="abc")
    assert error_of(wrong_sha.value)[:2] == (400, "InvalidParameterValueException")
    assert error_of(wrong_sha.value)[2].startswith("CodeSHA256 (abc) is different from current")

    lam.update_function_code(FunctionName="app", ZipFile=python_zip("v2"))
    two = lam.publish_version(FunctionName="app")
    assert two["Version"] == "2"
    payload, answer = invoke(lam, "app", Qualifier="1", LogType="Tail")
    assert (payload["tag"], payload["version"], answer["ExecutedVersion"]) == ("v1", "1", "1")
    assert "Version: 1" in base64.b64decode(answer["LogResult"]).decode()
    assert invoke(lam, "app:2")[0]["tag"] == "v2"
    assert invoke(lam, "app")[0]["tag"] == "v2"
    assert lam.get_function(FunctionName="app", Qualifier="1")["Configuration"]["Version"] == "1"

    versions = lam.list_versions_by_function(FunctionName="app")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[0]["FunctionArn"] == ARN_PREFIX + "app:$LATEST"
    assert "State" not in versions[1]

    lam.delete_function(FunctionName="app", Qualifier="1")
    with pytest.raises(ClientError) as gone:
        invoke(lam, "app", Qualifier="1")
    assert error_of(gone.value) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {ARN_PREFIX}app:1",
    )


def test_aliases_route_by_weight_and_name_the_version_that_ran(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "web", python_zip("v1"))
    lam.publish_version(FunctionName="web")
    lam.update_function_code(FunctionName="web", ZipFile=python_zip("v2"))
    lam.publish_version(FunctionName="web")

    alias = lam.create_alias(FunctionName="web", Name="live", FunctionVersion="1")
    assert alias["AliasArn"] == ARN_PREFIX + "web:live"
    assert (alias["FunctionVersion"], alias["Description"]) == ("1", "")
    assert "RoutingConfig" not in alias
    with pytest.raises(ClientError) as exists:
        lam.create_alias(FunctionName="web", Name="live", FunctionVersion="1")
    assert error_of(exists.value) == (
        409,
        "ResourceConflictException",
        f"Alias already exists: {ARN_PREFIX}web:live",
    )
    with pytest.raises(ClientError) as stale:
        lam.update_alias(FunctionName="web", Name="live", RevisionId="nope")
    assert error_of(stale.value)[:2] == (412, "PreconditionFailedException")

    weighted = lam.update_alias(
        FunctionName="web",
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
        RevisionId=alias["RevisionId"],
    )
    assert weighted["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.3}}
    assert weighted["RevisionId"] != alias["RevisionId"]
    ran = {"1": 0, "2": 0}
    for _ in range(1000):
        payload, answer = invoke(lam, "web", Qualifier="live")
        ran[answer["ExecutedVersion"]] += 1
        assert payload["tag"] == ("v1" if answer["ExecutedVersion"] == "1" else "v2")
    # NOTE: binomial(1000, 0.3): 300 +- 60 is more than 4 standard deviations.
    assert 240 <= ran["2"] <= 360, ran

    config = lam.get_function(FunctionName="web", Qualifier="live")["Configuration"]
    assert (config["FunctionArn"], config["Version"]) == (ARN_PREFIX + "web:live", "1")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="web")["Aliases"]] == ["live"]
    with pytest.raises(ClientError) as in_use:
        lam.delete_function(FunctionName="web", Qualifier="2")
    assert error_of(in_use.value) == (
        409,
        "ResourceConflictException",
        "Unable to delete version because the following aliases reference it: [live]",
    )

    errors = [
        (
            {"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
            "Invalid function version 1. Function version 1 is already included in routing "
            "configuration.",
        ),
        (
            {
                "FunctionVersion": "$LATEST",
                "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}},
            },
            "$LATEST is not supported for an alias pointing to more than 1 version",
        ),
        (
            {
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}},
            },
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ),
    ]
    for params, message in errors:
        with pytest.raises(ClientError) as refused:
            lam.create_alias(FunctionName="web", Name="other", **params)
        assert error_of(refused.value) == (400, "InvalidParameterValueException", message)
    with pytest.raises(ClientError) as digits:
        lam.create_alias(FunctionName="web", Name="123", FunctionVersion="1")
    assert error_of(digits.value)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as missing:
        lam.get_alias(FunctionName="web", Name="nope")
    assert error_of(missing.value) == (
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {ARN_PREFIX}web:nope",
    )
    assert (
        lam.delete_alias(FunctionName="web", Name="live")["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    with pytest.raises(ClientError):
        invoke(lam, "web", Qualifier="live")
