"""Invoke benchmarks with awslambdaric as the runtime: warm round trip and launch to first answer.

Under the normal test run (`--benchmark-disable`) each runs once, as a smoke test; `make bench`
times them. Each records whether the answer was correct beside the time.
"""

from __future__ import annotations

import json

from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import measure_warm_round_trip
from harness import Emulator, EmulatorFactory, Response, awslambdaric

# A 128-byte JSON event.
EVENT = json.dumps({"payload": "x" * 113}).encode()
assert len(EVENT) == 128
LAUNCH_ROUNDS = 20


def test_warm_invoke_round_trip(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory
) -> None:
    emulator = emulator_factory(awslambdaric("app.handler"))
    correct = measure_warm_round_trip(benchmark, emulator, EVENT)
    benchmark.extra_info["correct"] = correct
    benchmark.extra_info["event_bytes"] = len(EVENT)
    assert correct


def test_launch_to_first_answer(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory
) -> None:
    previous: list[Emulator] = []

    def stop_previous() -> None:
        # Untimed: the last round's emulator is stopped before the next one starts.
        while previous:
            previous.pop().close()

    def launch() -> Response:
        emulator = emulator_factory(awslambdaric("app.handler"))
        previous.append(emulator)
        return emulator.invoke(EVENT)

    answer = benchmark.pedantic(launch, setup=stop_previous, rounds=LAUNCH_ROUNDS, iterations=1)
    correct = answer.status == 200 and answer.json() == json.loads(EVENT)
    benchmark.extra_info["correct"] = correct
    assert correct, (answer.status, answer.body[:200])
