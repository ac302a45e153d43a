"""`Event` invocations: intake (202 answers per second) and drain (events run per second) of a
no-op function with 4 execution environments, all warm before timing starts.

One round sends its events from 4 keep-alive connections (intake: first request to last 202),
then waits until the emulator's `lambda_rie_async_events_total{outcome="success"}` counts every
one of them (drain: first request to last event run). Under the normal test run
(`--benchmark-disable`) one short round runs, as a smoke test; `make bench` times it. The rates
and whether every event was accepted and run exactly once go in `extra_info`.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from harness import ROOT, Emulator, EmulatorFactory
from test_functions_config import write_config
from test_scheduler import metrics

ENVIRONMENTS = 4
CONNECTIONS = 4
TIMED_EVENTS = 2000
SMOKE_EVENTS = 40
ROUNDS = 3
HTTP_TIMEOUT_S = 60.0
DRAIN_DEADLINE_S = 120.0
FUNCTION = "sink"
PATH = f"/2015-03-31/functions/{FUNCTION}/invocations"
SUCCESS = "lambda_rie_async_events_total"


@dataclass
class Round:
    """What one round measured."""

    events: int
    intake_s: float = 0.0
    drain_s: float = 0.0
    correct: bool = True


def succeeded(emulator: Emulator) -> float:
    return metrics(emulator)(SUCCESS, FUNCTION, outcome="success")


def send(emulator: Emulator, events: int, result: Round) -> None:
    """Each connection sends its share of `events` as `Event` invokes; all must be 202."""
    lock = threading.Lock()
    start = threading.Barrier(CONNECTIONS + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=HTTP_TIMEOUT_S)
        accepted = 0
        try:
            conn.connect()
            start.wait(timeout=HTTP_TIMEOUT_S)
            for n in range(index, events, CONNECTIONS):
                body = json.dumps({"n": n}).encode()
                conn.request("POST", PATH, body=body, headers={"X-Amz-Invocation-Type": "Event"})
                answer = conn.getresponse()
                answer.read()
                accepted += answer.status == 202
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError):
            pass
        finally:
            conn.close()
        with lock:
            result.correct = result.correct and accepted == len(range(index, events, CONNECTIONS))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    start.wait(timeout=HTTP_TIMEOUT_S)
    for thread in threads:
        thread.join(HTTP_TIMEOUT_S)


def one_round(emulator: Emulator, events: int) -> Round:
    result = Round(events)
    before = succeeded(emulator)
    began = time.perf_counter()
    send(emulator, events, result)
    result.intake_s = time.perf_counter() - began
    deadline = began + DRAIN_DEADLINE_S
    while succeeded(emulator) < before + events and time.perf_counter() < deadline:
        time.sleep(0.005)
    result.drain_s = time.perf_counter() - began
    result.correct = result.correct and succeeded(emulator) == before + events
    return result


def test_event_intake_and_drain(
    benchmark: BenchmarkFixture, emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = write_config(tmp_path, {FUNCTION: {"handler": "many.work"}})
    emulator = emulator_factory(
        ["--config", str(config), "--max-environments", str(ENVIRONMENTS)], cwd=ROOT
    )
    events = SMOKE_EVENTS if benchmark.disabled else TIMED_EVENTS
    # Untimed: a round that starts every environment, so that cold starts stay out of the figures.
    assert one_round(emulator, ENVIRONMENTS * 4).correct, "warm-up lost an event"

    rounds: list[Round] = []
    benchmark.pedantic(
        lambda: rounds.append(one_round(emulator, events)), rounds=ROUNDS, iterations=1
    )
    correct = all(r.correct for r in rounds)
    benchmark.extra_info["environments"] = ENVIRONMENTS
    benchmark.extra_info["events_per_round"] = events
    benchmark.extra_info["intake_per_second"] = round(
        statistics.median(events / r.intake_s for r in rounds), 1
    )
    benchmark.extra_info["drain_per_second"] = round(
        statistics.median(events / r.drain_s for r in rounds), 1
    )
    benchmark.extra_info["correct"] = correct
    assert correct, "an event was refused, lost or run twice"
