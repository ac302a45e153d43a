"""CreateFunction, Get*, ListFunctions, Update*, DeleteFunction through boto3, and the waiters."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from control_plane_support import (
    ARN_PREFIX,
    CURL_BOOTSTRAP,
    ROLE,
    TIMESTAMP,
    UUID,
    client,
    code_sha256,
    create,
    error_of,
    invoke,
    python_zip,
    state_args,
    zip_bytes,
)
from harness import EmulatorFactory

WAIT = {"Delay": 1, "MaxAttempts": 5}


def test_a_created_function_is_pending_then_active_and_runs_its_zip(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    code = python_zip("v1")
    created = create(lam, "orders", code, Environment={"Variables": {"COLOR": "red"}})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == ARN_PREFIX + "orders"
    assert created["State"] == "Pending"
    assert created["StateReason"] == "The function is being created."
    assert created["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in created
    assert created["CodeSha256"] == code_sha256(code)
    assert created["CodeSize"] == len(code)
    assert created["Version"] == "$LATEST"
    assert UUID.match(created["RevisionId"])
    assert TIMESTAMP.match(created["LastModified"])
    assert (created["Timeout"], created["MemorySize"], created["Description"]) == (3, 128, "")
    assert created["PackageType"] == "Zip"
    assert created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["TracingConfig"] == {"Mode": "PassThrough"}
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/orders"}

    lam.get_waiter("function_exists").wait(FunctionName="orders", WaiterConfig=WAIT)
    lam.get_waiter("function_active_v2").wait(FunctionName="orders", WaiterConfig=WAIT)
    got = lam.get_function(FunctionName="orders")
    config = got["Configuration"]
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    assert config["RevisionId"] != created["RevisionId"]
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as download:
        assert download.read() == code
    assert lam.get_function_configuration(FunctionName="orders")["CodeSha256"] == code_sha256(code)

    payload, answer = invoke(lam, "orders", {"n": 1})
    assert payload == {"tag": "v1", "event": {"n": 1}, "version": "$LATEST", "color": "red"}
    assert answer["ExecutedVersion"] == "$LATEST"
    qualified = lam.get_function(FunctionName="orders", Qualifier="$LATEST")
    assert qualified["Configuration"]["FunctionArn"] == ARN_PREFIX + "orders:$LATEST"


def test_updates_run_new_code_at_once_and_check_the_revision(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "svc", python_zip("v1"))
    assert invoke(lam, "svc")[0]["tag"] == "v1"
    revision = lam.get_function(FunctionName="svc")["Configuration"]["RevisionId"]

    new_code = python_zip("v2")
    updated = lam.update_function_code(FunctionName="svc", ZipFile=new_code, RevisionId=revision)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    assert updated["CodeSha256"] == code_sha256(new_code)
    lam.get_waiter("function_updated_v2").wait(FunctionName="svc", WaiterConfig=WAIT)
    assert invoke(lam, "svc")[0]["tag"] == "v2"

    with pytest.raises(ClientError) as stale:
        lam.update_function_configuration(FunctionName="svc", Timeout=10, RevisionId=revision)
    assert error_of(stale.value) == (
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
    config = lam.update_function_configuration(
        FunctionName="svc", Environment={"Variables": {"COLOR": "blue"}}, Timeout=10
    )
    assert config["Timeout"] == 10
    assert config["Environment"] == {"Variables": {"COLOR": "blue"}}
    lam.get_waiter("function_updated_v2").wait(FunctionName="svc", WaiterConfig=WAIT)
    assert invoke(lam, "svc")[0]["color"] == "blue"


def test_list_functions_pages_over_120_functions(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    code = python_zip()
    names = [f"fn-{i:03d}" for i in range(120)]
    for name in names:
        create(lam, name, code)
    first = lam.list_functions(MaxItems=50)
    assert len(first["Functions"]) == 50
    assert "NextMarker" in first
    assert "State" not in first["Functions"][0]
    listed = [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 50})
        for f in page["Functions"]
    ]
    assert listed == names
    lam.publish_version(FunctionName="fn-000")
    every = [
        f["FunctionArn"]
        for page in lam.get_paginator("list_functions").paginate(FunctionVersion="ALL")
        for f in page["Functions"]
    ]
    assert every[:2] == [ARN_PREFIX + "fn-000:$LATEST", ARN_PREFIX + "fn-000:1"]
    assert len(every) == 121
    with pytest.raises(ClientError) as bad:
        lam.list_functions(FunctionVersion="SOME")
    assert error_of(bad.value)[:2] == (400, "ValidationException")


def test_a_deleted_function_is_gone(emulator_factory: EmulatorFactory, state_dir: Path) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "tmp")
    assert invoke(lam, "tmp")[0]["tag"] == "v1"
    with pytest.raises(ClientError) as latest:
        lam.delete_function(FunctionName="tmp", Qualifier="$LATEST")
    assert error_of(latest.value) == (
        400,
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
    )
    assert lam.delete_function(FunctionName="tmp")["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (
        lambda: lam.get_function(FunctionName="tmp"),
        lambda: invoke(lam, "tmp"),
        lambda: lam.delete_function(FunctionName="tmp"),
    ):
        with pytest.raises(ClientError) as gone:
            call()
        status, code, message = error_of(gone.value)
        assert (status, code) == (404, "ResourceNotFoundException")
        assert message.startswith("Function not found: " + ARN_PREFIX + "tmp")
    assert lam.list_functions()["Functions"] == []


def test_bad_input_gets_aws_answers(emulator_factory: EmulatorFactory, state_dir: Path) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "dup")
    cases = [
        (
            {"FunctionName": "dup"},
            (409, "ResourceConflictException", "Function already exist: dup"),
        ),
        (
            {"FunctionName": "corrupt", "Code": {"ZipFile": b"not a zip at all"}},
            (
                400,
                "InvalidParameterValueException",
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            ),
        ),
        (
            {"FunctionName": "slip", "Code": {"ZipFile": zip_bytes({"../evil.py": "x"})}},
            (
                400,
                "InvalidParameterValueException",
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            ),
        ),
        (
            {"FunctionName": "s3", "Code": {"S3Bucket": "no-such-bucket", "S3Key": "k.zip"}},
            (
                400,
                "InvalidParameterValueException",
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                "S3 Error Message: The specified bucket does not exist",
            ),
        ),
        (
            {"FunctionName": "node", "Runtime": "nodejs22.x"},
            (400, "InvalidParameterValueException", None),
        ),
        (
            {"FunctionName": "cobol", "Runtime": "cobol85"},
            (400, "InvalidParameterValueException", None),
        ),
        (
            {"FunctionName": "role", "Role": "not-a-role"},
            (400, "ValidationException", None),
        ),
    ]
    for params, (status, code, message) in cases:
        extra = dict(params)
        name = str(extra.pop("FunctionName"))
        with pytest.raises(ClientError) as refused:
            create(lam, name, **extra)
        got = error_of(refused.value)
        assert got[:2] == (status, code), params
        if message is not None:
            assert got[2] == message
    with pytest.raises(ClientError) as node:
        create(lam, "node", Runtime="nodejs22.x")
    assert "--runtime-command nodejs22.x=" in error_of(node.value)[2]
    with pytest.raises(ClientError) as cobol:
        create(lam, "cobol", Runtime="cobol85")
    assert error_of(cobol.value)[2].startswith(
        "Value cobol85 at 'runtime' failed to satisfy constraint: "
        "Member must satisfy enum value set: ["
    )
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["dup"]


def test_a_missing_handler_is_created_and_fails_on_invoke_as_aws_does(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "nohandler", zip_bytes({"other.py": "x = 1\n"}))
    payload, answer = invoke(lam, "nohandler")
    assert answer["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"


def test_provided_runs_the_zips_bootstrap_and_other_runtimes_their_command(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(
        state_args(state_dir, "--runtime-command", "nodejs22.x=/bin/bash bootstrap")
    )
    lam = client(emu)
    runtime_zip = zip_bytes({"bootstrap": CURL_BOOTSTRAP}, {"bootstrap": 0o755})
    create(lam, "custom", runtime_zip, Runtime="provided.al2023", Handler="unused")
    assert invoke(lam, "custom", {"a": 1})[0] == {"echo": {"a": 1}}
    as_node = zip_bytes({"bootstrap": CURL_BOOTSTRAP}, {"bootstrap": 0o644})
    create(lam, "node", as_node, Runtime="nodejs22.x", Handler="index.handler")
    assert invoke(lam, "node", {"b": 2})[0] == {"echo": {"b": 2}}


@pytest.mark.parametrize("change", ["code", "configuration", "delete"])
def test_an_update_or_delete_lets_invocations_in_flight_finish_on_the_old_code(
    emulator_factory: EmulatorFactory, state_dir: Path, change: str
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    slow = (
        "import time\n\n"
        "def handler(event, context):\n"
        "    time.sleep(event.get('sleep', 0))\n"
        "    return 'old'\n"
    )
    create(lam, "rolling", zip_bytes({"app.py": slow}), Timeout=30)
    with ThreadPoolExecutor(1) as pool:
        # NOTE: the invocation outlasts the runtime's stop grace (2 s) after the change.
        in_flight = pool.submit(invoke, lam, "rolling", {"sleep": 4})
        time.sleep(1)
        if change == "code":
            new = "def handler(event, context):\n    return 'new'\n"
            lam.update_function_code(FunctionName="rolling", ZipFile=zip_bytes({"app.py": new}))
            assert invoke(lam, "rolling")[0] == "new"
        elif change == "configuration":
            lam.update_function_configuration(FunctionName="rolling", Description="changed")
        else:
            lam.delete_function(FunctionName="rolling")
        payload, answer = in_flight.result(timeout=30)
        assert payload == "old"
        assert "FunctionError" not in answer


def test_a_zip_over_the_unpacked_limit_is_refused(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    buffer = io.BytesIO()
    archive = zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)
    with archive, archive.open("big.bin", "w", force_zip64=True) as big:
        chunk = bytes(1 << 20)
        for _ in range(251):
            big.write(chunk)
    with pytest.raises(ClientError) as refused:
        create(lam, "big", buffer.getvalue())
    assert error_of(refused.value) == (
        400,
        "InvalidParameterValueException",
        "Unzipped size must be smaller than 262144000 bytes",
    )


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (52_428_801, "Zipped size must be smaller than 52428800 bytes"),
        (
            53_000_000,
            "Request must be smaller than 70167211 bytes for the CreateFunction operation",
        ),
    ],
)
def test_a_zip_over_the_upload_limits_is_413(
    emulator_factory: EmulatorFactory, state_dir: Path, size: int, message: str
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    # NOTE: random bytes: a zip that size would not compress; the limits look at bytes only.
    with pytest.raises(ClientError) as refused:
        create(lam, "huge", os.urandom(size))
    assert error_of(refused.value) == (413, "RequestEntityTooLargeException", message)
    # Nothing was created, and the emulator still serves the API.
    assert lam.list_functions()["Functions"] == []


def test_members_botocore_would_not_send_are_ignored(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    body = {
        "FunctionName": "raw",
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(python_zip()).decode()},
        "NotAMember": {"x": 1},
    }
    answer = emu.request(
        "POST",
        "/2015-03-31/functions",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    assert answer.status == 201, answer.body
    assert "NotAMember" not in answer.json()
    garbage = emu.request("POST", "/2015-03-31/functions", b"{not json")
    assert garbage.status == 400
    assert garbage.header("x-amzn-ErrorType") == "InvalidRequestContentException"


def test_a_request_without_host_gets_addresses_that_reach_the_emulator(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    code = python_zip()
    create(client(emu), "orders", code)
    # HTTP/1.0 needs no Host: the code's address still names the port the request came to.
    with socket.create_connection((emu.host, emu.port), timeout=10) as s:
        s.sendall(b"GET /2015-03-31/functions/orders HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head
    location = json.loads(body)["Code"]["Location"]
    assert location.startswith(f"http://127.0.0.1:{emu.port}/"), location
    with urllib.request.urlopen(location, timeout=10) as download:
        assert download.read() == code
