"""An alias's own settings: its async invoke configuration drives its `Event` invocations, and
its two versions must share role and dead-letter queue (docs/reference.md §13)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from control_plane_support import ARN_PREFIX, ROLE, client, create, error_of, state_args, zip_bytes
from harness import Emulator, EmulatorFactory
from test_control_plane_settings import invocations

FAILING = "def handler(event, context):\n    raise RuntimeError('no')\n"


def wait_for_success(emu: Emulator, function: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while invocations(emu, function, "success") < count:
        assert time.monotonic() < deadline, emu.stderr_text()[-2000:]
        time.sleep(0.05)


def failing_alias(lam: Any) -> None:
    """`bad`, whose handler raises, published as version 1 with the alias `live` on it."""
    create(lam, "bad", zip_bytes({"app.py": FAILING}))
    lam.publish_version(FunctionName="bad")
    lam.create_alias(FunctionName="bad", Name="live", FunctionVersion="1")


def test_an_alias_event_invoke_config_is_the_one_its_events_use(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    failing_alias(lam)
    for sink in ("alias_sink", "version_sink"):
        create(lam, sink)
    for qualifier, sink in (("1", "version_sink"), ("live", "alias_sink")):
        lam.put_function_event_invoke_config(
            FunctionName="bad",
            Qualifier=qualifier,
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": ARN_PREFIX + sink}},
        )

    lam.invoke(FunctionName="bad:live", InvocationType="Event", Payload=b"{}")
    wait_for_success(emu, "alias_sink", 1)
    lam.invoke(FunctionName="bad", Qualifier="1", InvocationType="Event", Payload=b"{}")
    wait_for_success(emu, "version_sink", 1)
    assert invocations(emu, "alias_sink", "success") == 1

    # Without its own configuration, the alias's events use the version's.
    lam.delete_function_event_invoke_config(FunctionName="bad", Qualifier="live")
    lam.invoke(FunctionName="bad:live", InvocationType="Event", Payload=b"{}")
    wait_for_success(emu, "version_sink", 2)
    assert invocations(emu, "alias_sink", "success") == 1
    # One attempt per event: the configurations' MaximumRetryAttempts 0 applied.
    assert sum(invocations(emu, "bad", o) for o in ("error", "timeout", "crash")) == 3


RECORDER = "import json\n\ndef handler(event, context):\n    print('RECORD ' + json.dumps(event))\n"


def test_a_destination_record_names_the_version_that_ran(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    failing_alias(lam)
    create(lam, "recorder", zip_bytes({"app.py": RECORDER}))
    lam.put_function_event_invoke_config(
        FunctionName="bad",
        Qualifier="live",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": ARN_PREFIX + "recorder"}},
    )
    lam.invoke(FunctionName="bad:live", InvocationType="Event", Payload=b'{"via": "alias"}')
    record = json.loads(emu.stdout.wait_for(r"RECORD (.*)$", 60).group(1))
    assert record["requestPayload"] == {"via": "alias"}
    assert record["requestContext"]["functionArn"] == ARN_PREFIX + "bad:1"
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "1",
        "functionError": "Unhandled",
    }


def test_an_alias_event_invoke_config_survives_a_restart(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir))
    lam = client(first)
    failing_alias(lam)
    create(lam, "alias_sink")
    lam.put_function_event_invoke_config(
        FunctionName="bad:live",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": ARN_PREFIX + "alias_sink"}},
    )
    assert first.stop() == 0
    emu = emulator_factory(state_args(state_dir))
    client(emu).invoke(FunctionName="bad:live", InvocationType="Event", Payload=b"{}")
    wait_for_success(emu, "alias_sink", 1)


def test_a_weighted_alias_needs_one_role_and_one_dead_letter_queue(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    lam = client(emulator_factory(state_args(state_dir)))
    create(lam, "fn")
    lam.publish_version(FunctionName="fn")
    other_role = ROLE + "-2"
    lam.update_function_configuration(FunctionName="fn", Role=other_role)
    lam.publish_version(FunctionName="fn")
    lam.update_function_configuration(
        FunctionName="fn",
        Role=ROLE,
        DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:012345678912:dlq"},
    )
    lam.publish_version(FunctionName="fn")
    lam.update_function_configuration(FunctionName="fn", DeadLetterConfig={"TargetArn": ""})
    lam.update_function_configuration(FunctionName="fn", Description="same role, no DLQ")
    lam.publish_version(FunctionName="fn")

    def refused(extra: str) -> tuple[int, str, str]:
        with pytest.raises(ClientError) as raised:
            lam.create_alias(
                FunctionName="fn",
                Name="split",
                FunctionVersion="1",
                RoutingConfig={"AdditionalVersionWeights": {extra: 0.5}},
            )
        return error_of(raised.value)

    bad = "InvalidParameterValueException"
    assert refused("2") == (
        400,
        bad,
        "Versions 1 and 2 of an alias must have the same execution role.",
    )
    assert refused("3") == (
        400,
        bad,
        "Versions 1 and 3 of an alias must have the same dead-letter queue configuration.",
    )
    made = lam.create_alias(
        FunctionName="fn",
        Name="split",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"4": 0.5}},
    )
    assert made["RoutingConfig"] == {"AdditionalVersionWeights": {"4": 0.5}}
    with pytest.raises(ClientError) as raised:
        lam.update_alias(
            FunctionName="fn",
            Name="split",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
        )
    assert error_of(raised.value)[2] == (
        "Versions 1 and 2 of an alias must have the same execution role."
    )
