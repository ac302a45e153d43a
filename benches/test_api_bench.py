"""The Python API: in-process `invoke` against the HTTP path and a plain call of the handler;
emulator start-up (no environment yet) and the first invoke (a cold start).

Under the normal test run (`--benchmark-disable`) each runs once, as a smoke test; `make bench`
times them. Each records whether the answer was correct beside the time.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from lambda_rie import Emulator, Function, InvokeResult

BENCH_HANDLERS = Path(__file__).resolve().parent.parent / "examples" / "bench"
ECHO = Function("echo", handler="echo.handler", code_dir=BENCH_HANDLERS)
# A 128-byte JSON event.
EVENT = {"payload": "x" * 114}
EVENT_JSON = orjson.dumps(EVENT)
assert len(EVENT_JSON) == 128
INVOKE_PATH = "/2015-03-31/functions/echo/invocations"
START_ROUNDS = 50
COLD_ROUNDS = 20
CONCURRENT = 20
HTTP_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def warm() -> Iterator[Emulator]:
    """An emulator whose `echo` environment is warm."""
    with Emulator([ECHO], max_environments=CONCURRENT) as emulator:
        emulator.invoke("echo", EVENT)
        yield emulator


def _record(benchmark: BenchmarkFixture, correct: bool) -> None:
    benchmark.extra_info["correct"] = correct
    benchmark.extra_info["event_bytes"] = len(EVENT_JSON)
    assert correct


def test_in_process_invoke_warm(benchmark: BenchmarkFixture, warm: Emulator) -> None:
    result = benchmark(warm.invoke, "echo", EVENT)
    _record(benchmark, result.json() == EVENT and not result.cold_start)


def test_http_invoke_warm(benchmark: BenchmarkFixture, warm: Emulator) -> None:
    host, port = warm.endpoint_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT_S)

    def invoke() -> tuple[int, bytes]:
        conn.request("POST", INVOKE_PATH, body=EVENT_JSON)
        answer = conn.getresponse()
        return answer.status, answer.read()

    try:
        status, body = benchmark(invoke)
    finally:
        conn.close()
    _record(benchmark, status == 200 and orjson.loads(body) == EVENT)


def test_boto3_invoke_warm(benchmark: BenchmarkFixture, warm: Emulator) -> None:
    boto3 = pytest.importorskip("boto3")
    config = pytest.importorskip("botocore.config").Config(retries={"total_max_attempts": 1})
    client = boto3.client(
        "lambda",
        endpoint_url=warm.endpoint_url,
        region_name=warm.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )

    def invoke() -> Any:
        return orjson.loads(
            client.invoke(FunctionName="echo", Payload=EVENT_JSON)["Payload"].read()
        )

    try:
        answer = benchmark(invoke)
    finally:
        client.close()
    _record(benchmark, answer == EVENT)


def test_direct_python_call(benchmark: BenchmarkFixture) -> None:
    spec = importlib.util.spec_from_file_location("bench_echo", BENCH_HANDLERS / "echo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer = benchmark(module.handler, EVENT, None)
    _record(benchmark, answer == EVENT)


def test_concurrent_ainvokes_warm(benchmark: BenchmarkFixture, warm: Emulator) -> None:
    async def batch() -> list[InvokeResult]:
        return await asyncio.gather(*(warm.ainvoke("echo", EVENT) for _ in range(CONCURRENT)))

    asyncio.run(batch())  # every environment of the batch exists before timing
    results = benchmark(lambda: asyncio.run(batch()))
    benchmark.extra_info["invocations"] = CONCURRENT
    _record(benchmark, all(r.json() == EVENT for r in results))


def test_emulator_start_up(benchmark: BenchmarkFixture) -> None:
    started: list[Emulator] = []

    def stop_previous() -> None:
        # Untimed: the last round's emulator is stopped before the next one starts.
        while started:
            started.pop().close()

    def start() -> Emulator:
        emulator = Emulator([ECHO])
        started.append(emulator)
        return emulator

    try:
        emulator = benchmark.pedantic(start, setup=stop_previous, rounds=START_ROUNDS)
        _record(benchmark, emulator.endpoint_url.startswith("http://127.0.0.1:"))
    finally:
        stop_previous()


def test_first_invoke(benchmark: BenchmarkFixture) -> None:
    started: list[Emulator] = []

    def fresh_emulator() -> tuple[tuple[Emulator], dict[str, Any]]:
        # Untimed: stop the last round's emulator and start one with no environment yet.
        while started:
            started.pop().close()
        started.append(Emulator([ECHO]))
        return (started[-1],), {}

    def first_invoke(emulator: Emulator) -> InvokeResult:
        return emulator.invoke("echo", EVENT)

    try:
        result = benchmark.pedantic(first_invoke, setup=fresh_emulator, rounds=COLD_ROUNDS)
        benchmark.extra_info["init_duration_ms"] = result.init_duration_ms
        _record(benchmark, result.json() == EVENT and result.cold_start)
    finally:
        while started:
            started.pop().close()
