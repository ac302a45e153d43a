"""Concurrency, account settings, async invoke config, permissions and tags, through boto3."""

from __future__ import annotations

import base64
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
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
    zip_bytes,
)
from harness import Emulator, EmulatorFactory


def test_reserved_concurrency_takes_effect_at_once(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "limited")
    assert (
        lam.get_function_concurrency(FunctionName="limited").get("ReservedConcurrentExecutions")
        is None
    )
    put = lam.put_function_concurrency(FunctionName="limited", ReservedConcurrentExecutions=0)
    assert put["ReservedConcurrentExecutions"] == 0
    with pytest.raises(ClientError) as throttled:
        invoke(lam, "limited")
    assert error_of(throttled.value)[:2] == (429, "TooManyRequestsException")
    assert throttled.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert lam.get_function(FunctionName="limited")["Concurrency"] == {
        "ReservedConcurrentExecutions": 0
    }
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] == 1
    lam.delete_function_concurrency(FunctionName="limited")
    assert invoke(lam, "limited")[0]["tag"] == "v1"
    with pytest.raises(ClientError) as qualified:
        lam.put_function_concurrency(FunctionName="limited:1", ReservedConcurrentExecutions=1)
    assert error_of(qualified.value)[:2] == (400, "InvalidParameterValueException")
    with pytest.raises(ClientError) as too_many:
        lam.put_function_concurrency(FunctionName="limited", ReservedConcurrentExecutions=901)
    assert error_of(too_many.value)[2] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )


def test_a_lowered_reserved_concurrency_binds_warm_environments(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    slow = "import time\n\ndef handler(event, context):\n    time.sleep(1)\n    return 'ok'\n"
    create(lam, "warm", zip_bytes({"app.py": slow}), Timeout=10)

    def burst() -> list[int]:
        def one(_: int) -> int:
            try:
                invoke(lam, "warm")
            except ClientError as e:
                return error_of(e)[0]
            return 200

        with ThreadPoolExecutor(3) as pool:
            return sorted(pool.map(one, range(3)))

    assert burst() == [200, 200, 200], "three warm environments"
    lam.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=1)
    assert burst() == [200, 429, 429]
    lam.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=0)
    assert burst() == [429, 429, 429]


