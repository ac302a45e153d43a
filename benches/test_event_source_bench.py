"""SQS event source mappings against a moto server on 127.0.0.1, served by the native binary:

- throughput: N messages sent beforehand, then a mapping is created; messages per second from
  the mapping's creation to the end of the handler call that handled the last one, for
  BatchSize 10 (window 0) and BatchSize 100 (MaximumBatchingWindowInSeconds 1);
- the CPU time of lambda-rie's own process (the pollers, and the Runtime API the function talks
  to; not its runtime processes) per record over the same interval, beside moto server's;
- latency: from SendMessage to the handler's start, one message at a time (BatchSize 1,
  window 0), p50 and p95 of the samples.

N is 200 in the normal test run (`--benchmark-disable`, one round as a smoke test) and 2000
with `LAMBDA_RIE_STRESS=full` or timings on (`make bench`); `LAMBDA_RIE_ESM_MESSAGES` sets it.
Every figure goes in `extra_info` with whether every message was handled exactly once, is
printed on one line, and is written to `target/bench/event_sources.json` (timed runs) or
`target/bench/event_sources.smoke.json` (smoke runs, so they never overwrite a timed result).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from aws_support import MotoServer, moto_server, queue_arn, records_log
from bench_support import NATIVE, cpu_seconds, tree_cpu_seconds
from harness import ROOT, Emulator, EmulatorFactory, lambda_client

FUNCTIONS = ROOT / "tests" / "functions" / "event_sources"
RESULTS = ROOT / "target" / "bench"
MESSAGES_VARIABLE = "LAMBDA_RIE_ESM_MESSAGES"
WARM_UP_MESSAGES = 50
DRAIN_DEADLINE_S = 240.0
SAMPLE_DEADLINE_S = 30.0


def timed_or_full(benchmark: BenchmarkFixture) -> bool:
    """Timings on, or the stress size asked for (see `stress_size` in tests/harness.py)."""
    return not benchmark.disabled or os.environ.get("LAMBDA_RIE_STRESS") == "full"


def message_count(benchmark: BenchmarkFixture) -> int:
    override = os.environ.get(MESSAGES_VARIABLE)
    if override:
        return int(override)
    return 2000 if timed_or_full(benchmark) else 200


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, every: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(every)


class Tail:
    """The batches a handler logged (tests/functions/event_sources/app.py), read as they come:
    each look reads only what was appended since the last one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.batches: list[dict[str, Any]] = []
        self.bodies: dict[str, int] = {}

    @property
    def records(self) -> int:
        return sum(self.bodies.values())

    def look(self) -> None:
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            if line.strip():
                batch = json.loads(line)
                self.batches.append(batch)
                for record in batch["records"]:
                    self.bodies[record["body"]] = self.bodies.get(record["body"], 0) + 1

    def has(self, count: int) -> bool:
        self.look()
        return self.records >= count

    def saw(self, body: str) -> bool:
        self.look()
        return body in self.bodies

    def each_once(self, bodies: list[str]) -> bool:
        self.look()
        return self.bodies == dict.fromkeys(bodies, 1)


@dataclass
class Drain:
    """One throughput round: a queue of `messages` drained by a new mapping."""

    messages: int
    elapsed_s: float
    batches: int
    largest_batch: int
    emulator_cpu_s: float
    runtimes_cpu_s: float
    moto_cpu_s: float
    correct: bool

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s


