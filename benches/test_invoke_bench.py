"""Invoke benchmarks with awslambdaric as the runtime: warm round trip and launch to first answer.

Under the normal test run (`--benchmark-disable`) each runs once, as a smoke test; `make bench`
times them. Each records whether the answer was correct beside the time.
"""

from __future__ import annotations

import http.client
import json

from pytest_benchmark.fixture import BenchmarkFixture

from harness import INVOKE_PATH, Emulator, EmulatorFactory, Response, awslambdaric

# A 128-byte JSON event.
EVENT = json.dumps({"payload": "x" * 113}).encode()
assert len(EVENT) == 128
LAUNCH_ROUNDS = 20


def test_warm_invoke_round_trip(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory
) -> None:
    emulator = emulator_factory(awslambdaric("app.handler"))
    conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=60)

    def invoke() -> tuple[int, bytes]:
        conn.request("POST", INVOKE_PATH, body=EVENT)
        answer = conn.getresponse()
        return answer.status, answer.read()

    try:
        assert invoke()[0] == 200  # the cold start stays out of the figures
        status, body = benchmark(invoke)
    finally:
        conn.close()
    correct = status == 200 and json.loads(body) == json.loads(EVENT)
    benchmark.extra_info["correct"] = correct
    benchmark.extra_info["event_bytes"] = len(EVENT)
    assert correct, (status, body[:200])


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
