"""Throughput of a no-op handler with 1, 2 and 4 keep-alive connections and as many environments.

Each connection is a Python thread with its own `http.client` connection; the emulator is
capped at as many environments as there are connections, all warm before timing starts. Under
the normal test run (`--benchmark-disable`) each level runs one short round, as a smoke test;
`make bench` times it. Invocations per second, the warm round trip's p50/p99 and whether every
answer was correct go in `extra_info`.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness import FUNCTIONS, INVOKE_PATH, Emulator, EmulatorFactory, awslambdaric

PROBE_DIR = FUNCTIONS / "scheduler"
# Invokes per connection in one round: timed, and as a smoke test.
TIMED_INVOKES = 500
SMOKE_INVOKES = 20
ROUNDS = 5
HTTP_TIMEOUT_S = 60.0


@dataclass
class Round:
    """What one round of every connection sending its share of invokes measured."""

    invokes: int = 0
    elapsed_s: float = 0.0
    correct: bool = True
    round_trips_s: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.invokes / self.elapsed_s


def one_round(emulator: Emulator, connections: int, per_connection: int) -> Round:
    """Each of `connections` threads sends `per_connection` echo events on one keep-alive link."""
    result = Round(invokes=connections * per_connection)
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=HTTP_TIMEOUT_S)
        round_trips, correct = [], True
        try:
            conn.connect()
            start.wait(timeout=HTTP_TIMEOUT_S)
            for n in range(per_connection):
                event = {"client": index, "n": n}
                sent = time.perf_counter()
                conn.request("POST", INVOKE_PATH, body=json.dumps(event).encode())
                answer = conn.getresponse()
                body = answer.read()
                round_trips.append(time.perf_counter() - sent)
                correct = correct and answer.status == 200 and json.loads(body) == event
        except (OSError, http.client.HTTPException, ValueError, threading.BrokenBarrierError):
            correct = False
        finally:
            conn.close()
        with lock:
            result.correct = result.correct and correct and len(round_trips) == per_connection
            result.round_trips_s += round_trips

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    start.wait(timeout=HTTP_TIMEOUT_S)
    began = time.perf_counter()
    for thread in threads:
        thread.join(HTTP_TIMEOUT_S * per_connection)
    result.elapsed_s = time.perf_counter() - began
    return result


def percentile_ms(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 3)


@pytest.mark.parametrize("connections", [1, 2, 4])
def test_no_op_throughput(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory, connections: int
) -> None:
    emulator = emulator_factory(
        ["--max-environments", str(connections), *awslambdaric("probe.handler")], cwd=PROBE_DIR
    )
    per_connection = SMOKE_INVOKES if benchmark.disabled else TIMED_INVOKES
    # Untimed: a round that warms every environment, so that cold starts stay out of the figures.
    assert one_round(emulator, connections, SMOKE_INVOKES).correct, "warm-up got a wrong answer"

    rounds: list[Round] = []
    benchmark.pedantic(
        lambda: rounds.append(one_round(emulator, connections, per_connection)),
        rounds=ROUNDS,
        iterations=1,
    )
    correct = all(r.correct for r in rounds)
    round_trips = [sample for r in rounds for sample in r.round_trips_s]
    benchmark.extra_info["connections"] = connections
    benchmark.extra_info["invocations_per_round"] = connections * per_connection
    benchmark.extra_info["invocations_per_second"] = round(
        statistics.median(r.rate for r in rounds), 1
    )
    benchmark.extra_info["round_trip_p50_ms"] = percentile_ms(round_trips, 0.50)
    benchmark.extra_info["round_trip_p99_ms"] = percentile_ms(round_trips, 0.99)
    benchmark.extra_info["correct"] = correct
    assert correct, "a round got a wrong or missing answer"