class Site:
    """One emulator serving `app.record`, fed by a mapping on a moto queue."""

    def __init__(self, factory: EmulatorFactory, moto: MotoServer) -> None:
        self.moto = moto
        self.sqs = moto.client("sqs")
        self.log = records_log()
        self.emulator: Emulator = factory(
            ["--code-dir", str(FUNCTIONS), "--timeout", "3", "app.record"],
            env=moto.env({"RECORDS_LOG": str(self.log)}),
        )
        self.lam = lambda_client(self.emulator.url)
        self._queues = 0

    def new_queue(self) -> tuple[str, str]:
        self._queues += 1
        url = self.sqs.create_queue(QueueName=f"bench-{self._queues}")["QueueUrl"]
        return url, queue_arn(self.sqs, url)

    def fill(self, url: str, bodies: list[str]) -> None:
        for i in range(0, len(bodies), 10):
            entries = [{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[i : i + 10])]
            assert not self.sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")

    def depth(self, url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        a = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(a[n]) for n in names)

    def map(self, arn: str, batch_size: int, window_s: int) -> str:
        uuid: str = self.lam.create_event_source_mapping(
            FunctionName="function",
            EventSourceArn=arn,
            BatchSize=batch_size,
            MaximumBatchingWindowInSeconds=window_s,
        )["UUID"]
        return uuid

    def drain(self, messages: int, batch_size: int, window_s: int) -> Drain:
        """Fill a new queue untimed, then time a new mapping emptying it."""
        url, arn = self.new_queue()
        bodies = [f"{url} {n}" for n in range(messages)]
        self.fill(url, bodies)
        tail = Tail(self.log)
        tail.look()
        tail.bodies.clear()
        tail.batches.clear()
        moto_pid = self.moto.process.pid
        emulator_before, runtimes_before = tree_cpu_seconds(self.emulator)
        moto_before = cpu_seconds(moto_pid)
        created = time.time()
        uuid = self.map(arn, batch_size, window_s)
        wait_until(lambda: tail.has(messages), DRAIN_DEADLINE_S, f"{messages} handled", 0.02)
        # NOTE: the last batch is deleted from the queue after its handler returned; that is
        # the poller's work too, so the CPU interval ends with an empty queue.
        wait_until(lambda: self.depth(url) == 0, 30, "the queue is empty", 0.05)
        emulator_after, runtimes_after = tree_cpu_seconds(self.emulator)
        moto_after = cpu_seconds(moto_pid)
        self.lam.delete_event_source_mapping(UUID=uuid)
        ours = [b for b in tail.batches if b["records"] and b["records"][0]["body"].startswith(url)]
        return Drain(
            messages=messages,
            elapsed_s=max(b["end"] for b in ours) - created,
            batches=len(ours),
            largest_batch=max(len(b["records"]) for b in ours),
            emulator_cpu_s=emulator_after - emulator_before,
            runtimes_cpu_s=runtimes_after - runtimes_before,
            moto_cpu_s=moto_after - moto_before,
            correct=tail.each_once(bodies) and len(ours) == len(tail.batches),
        )


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from moto_server()


@pytest.fixture
def factory() -> Iterator[EmulatorFactory]:
    f = EmulatorFactory(NATIVE)
    yield f
    f.close()


@pytest.fixture(scope="module")
def figures() -> Iterator[dict[str, Any]]:
    """What the module measured, written as JSON when it ends."""
    found: dict[str, Any] = {}
    yield found
    if not found:
        return
    timed = any(f.get("mode") == "timed" for f in found.values())
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("event_sources.json" if timed else "event_sources.smoke.json")
    summary = {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "figures": found,
    }
    path.write_text(json.dumps(summary, indent=2) + "\n")


def per_record_us(cpu_s: float, records: int) -> float:
    return round(cpu_s / records * 1e6, 1)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("shape", [(10, 0), (100, 1)], ids=["batch10-window0", "batch100-window1"])
