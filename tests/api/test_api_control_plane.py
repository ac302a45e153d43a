"""The Python API with the control plane: a function created with boto3 from a zip the test
builds, served by `Emulator` and kept in its `state_dir`."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from lambda_rie import Emulator, LambdaRieError

ROLE = "arn:aws:iam::012345678912:role/lambda"


def echo_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'got': event}\n")
    return buffer.getvalue()


def test_a_function_created_with_boto3_is_served_and_kept_in_the_state_dir(
    state_dir: Path,
) -> None:
    with Emulator(state_dir=state_dir) as emu:
        lam = boto3.client(
            "lambda",
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}),
        )
        lam.create_function(
            FunctionName="echo",
            Runtime="python3.12",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": echo_zip()},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName="echo")
        assert emu.invoke("echo", {"a": 1}).json() == {"got": {"a": 1}}
    with Emulator(state_dir=state_dir) as emu:
        assert emu.invoke("echo", {"b": 2}).json() == {"got": {"b": 2}}


def test_an_emulator_needs_a_function_or_a_state_dir() -> None:
    with pytest.raises(LambdaRieError, match="state_dir"):
        Emulator()


def test_a_state_dir_serves_one_emulator_at_a_time(state_dir: Path) -> None:
    first = Emulator(state_dir=state_dir)
    try:
        with pytest.raises(LambdaRieError, match="is in use by another lambda-rie"):
            Emulator(state_dir=state_dir)
    finally:
        first.close()
    # Closed, the directory is free for the next one.
    with Emulator(state_dir=state_dir) as emu:
        assert not emu.closed
