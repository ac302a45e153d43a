"""Helpers of the control-plane tests: zips built in the test, a boto3 client, a function."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Optional

from harness import DEFAULT_ACCOUNT, DEFAULT_REGION, FUNCTIONS, Emulator, lambda_client

ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/lambda-role"
ARN_PREFIX = f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CURL_BOOTSTRAP = (FUNCTIONS / "curl_runtime" / "bootstrap").read_text()


def handler_source(tag: str) -> str:
    """A Python handler that answers `tag`, the event, its version and an env variable."""
    return (
        "import os\n\n"
        "def handler(event, context):\n"
        f"    return {{'tag': {tag!r}, 'event': event,"
        " 'version': context.function_version, 'color': os.environ.get('COLOR')}\n"
    )


def zip_bytes(files: dict[str, str | bytes], modes: Optional[dict[str, int]] = None) -> bytes:
    """A zip of `files` (name -> content), with unix modes where given (default 0644)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | (modes or {}).get(name, 0o644)) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def python_zip(tag: str = "v1") -> bytes:
    return zip_bytes({"app.py": handler_source(tag)})


def code_sha256(data: bytes) -> str:
    """AWS's `CodeSha256`: base64 of SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def client(emulator: Emulator) -> Any:
    return lambda_client(emulator.url)


def create(lam: Any, name: str, zip_file: Optional[bytes] = None, **extra: Any) -> dict[str, Any]:
    """CreateFunction of a python3.12 `app.handler` (or what `extra` says)."""
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": zip_file if zip_file is not None else python_zip()},
    }
    params.update(extra)
    result: dict[str, Any] = lam.create_function(**params)
    return result


def invoke(lam: Any, name: str, event: Any = None, **extra: Any) -> tuple[Any, dict[str, Any]]:
    """Invoke `name`; the decoded payload and the whole answer."""
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **extra)
    return json.loads(answer["Payload"].read()), answer


def error_of(exc: Any) -> tuple[int, str, str]:
    """(status, code, message) of a botocore ClientError."""
    response = exc.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def state_args(state_dir: Path, *more: str) -> list[str]:
    return ["--state-dir", str(state_dir), *more]