def test_provisioned_concurrency_initialises_before_the_first_invoke(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "warm")
    lam.publish_version(FunctionName="warm")
    lam.create_alias(FunctionName="warm", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as latest:
        lam.put_provisioned_concurrency_config(
            FunctionName="warm", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error_of(latest.value)[2] == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    with pytest.raises(ClientError) as none:
        lam.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
    assert error_of(none.value) == (
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
    put = lam.put_provisioned_concurrency_config(
        FunctionName="warm", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["Status"], put["AllocatedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 0)
    got = lam.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
    assert (got["Status"], got["AvailableProvisionedConcurrentExecutions"]) == ("READY", 1)
    listed = lam.list_provisioned_concurrency_configs(FunctionName="warm")
    assert listed["ProvisionedConcurrencyConfigs"][0]["FunctionArn"] == ARN_PREFIX + "warm:live"
    for _ in range(3):
        _, answer = invoke(lam, "warm", Qualifier="live", LogType="Tail")
        tail = base64.b64decode(answer["LogResult"]).decode()
        assert "Init Duration" not in tail, emu.stderr_text()[-3000:]
    lam.update_function_code(FunctionName="warm", ZipFile=python_zip("v2"))
    lam.publish_version(FunctionName="warm")
    lam.update_alias(FunctionName="warm", Name="live", FunctionVersion="2")
    for _ in range(3):
        payload, answer = invoke(lam, "warm", Qualifier="live", LogType="Tail")
        assert (payload["tag"], answer["ExecutedVersion"]) == ("v2", "2")
        tail = base64.b64decode(answer["LogResult"]).decode()
        assert "Init Duration" not in tail, emu.stderr_text()[-3000:]
    lam.delete_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
    with pytest.raises(ClientError):
        lam.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")


def test_provisioned_concurrency_whose_init_fails_is_failed(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    broken = "raise RuntimeError('no init')\n\ndef handler(event, context):\n    return 1\n"
    create(lam, "broken", zip_bytes({"app.py": broken}))
    lam.publish_version(FunctionName="broken")
    put = lam.put_provisioned_concurrency_config(
        FunctionName="broken", Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert put["Status"] == "IN_PROGRESS"
    got = lam.get_provisioned_concurrency_config(FunctionName="broken", Qualifier="1")
    assert (got["Status"], got["AvailableProvisionedConcurrentExecutions"]) == ("FAILED", 0)
    assert got["StatusReason"].startswith("FUNCTION_ERROR_INIT_FAILURE: "), got
    listed = lam.list_provisioned_concurrency_configs(FunctionName="broken")
    assert listed["ProvisionedConcurrencyConfigs"][0]["Status"] == "FAILED"


def test_event_invoke_config_put_replaces_and_update_merges(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "worker")
    create(lam, "sink")
    with pytest.raises(ClientError) as nothing:
        lam.put_function_event_invoke_config(FunctionName="worker")
    assert error_of(nothing.value)[2] == (
        "You must specify at least one of error handling or destination setting."
    )
    put = lam.put_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=1)
    assert put["FunctionArn"] == ARN_PREFIX + "worker:$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    updated = lam.update_function_event_invoke_config(
        FunctionName="worker",
        DestinationConfig={"OnFailure": {"Destination": ARN_PREFIX + "sink"}},
    )
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": ARN_PREFIX + "sink"}
    replaced = lam.put_function_event_invoke_config(
        FunctionName="worker", MaximumEventAgeInSeconds=120
    )
    assert "MaximumRetryAttempts" not in replaced
    got = lam.get_function_event_invoke_config(FunctionName="worker")
    assert got["MaximumEventAgeInSeconds"] == 120
    listed = lam.list_function_event_invoke_configs(FunctionName="worker")
    assert len(listed["FunctionEventInvokeConfigs"]) == 1
    with pytest.raises(ClientError) as itself:
        lam.put_function_event_invoke_config(
            FunctionName="worker",
            DestinationConfig={"OnSuccess": {"Destination": ARN_PREFIX + "worker"}},
        )
    assert (
        error_of(itself.value)[2] == "You can't specify the function as a destination for itself."
    )
    lam.delete_function_event_invoke_config(FunctionName="worker")
    with pytest.raises(ClientError) as gone:
        lam.get_function_event_invoke_config(FunctionName="worker")
    assert error_of(gone.value) == (
        404,
        "ResourceNotFoundException",
        f"The function {ARN_PREFIX}worker:$LATEST doesn't have an EventInvokeConfig",
    )


def test_permissions_and_tags_are_stored_and_returned(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "api", Tags={"team": "a"})
    added = lam.add_permission(
        FunctionName="api",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::bucket",
    )
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": ARN_PREFIX + "api",
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}},
    }
    with pytest.raises(ClientError) as duplicate:
        lam.add_permission(FunctionName="api", StatementId="s3", Action="lambda:*", Principal="*")
    assert error_of(duplicate.value)[:2] == (409, "ResourceConflictException")
    policy = lam.get_policy(FunctionName="api")
    document = json.loads(policy["Policy"])
    assert (document["Version"], document["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in document["Statement"]] == ["s3"]
    with pytest.raises(ClientError) as stale:
        lam.remove_permission(FunctionName="api", StatementId="s3", RevisionId="old")
    assert error_of(stale.value)[:2] == (412, "PreconditionFailedException")
    lam.remove_permission(FunctionName="api", StatementId="s3")
    with pytest.raises(ClientError) as empty:
        lam.get_policy(FunctionName="api")
    assert error_of(empty.value) == (
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )

    arn = ARN_PREFIX + "api"
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    lam.tag_resource(Resource=arn, Tags={"env": "dev", "team": "b"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "b", "env": "dev"}
    lam.untag_resource(Resource=arn, TagKeys=["team", "absent"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "dev"}
    assert lam.get_function(FunctionName="api")["Tags"] == {"env": "dev"}
    with pytest.raises(ClientError) as qualified:
        lam.tag_resource(Resource=arn + ":1", Tags={"x": "y"})
    assert error_of(qualified.value)[2] == (
        "Tags on function aliases and versions are not supported. Please specify a function ARN."
    )


def test_event_source_mappings_are_taggable(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    # NOTE: no AWS behind the endpoint: a queue that cannot be checked is accepted.
    emu = emulator_factory(state_args(state_dir, "--aws-endpoint-url", "http://127.0.0.1:9"))
    lam = client(emu)
    create(lam, "consumer")
    mapping = lam.create_event_source_mapping(
        FunctionName="consumer",
        EventSourceArn="arn:aws:sqs:us-east-1:012345678912:jobs",
        Enabled=False,
    )
    arn = mapping["EventSourceMappingArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    lam.tag_resource(Resource=arn, Tags={"team": "a", "env": "dev"})
    lam.untag_resource(Resource=arn, TagKeys=["env"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    assert (
        "Tags"
        not in emu.request("GET", f"/2015-03-31/event-source-mappings/{mapping['UUID']}").json()
    )
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
    # Tags given at creation are the mapping's from the start, and are not in its answers.
    tagged = lam.create_event_source_mapping(
        FunctionName="consumer",
        EventSourceArn="arn:aws:sqs:us-east-1:012345678912:other-jobs",
        Enabled=False,
        Tags={"owner": "ops"},
    )
    assert "Tags" not in tagged
    assert lam.list_tags(Resource=tagged["EventSourceMappingArn"])["Tags"] == {"owner": "ops"}
    with pytest.raises(ClientError) as too_long:
        lam.create_event_source_mapping(
            FunctionName="consumer",
            EventSourceArn="arn:aws:sqs:us-east-1:012345678912:third-jobs",
            Tags={"k" * 129: "v"},
        )
    assert error_of(too_long.value)[:2] == (400, "ValidationException")
    unknown = arn.rsplit(":", 1)[0] + ":00000000-0000-0000-0000-000000000000"
    for call in [
        lambda: lam.list_tags(Resource=unknown),
        lambda: lam.tag_resource(Resource=unknown, Tags={"a": "b"}),
    ]:
        with pytest.raises(ClientError) as missing:
            call()
        assert error_of(missing.value) == (
            404,
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )


def invocations(emu: Emulator, function: str, outcome: str) -> int:
    """`lambda_rie_invocations_total` of one function and outcome (0 before the first)."""
    text = emu.request("GET", "/_lambda-rie/metrics").body.decode()
    pattern = (
        r"^lambda_rie_invocations_total\{[^}]*function=\"" + re.escape(function) + r"\"[^}]*"
        r"outcome=\"" + outcome + r"\"[^}]*\} (\d+)$"
    )
    found = re.search(pattern, text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def test_the_event_invoke_config_drives_retries_and_destinations(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    failing = "def handler(event, context):\n    raise RuntimeError('no')\n"
    create(lam, "bad", zip_bytes({"app.py": failing}))
    create(lam, "sink")
    lam.put_function_event_invoke_config(
        FunctionName="bad",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": ARN_PREFIX + "sink"}},
    )
    answer = lam.invoke(FunctionName="bad", InvocationType="Event", Payload=b"{}")
    assert answer["StatusCode"] == 202
    # NOTE: with AWS's default of 2 retries the failure record would come after 3 minutes.
    deadline = time.monotonic() + 60
    while invocations(emu, "sink", "success") < 1:
        assert time.monotonic() < deadline, emu.stderr_text()[-2000:]
        time.sleep(0.05)
    attempts = sum(invocations(emu, "bad", o) for o in ("error", "timeout", "crash"))
    assert attempts == 1, emu.stderr_text()[-2000:]