def test_sqs_throughput_and_cpu_per_record(
    benchmark: BenchmarkFixture,
    factory: EmulatorFactory,
    moto: MotoServer,
    figures: dict[str, Any],
    shape: tuple[int, int],
) -> None:
    batch_size, window_s = shape
    site = Site(factory, moto)
    messages = message_count(benchmark)
    # Untimed: a round that starts the function's environments, so cold starts stay out.
    assert site.drain(WARM_UP_MESSAGES, batch_size, window_s).correct, "the warm-up round"

    drains: list[Drain] = []
    benchmark.pedantic(
        lambda: drains.append(site.drain(messages, batch_size, window_s)),
        rounds=1 if benchmark.disabled else 3,
        iterations=1,
    )
    correct = all(d.correct for d in drains)
    records = sum(d.messages for d in drains)
    figure = {
        "mode": "smoke" if benchmark.disabled else "timed",
        "batch_size": batch_size,
        "window_s": window_s,
        "messages_per_round": messages,
        "rounds": len(drains),
        "messages_per_second": round(statistics.median(d.rate for d in drains), 1),
        "emulator_cpu_us_per_record": per_record_us(sum(d.emulator_cpu_s for d in drains), records),
        "moto_cpu_us_per_record": per_record_us(sum(d.moto_cpu_s for d in drains), records),
        "runtimes_cpu_us_per_record": per_record_us(sum(d.runtimes_cpu_s for d in drains), records),
        "batches_per_round": [d.batches for d in drains],
        "largest_batch": max(d.largest_batch for d in drains),
        "rounds_detail": [asdict(d) for d in drains],
        "correct": correct,
    }
    benchmark.extra_info.update({k: v for k, v in figure.items() if k != "rounds_detail"})
    figures[f"sqs_throughput_batch{batch_size}_window{window_s}"] = figure
    print(
        f"\nsqs BatchSize={batch_size} window={window_s}s: {figure['messages_per_second']} msg/s"
        f" ({messages} messages x {len(drains)} rounds, batches {figure['batches_per_round']});"
        f" CPU per record: lambda-rie {figure['emulator_cpu_us_per_record']} us,"
        f" moto {figure['moto_cpu_us_per_record']} us,"
        f" runtimes {figure['runtimes_cpu_us_per_record']} us; correct={correct}"
    )
    assert correct, "a message was lost or handled more than once"
    assert all(d.largest_batch <= batch_size for d in drains)


def percentile_ms(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)


@pytest.mark.timeout(1800)
def test_sqs_latency_from_send_to_handler_start(
    benchmark: BenchmarkFixture, factory: EmulatorFactory, moto: MotoServer, figures: dict[str, Any]
) -> None:
    site = Site(factory, moto)
    url, arn = site.new_queue()
    site.map(arn, batch_size=1, window_s=0)
    tail = Tail(site.log)
    samples = 200 if timed_or_full(benchmark) else 20
    latencies: list[float] = []
    bodies: list[str] = []

    def one_message() -> None:
        body = f"latency {len(bodies)}"
        bodies.append(body)
        sent = time.time()
        site.sqs.send_message(QueueUrl=url, MessageBody=body)
        wait_until(lambda: tail.saw(body), SAMPLE_DEADLINE_S, f"{body} handled", 0.002)
        start = next(b["start"] for b in reversed(tail.batches) if b["records"][0]["body"] == body)
        latencies.append(start - sent)

    one_message()  # untimed: the cold start
    latencies.clear()
    benchmark.pedantic(one_message, rounds=samples, iterations=1)
    # NOTE: with timings off, pytest-benchmark calls the function once; the rest of the samples.
    while len(latencies) < samples:
        one_message()
    time.sleep(0.5)  # room for a duplicate delivery to show
    correct = tail.each_once(bodies) and len(latencies) == samples
    figure = {
        "mode": "smoke" if benchmark.disabled else "timed",
        "samples": len(latencies),
        "send_to_handler_start_p50_ms": percentile_ms(latencies, 0.50),
        "send_to_handler_start_p95_ms": percentile_ms(latencies, 0.95),
        "send_to_handler_start_max_ms": percentile_ms(latencies, 1.0),
        "correct": correct,
    }
    benchmark.extra_info.update(figure)
    figures["sqs_latency_batch1_window0"] = figure
    print(
        f"\nsqs send -> handler start (BatchSize=1, window 0): p50"
        f" {figure['send_to_handler_start_p50_ms']} ms, p95"
        f" {figure['send_to_handler_start_p95_ms']} ms, max"
        f" {figure['send_to_handler_start_max_ms']} ms over {len(latencies)} samples;"
        f" correct={correct}"
    )
    assert correct, "a message was lost or handled more than once"
