"""The Lambda walkthrough with the real `aws` CLI against the running emulator."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from control_plane_support import (
    ARN_PREFIX,
    ROLE,
    TIMESTAMP,
    UUID,
    code_sha256,
    python_zip,
    state_args,
)
from harness import DEFAULT_REGION, VENV_BIN, Emulator, EmulatorFactory, clean_env

AWS = VENV_BIN / "aws"


def aws(emu: Emulator, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_MAX_ATTEMPTS": "1",
        }
    )
    done = subprocess.run(
        [str(AWS), "lambda", *args, "--endpoint-url", emu.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def out(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.mark.skipif(not AWS.exists(), reason="awscli is part of the test extra")
def test_the_lambda_walkthrough_with_the_aws_cli(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir / "state"))
    zip_path = state_dir / "fn.zip"
    code = python_zip("v1")
    zip_path.write_bytes(code)
    created = out(
        aws(
            emu,
            "create-function",
            "--function-name", "walk",
            "--runtime", "python3.12",
            "--handler", "app.handler",
            "--role", ROLE,
            "--zip-file", f"fileb://{zip_path}",
        )
    )  # fmt: skip
    assert created["FunctionName"] == "walk"
    assert created["FunctionArn"] == ARN_PREFIX + "walk"
    assert created["CodeSha256"] == code_sha256(code)
    assert created["CodeSize"] == len(code)
    assert created["State"] == "Pending"
    assert TIMESTAMP.match(created["LastModified"])
    assert UUID.match(created["RevisionId"])

    got = out(aws(emu, "get-function", "--function-name", "walk"))
    assert got["Configuration"]["State"] == "Active"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as download:
        assert download.read() == code
    listed = out(aws(emu, "list-functions"))
    assert [f["FunctionName"] for f in listed["Functions"]] == ["walk"]

    statement = out(
        aws(
            emu,
            "add-permission",
            "--function-name", "walk",
            "--statement-id", "events",
            "--action", "lambda:InvokeFunction",
            "--principal", "events.amazonaws.com",
        )
    )  # fmt: skip
    assert json.loads(statement["Statement"])["Principal"] == {"Service": "events.amazonaws.com"}

    def run(tag: str) -> None:
        result = state_dir / "out.json"
        meta = out(
            aws(
                emu,
                "invoke",
                "--function-name", "walk",
                "--payload", '{"k": 1}',
                str(result),
            )
        )  # fmt: skip
        assert meta["StatusCode"] == 200
        assert meta["ExecutedVersion"] == "$LATEST"
        assert json.loads(result.read_text())["tag"] == tag

    run("v1")
    eic = out(
        aws(emu, "put-function-event-invoke-config", "--function-name", "walk",
            "--maximum-retry-attempts", "0")
    )  # fmt: skip
    assert (eic["MaximumRetryAttempts"], eic["FunctionArn"]) == (0, ARN_PREFIX + "walk:$LATEST")
    eic = out(
        aws(emu, "update-function-event-invoke-config", "--function-name", "walk",
            "--maximum-event-age-in-seconds", "300")
    )  # fmt: skip
    assert (eic["MaximumRetryAttempts"], eic["MaximumEventAgeInSeconds"]) == (0, 300)

    zip_path.write_bytes(python_zip("v2"))
    updated = out(
        aws(emu, "update-function-code", "--function-name", "walk",
            "--zip-file", f"fileb://{zip_path}")
    )  # fmt: skip
    assert updated["LastUpdateStatus"] == "InProgress"
    aws(emu, "wait", "function-updated-v2", "--function-name", "walk")
    run("v2")

    deleted = aws(emu, "delete-function", "--function-name", "walk")
    # NOTE: awscli v1 prints the 204's status, v2 nothing.
    assert out(deleted) in (None, {"StatusCode": 204})
    missing = aws(
        emu,
        "invoke",
        "--function-name", "walk",
        str(state_dir / "none.json"),
        check=False,
    )  # fmt: skip
    # NOTE: awscli v1 exits 255 on a service error, v2 254.
    assert missing.returncode in (254, 255)
    assert "ResourceNotFoundException" in missing.stderr
    assert f"Function not found: {ARN_PREFIX}walk" in missing.stderr
