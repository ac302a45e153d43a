"""The control plane's figures, against the native binary with a temporary store:

- CreateFunction of a 5 MB zip (incompressible) and the first invocation's answer;
- UpdateFunctionCode of the same size and the first invocation after it (a cold start);
- ListFunctions of one 50-item page with 1,000 functions stored (raw HTTP, no SDK parsing).
"""

from __future__ import annotations

import base64
import http.client
import io
import itertools
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import NATIVE
from harness import DEFAULT_ACCOUNT, Emulator, EmulatorFactory

ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/bench"
HANDLER = "def handler(event, context):\n    return event\n"
_names = itertools.count()


def zip_of(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
        archive.writestr("blob.bin", os.urandom(size))
    return buffer.getvalue()


class Api:
    """One kept-alive connection to the Lambda API."""

    def __init__(self, emu: Emulator) -> None:
        self._conn = http.client.HTTPConnection(emu.host, emu.port, timeout=60)

    def close(self) -> None:
        self._conn.close()

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        self._conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        answer = self._conn.getresponse()
        return answer.status, answer.read()

    def create(self, name: str, encoded: bytes) -> None:
        """CreateFunction of the zip whose base64 is `encoded` (encoded outside the timing)."""
        head = {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE}
        body = json.dumps(head)[:-1].encode() + b', "Handler": "app.handler", "Code": {"ZipFile": "'
        status, answer = self.call("POST", "/2015-03-31/functions", body + encoded + b'"}}')
        assert status == 201, answer

    def invoke(self, name: str) -> None:
        status, body = self.call("POST", f"/2015-03-31/functions/{name}/invocations", {"k": 1})
        assert (status, json.loads(body)) == (200, {"k": 1})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    factory = EmulatorFactory(NATIVE)
    emu = factory(["--state-dir", str(tmp_path)])
    api = Api(emu)
    yield api
    api.close()
    factory.close()


def test_create_function_of_5mb_and_first_answer(benchmark: BenchmarkFixture, api: Api) -> None:
    code = base64.b64encode(zip_of(5 * 1024 * 1024))

    def create_and_invoke() -> None:
        name = f"bench-{next(_names)}"
        api.create(name, code)
        api.invoke(name)

    benchmark.pedantic(create_and_invoke, rounds=10, iterations=1)


def test_update_function_code_of_5mb_and_first_answer(
    benchmark: BenchmarkFixture, api: Api
) -> None:
    api.create("updated", base64.b64encode(zip_of(1024)))
    api.invoke("updated")
    codes = itertools.cycle(
        [b'{"ZipFile": "' + base64.b64encode(zip_of(5 * 1024 * 1024)) + b'"}' for _ in range(2)]
    )

    def update_and_invoke() -> None:
        status, body = api.call("PUT", "/2015-03-31/functions/updated/code", next(codes))
        assert status == 200, body
        api.invoke("updated")

    benchmark.pedantic(update_and_invoke, rounds=10, iterations=1)


def test_list_functions_page_of_50_among_1000(benchmark: BenchmarkFixture, api: Api) -> None:
    code = base64.b64encode(zip_of(128))
    for i in range(1000):
        api.create(f"listed-{i:04d}", code)

    def page() -> None:
        status, body = api.call("GET", "/2015-03-31/functions/?MaxItems=50")
        assert status == 200
        assert len(json.loads(body)["Functions"]) == 50

    benchmark(page)
