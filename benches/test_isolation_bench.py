"""Cost of resource isolation: environment cold start and warm round trip with the isolation
mechanisms on and forced off (`LAMBDA_RIE_ISOLATION=off`), and a CPU-bound loop's duration at
885 MB versus 1769 MB with `--cpu-by-memory` (half a vCPU versus one).

Under the normal test run (`--benchmark-disable`) each runs once, as a smoke test; `make bench`
times them. Each records whether the answer was correct and which mechanisms were active.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import measure_warm_round_trip
from harness import FUNCTIONS, Emulator, EmulatorFactory, Response, clean_env

HANDLERS = FUNCTIONS / "isolation"
HANDLER = "isolation_handlers.handler"
EVENT = json.dumps({"payload": "x" * 113}).encode()
COLD_ROUNDS = 10
SPIN_ROUNDS = 5
# NOTE: ~0.2 s of CPU in CPython: two CFS periods (100 ms), so the quota shows in the wall time.
SPIN_ITERATIONS = 6_000_000
SPIN_TOTAL = (SPIN_ITERATIONS - 1) * SPIN_ITERATIONS * (2 * SPIN_ITERATIONS - 1) // 6

ISOLATION = {"on": None, "off": {"LAMBDA_RIE_ISOLATION": "off"}}


def start(factory: EmulatorFactory, args: list[str], isolation: str = "on") -> tuple[Emulator, str]:
    """An emulator serving the isolation handlers with the built-in runtime; its start-up line."""
    extra: Optional[dict[str, str]] = ISOLATION[isolation]
    emulator = factory([*args, HANDLER], cwd=HANDLERS, env=clean_env(extra))
    line = emulator.stderr.wait_for(r"\(lambda-rie\) Isolation: ").string
    return emulator, line[line.index("Isolation: ") :]


def echoed(answer: Response) -> bool:
    return (
        answer.status == 200
        and answer.header("X-Amz-Function-Error") is None
        and answer.json() == json.loads(EVENT)
    )


@pytest.mark.parametrize("isolation", sorted(ISOLATION))
def test_environment_cold_start(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory, isolation: str
) -> None:
    """Invoke arrival with no idle environment → answer (sandbox set-up, runtime start, init)."""
    lines: list[str] = []
    previous: list[Emulator] = []

    def fresh_emulator() -> tuple[tuple[Emulator], dict[str, Any]]:
        # Untimed: the last round's emulator stops, a new one starts with no environment yet.
        while previous:
            previous.pop().close()
        emulator, line = start(emulator_factory, [], isolation)
        previous.append(emulator)
        lines.append(line)
        return (emulator,), {}

    def first_invoke(emulator: Emulator) -> Response:
        return emulator.invoke(EVENT)

    answer = benchmark.pedantic(
        first_invoke, setup=fresh_emulator, rounds=COLD_ROUNDS, iterations=1
    )
    correct = echoed(answer)
    benchmark.extra_info["correct"] = correct
    benchmark.extra_info["isolation"] = lines[-1]
    assert correct, (answer.status, answer.body[:200])


@pytest.mark.parametrize("isolation", sorted(ISOLATION))
def test_warm_round_trip(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory, isolation: str
) -> None:
    emulator, line = start(emulator_factory, [], isolation)
    correct = measure_warm_round_trip(benchmark, emulator, EVENT)
    benchmark.extra_info["correct"] = correct
    benchmark.extra_info["isolation"] = line
    assert correct


@pytest.mark.parametrize("memory", [885, 1769])
def test_cpu_bound_loop_with_cpu_by_memory(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory, memory: int
) -> None:
    """The same loop at half a vCPU and at one vCPU: the wall time should roughly double."""
    emulator, line = start(emulator_factory, ["--cpu-by-memory", "--memory", str(memory)])
    event = {"action": "spin", "n": SPIN_ITERATIONS}
    assert emulator.invoke(event).status == 200  # the cold start stays out of the figures

    def spin() -> Response:
        return emulator.invoke(event)

    answer = benchmark.pedantic(spin, rounds=SPIN_ROUNDS, iterations=1)
    result = answer.json()
    correct = (
        answer.status == 200
        and answer.header("X-Amz-Function-Error") is None
        and result["total"] == SPIN_TOTAL
    )
    benchmark.extra_info["correct"] = correct
    benchmark.extra_info["isolation"] = line
    benchmark.extra_info["vcpus"] = round(memory / 1769, 3)
    benchmark.extra_info["handler_wall_s"] = round(result["wall_s"], 4)
    benchmark.extra_info["handler_cpu_s"] = round(result["cpu_s"], 4)
    assert correct, (answer.status, answer.body[:200])
