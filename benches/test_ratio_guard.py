"""Ratio guard: the built-in runtime must not be slower than awslambdaric.

Two figures, each taken for lambda-rie + built-in runtime and lambda-rie + awslambdaric in the
same run, on the same machine, interleaved call by call (ABBA order) so that load from anything
else falls on both alike:

- warm invoke round trip: `WARM_CALLS` 128-byte echoes to each, one kept-alive Python client per
  emulator (`examples/bench/echo.py`, the cold start left out);
- environment cold start: `COLD_STARTS` fresh lambda-rie processes per runtime, the first
  invocation's arrival to its answer (as in `test_startup_bench.py`; one warm-up round each,
  left out).

A test fails only when the median of the built-in runtime over the median of awslambdaric is
above 1 in `ATTEMPTS` measurements in a row (a load spike on a shared machine can tip one
measurement; a regression tips them all): never on an absolute time. The ratios and medians are
in `extra_info` and printed (`-s`). The same rounds run in the CI smoke run
(`--benchmark-disable`): the guard is the point there, and they take a few seconds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import (
    NATIVE,
    RUNTIMES,
    KeepAliveClient,
    StartUps,
    compile_handlers,
    echoed,
    event_of,
    lambda_rie_launcher,
    start_emulator,
)
from harness import EmulatorFactory

WARM_CALLS = 500
COLD_STARTS = 15
#: Measurements before a ratio above 1 fails the guard (each one is taken only after a failure).
ATTEMPTS = 3
EVENT = event_of(128)
OURS, THEIRS = "builtin", "awslambdaric"


def ratio_order(round_index: int) -> list[str]:
    """ABBA: which runtime goes first alternates, so neither always follows the other."""
    return list(RUNTIMES) if round_index % 2 == 0 else list(reversed(RUNTIMES))


@pytest.fixture
def factory() -> Iterator[EmulatorFactory]:
    compile_handlers()
    started = EmulatorFactory(NATIVE)
    yield started
    started.close()


Samples = dict[str, list[float]]


def judge(benchmark: BenchmarkFixture, figure: str, measure: Callable[[], Samples]) -> None:
    """Measure; when the built-in runtime's median over awslambdaric's is above 1, measure again,
    up to `ATTEMPTS` in all, and fail only if every attempt was above 1. The medians and ratios
    go in `extra_info` and are printed."""
    ratios: list[float] = []
    while len(ratios) < ATTEMPTS:
        samples = benchmark.pedantic(measure, rounds=1) if not ratios else measure()
        medians = {runtime: statistics.median(samples[runtime]) for runtime in RUNTIMES}
        ratios.append(round(medians[OURS] / medians[THEIRS], 3))
        benchmark.extra_info.update(
            figure=figure,
            samples_per_runtime=len(samples[OURS]),
            builtin_median_ms=round(medians[OURS], 4),
            awslambdaric_median_ms=round(medians[THEIRS], 4),
            ratio=ratios[-1],
            ratios=ratios,
        )
        print(f"\nratio guard: {dict(benchmark.extra_info)}")
        if ratios[-1] <= 1:
            return
    raise AssertionError(
        f"the built-in runtime is slower than awslambdaric ({figure}, {ATTEMPTS} measurements, "
        f"median ratios {ratios})"
    )


def test_warm_round_trip_ratio(benchmark: BenchmarkFixture, factory: EmulatorFactory) -> None:
    clients = {runtime: KeepAliveClient(start_emulator(factory, runtime)) for runtime in RUNTIMES}
    wrong: list[tuple[str, int, bytes]] = []

    def interleaved() -> Samples:
        samples: Samples = {runtime: [] for runtime in RUNTIMES}
        for index in range(WARM_CALLS):
            for runtime in ratio_order(index):
                started = time.perf_counter()
                status, body = clients[runtime].invoke(EVENT)
                samples[runtime].append((time.perf_counter() - started) * 1000)
                if not echoed(status, body, EVENT):
                    wrong.append((runtime, status, body[:200]))
        return samples

    try:
        for client in clients.values():  # the cold starts stay out of the figures
            for _ in range(5):
                client.invoke(EVENT)
        judge(benchmark, "warm round trip, 128 B", interleaved)
    finally:
        for client in clients.values():
            client.close()
        benchmark.extra_info["correct"] = not wrong
    assert not wrong, wrong


def test_cold_start_ratio(benchmark: BenchmarkFixture, factory: EmulatorFactory) -> None:
    def interleaved() -> Samples:
        rounds = {
            runtime: StartUps(lambda_rie_launcher(factory, runtime, "echo.handler"))
            for runtime in RUNTIMES
        }
        try:
            for index in range(COLD_STARTS + 1):
                for runtime in ratio_order(index):
                    for previous in rounds.values():
                        previous.stop_previous()  # one lambda-rie at a time
                    rounds[runtime].launch()
        finally:
            for started in rounds.values():
                started.stop_previous()
        wrong.extend(runtime for runtime, started in rounds.items() if not started.correct)
        # The first round of each runtime is its warm-up: left out.
        return {runtime: rounds[runtime].environment_cold_start_ms[1:] for runtime in RUNTIMES}

    wrong: list[str] = []
    try:
        judge(benchmark, "environment cold start", interleaved)
    finally:
        benchmark.extra_info["correct"] = not wrong
    assert not wrong, f"wrong answers from {wrong}"
