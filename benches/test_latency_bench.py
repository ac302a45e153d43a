"""Warm invoke round trip through lambda-rie at 128 B, 64 KB, 1 MB and 6 MB (the event echoed
back), measured with `wrk` over one kept-alive connection and with a kept-alive Python client;
CPU per warm invocation of lambda-rie and its runtime process; the in-process floor.

The same echo handler (`examples/bench/echo.py`) runs under the built-in runtime and under
awslambdaric in the same run, and the floor (decode, call, encode in this process) beside
them, so that ratios hold on a noisy machine. lambda-rie is the native binary here; the console
script serves through the same core.

A `wrk` benchmark's time is one wrk run of `WRK_SECONDS`; its figures are wrk's own, in
`extra_info` (p50/p90/p99/max in ms, invocations per second). Without `wrk` on PATH the smoke
run checks the echo once with the Python client and records `wrk: absent`; a timed run skips.
Every result records whether the answers were correct.

With LAMBDA_RIE_BENCH_RIE=/path/to/aws-lambda-rie, AWS's emulator serving the same handler with
awslambdaric is a third `runtime` (`aws-rie`), measured by the same tests; without it, it skips.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import (
    AWS_RIE_ABSENT,
    BENCH_HANDLERS,
    NATIVE,
    RUNTIMES,
    SIZES,
    KeepAliveClient,
    aws_rie_binary,
    compile_handlers,
    echoed,
    event_of,
    in_process_call,
    run_wrk,
    start_aws_rie,
    start_emulator,
    tree_cpu_seconds,
    wrk_binary,
    wrk_version,
)
from harness import Emulator, EmulatorFactory

WRK_SECONDS = {"timed": 3, "smoke": 1}
CPU_INVOCATIONS = {"timed": 2000, "smoke": 50}
CPU_ROUNDS = 3
SIZE_IDS = sorted(SIZES, key=SIZES.__getitem__)


def mode(benchmark: BenchmarkFixture) -> str:
    """`smoke` under the normal test run (--benchmark-disable), `timed` under `make bench`."""
    return "smoke" if benchmark.disabled else "timed"


#: lambda-rie's runtimes, and AWS's emulator with awslambdaric (when LAMBDA_RIE_BENCH_RIE is set).
AWS_RIE = "aws-rie"


@pytest.fixture(scope="module", params=[*RUNTIMES, AWS_RIE])
def runtime(request: pytest.FixtureRequest) -> str:
    if request.param == AWS_RIE and aws_rie_binary() is None:
        pytest.skip(AWS_RIE_ABSENT)
    return str(request.param)


@pytest.fixture(scope="module")
def echo(runtime: str) -> Iterator[Emulator]:
    """One emulator per runtime serving the echo handler, warm before any figure is taken."""
    compile_handlers()
    factory = EmulatorFactory(NATIVE)
    try:
        binary = aws_rie_binary()
        if runtime == AWS_RIE and binary is not None:
            emulator = start_aws_rie(binary)
            factory.started.append(emulator)
        else:
            emulator = start_emulator(factory, runtime)
        client = KeepAliveClient(emulator)
        assert client.invoke(b"{}")[0] == 200  # the cold start stays out of the figures
        client.close()
        yield emulator
    finally:
        factory.close()


@pytest.mark.parametrize("size", SIZE_IDS)
def test_round_trip_python_client(
    benchmark: BenchmarkFixture, runtime: str, echo: Emulator, size: str
) -> None:
    event = event_of(SIZES[size])
    client = KeepAliveClient(echo)
    try:
        client.invoke(event)  # untimed: the first request of this size on this connection
        status, body = benchmark(client.invoke, event)
    finally:
        client.close()
    correct = echoed(status, body, event)
    benchmark.extra_info.update(runtime=runtime, event_bytes=len(event), correct=correct)
    assert correct, (status, body[:200])


@pytest.mark.parametrize("size", SIZE_IDS)
def test_round_trip_wrk(
    benchmark: BenchmarkFixture, runtime: str, echo: Emulator, size: str
) -> None:
    event = event_of(SIZES[size])
    binary = wrk_binary()
    benchmark.extra_info.update(runtime=runtime, event_bytes=len(event))
    if binary is None:
        benchmark.extra_info["wrk"] = "absent"
        if not benchmark.disabled:
            pytest.skip("wrk is not installed (apt-get install wrk)")
        client = KeepAliveClient(echo)
        try:
            status, body = benchmark(client.invoke, event)
        finally:
            client.close()
        benchmark.extra_info["correct"] = echoed(status, body, event)
        assert benchmark.extra_info["correct"], (status, body[:200])
        return
    seconds = WRK_SECONDS[mode(benchmark)]
    run = benchmark.pedantic(run_wrk, args=(binary, echo, event, seconds), rounds=1)
    # wrk counts non-2xx answers; the answer's content is checked once with the Python client.
    client = KeepAliveClient(echo)
    try:
        status, body = client.invoke(event)
    finally:
        client.close()
    correct = run.errors == 0 and run.requests > 0 and echoed(status, body, event)
    benchmark.extra_info.update(run.figures(), wrk=wrk_version(binary), correct=correct)
    assert correct, (run, status, body[:200])


def test_cpu_per_warm_invocation(benchmark: BenchmarkFixture, runtime: str, echo: Emulator) -> None:
    """User + system CPU of lambda-rie and of its runtime process, per 128-byte echo."""
    event = event_of(SIZES["128B"])
    count = CPU_INVOCATIONS[mode(benchmark)]
    client = KeepAliveClient(echo)
    answers: list[tuple[int, bytes]] = []

    def invocations() -> None:
        answers.extend(client.invoke(event) for _ in range(count))

    try:
        before = tree_cpu_seconds(echo)
        benchmark.pedantic(invocations, rounds=CPU_ROUNDS, iterations=1)
        after = tree_cpu_seconds(echo)
    finally:
        client.close()
    emulator_us, runtime_us = ((b - a) * 1e6 / len(answers) for a, b in zip(before, after))
    correct = all(echoed(status, body, event) for status, body in answers)
    benchmark.extra_info.update(
        runtime=runtime,
        invocations=len(answers),
        emulator_cpu_us_per_invocation=round(emulator_us, 1),
        runtime_cpu_us_per_invocation=round(runtime_us, 1),
        cpu_us_per_invocation=round(emulator_us + runtime_us, 1),
        correct=correct,
    )
    assert correct


def load_echo_handler() -> Callable[[Any, Any], Any]:
    spec = importlib.util.spec_from_file_location("bench_echo", BENCH_HANDLERS / "echo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Callable[[Any, Any], Any] = module.handler
    return handler


@pytest.mark.parametrize("size", SIZE_IDS)
def test_in_process_floor(benchmark: BenchmarkFixture, size: str) -> None:
    """Decode the event, call the handler, encode the result: no process, no HTTP."""
    event = event_of(SIZES[size])
    body = benchmark(in_process_call, load_echo_handler(), event)
    correct = echoed(200, body, event)
    benchmark.extra_info.update(runtime="in-process", event_bytes=len(event), correct=correct)
    assert correct
