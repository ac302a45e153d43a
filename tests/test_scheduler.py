"""The concurrency scheduler (docs/reference.md §4, §12): a pool of execution environments per
function, reserved and provisioned concurrency, throttling, reaping, multi-concurrency, metrics.

Concurrency is proven by overlap, never by wall-clock figures: `probe.handler` reports the pid
that ran it and the start and end of the handler, and every wait below has a deadline.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import time
from collections.abc import Sequence
from typing import Any, Callable

import pytest

from harness import (
    DEFAULT_FUNCTION,
    FUNCTIONS,
    PYTHON,
    Emulator,
    EmulatorFactory,
    Response,
    awslambdaric,
    lambda_client,
    pid_alive,
    proc_stats,
)

PROBE_DIR = FUNCTIONS / "scheduler"
PROBE = "probe.handler"
METRICS_PATH = "/_lambda-rie/metrics"

RESERVED_THROTTLED = (
    b'{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", '
    b'"message": "Rate Exceeded."}'
)

# NOTE: bounds, not expectations: a provisioned start or a reap takes well under a second.
STATE_DEADLINE_S = 10.0
BARRIER_DEADLINE_S = 30.0

# docs/reference.md §12: every name and its Prometheus type.
METRIC_TYPES = {
    "lambda_rie_invocations_total": "counter",
    "lambda_rie_cold_starts_total": "counter",
    "lambda_rie_concurrent_executions": "gauge",
    "lambda_rie_concurrent_executions_peak": "gauge",
    "lambda_rie_environments": "gauge",
    "lambda_rie_duration_seconds": "histogram",
    "lambda_rie_init_duration_seconds": "histogram",
    "lambda_rie_async_queue_depth": "gauge",
    "lambda_rie_async_events_total": "counter",
    "lambda_rie_destination_failures_total": "counter",
}
OUTCOMES = ("success", "error", "timeout", "crash", "throttled")
STATES = ("starting", "idle", "busy", "frozen", "stopping")
ASYNC_OUTCOMES = ("success", "retries_exhausted", "event_age_exceeded", "dropped")

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$")


class Metrics:
    """One scrape of `GET /_lambda-rie/metrics`, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types: dict[str, str] = {}
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for line in text.splitlines():
            declared = _TYPE.match(line)
            if declared:
                self.types[declared.group(1)] = declared.group(2)
            if not line or line.startswith("#"):
                continue
            sample = _SAMPLE.match(line)
            assert sample is not None, f"not a Prometheus sample: {line!r}"
            labels = frozenset(_LABEL.findall(sample["labels"] or ""))
            self.samples[(sample["name"], labels)] = float(sample["value"])

    def __call__(self, name: str, function: str = DEFAULT_FUNCTION, **labels: str) -> float:
        """The value of `name{function=..., **labels}`; missing samples fail the test."""
        key = (name, frozenset({"function": function, **labels}.items()))
        assert key in self.samples, f"no sample {key} in:\n{self.text}"
        return self.samples[key]

    def environments(self) -> float:
        return sum(self("lambda_rie_environments", state=state) for state in STATES)


def metrics(emulator: Emulator) -> Metrics:
    answer = emulator.request("GET", METRICS_PATH)
    assert answer.status == 200, answer.body[:300]
    return Metrics(answer.body.decode())


def wait_until(
    what: str, condition: Callable[[], bool], deadline_s: float = STATE_DEADLINE_S
) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"{what}: not within {deadline_s} s"
        time.sleep(0.02)


def concurrent_invokes(emulator: Emulator, events: Sequence[Any]) -> list[Response]:
    """Send `events` at once (one thread each, released together); their answers in order."""
    answers: list[Any] = [None] * len(events)
    start = threading.Barrier(len(events))

    def invoke(n: int) -> None:
        try:
            start.wait(timeout=BARRIER_DEADLINE_S)
            answers[n] = emulator.invoke(events[n])
        except Exception as exc:  # reported below, with the other answers
            answers[n] = exc

    threads = [threading.Thread(target=invoke, args=(n,)) for n in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_DEADLINE_S + 60)
    assert all(isinstance(answer, Response) for answer in answers), answers
    return answers


def sleepers(count: int, seconds: float) -> list[dict[str, Any]]:
    return [{"action": "report", "seconds": seconds, "n": n} for n in range(count)]


def reports(answers: Sequence[Response]) -> list[dict[str, Any]]:
    """The probe's reports from answers that must all be successes."""
    for answer in answers:
        assert answer.status == 200, (answer.status, answer.body[:300])
        assert answer.header("X-Amz-Function-Error") is None, answer.body[:300]
    return [answer.json() for answer in answers]


def all_overlap(runs: Sequence[dict[str, Any]]) -> bool:
    """Whether one instant lies inside every handler's [start, end] interval."""
    return max(run["start"] for run in runs) < min(run["end"] for run in runs)


def report_line(emulator: Emulator, answer: Response) -> str:
    request_id = answer.header("x-amzn-RequestId") or ""
    match = emulator.stdout.wait_for(rf"^REPORT RequestId: {re.escape(request_id)}\t")
    return match.string


def group_alive(pgid: int) -> bool:
    """Whether a live, non-zombie process is in process group `pgid`."""
    return any(fields[0] != "Z" and int(fields[2]) == pgid for _, _, fields in proc_stats())


def start(factory: EmulatorFactory, args: Sequence[str], runtime: Sequence[str] = ()) -> Emulator:
    """An emulator serving the probe with `args` (awslambdaric unless `runtime` is given)."""
    return factory([*args, *(runtime or awslambdaric(PROBE))], cwd=PROBE_DIR)


def test_eight_concurrent_invokes_run_in_eight_environments_then_reuse_them(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--max-environments", "8"])

    first = reports(concurrent_invokes(emulator, sleepers(8, 1.0)))
    pids = {run["pid"] for run in first}
    assert len(pids) == 8, first
    assert all_overlap(first), first
    assert metrics(emulator)("lambda_rie_cold_starts_total") == 8

    again = reports(concurrent_invokes(emulator, sleepers(8, 1.0)))
    assert {run["pid"] for run in again} == pids
    assert all_overlap(again), again
    after = metrics(emulator)
    assert after("lambda_rie_cold_starts_total") == 8
    assert after("lambda_rie_invocations_total", outcome="success") == 16
    assert after("lambda_rie_environments", state="idle") == 8


def test_reserved_concurrency_throttles_beyond_its_limit(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory, ["--reserved-concurrency", "2"])

    answers = concurrent_invokes(emulator, sleepers(5, 0.5))
    succeeded = [answer for answer in answers if answer.status == 200]
    throttled = [answer for answer in answers if answer.status != 200]
    assert len(succeeded) == 2, [(a.status, a.body[:200]) for a in answers]
    assert len({run["pid"] for run in reports(succeeded)}) == 2
    for answer in throttled:
        assert answer.status == 429
        assert answer.body == RESERVED_THROTTLED
        assert answer.header("x-amzn-ErrorType") == "TooManyRequestsException"
        assert answer.header("Retry-After") is not None
    assert metrics(emulator)("lambda_rie_invocations_total", outcome="throttled") == 3

    # boto3 reads the code off the header: with both environments busy, it raises.
    holders = threading.Thread(
        target=concurrent_invokes, args=(emulator, sleepers(2, 1.0)), daemon=True
    )
    holders.start()
    wait_until(
        "two invocations in flight",
        lambda: metrics(emulator)("lambda_rie_concurrent_executions") == 2,
    )
    client = lambda_client(emulator.url)
    with pytest.raises(client.exceptions.TooManyRequestsException) as raised:
        client.invoke(FunctionName="function", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    holders.join(BARRIER_DEADLINE_S)


def test_on_throttle_queue_makes_invokes_wait_for_a_free_environment(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--reserved-concurrency", "2", "--on-throttle", "queue"])

    runs = reports(concurrent_invokes(emulator, sleepers(5, 0.5)))
    assert len({run["pid"] for run in runs}) == 2, runs
    # Never more than two at once: no handler started while two others were running.
    for run in runs:
        running = [other for other in runs if other["start"] <= run["start"] < other["end"]]
        assert len(running) <= 2, runs
    after = metrics(emulator)
    assert after("lambda_rie_invocations_total", outcome="success") == 5
    assert after("lambda_rie_invocations_total", outcome="throttled") == 0
    assert after("lambda_rie_cold_starts_total") == 2


@pytest.mark.parametrize("on_throttle", ["reject", "queue"])
def test_reserved_concurrency_zero_throttles_every_sync_invoke(
    emulator_factory: EmulatorFactory, on_throttle: str
) -> None:
    emulator = start(
        emulator_factory, ["--reserved-concurrency", "0", "--on-throttle", on_throttle]
    )
    for answer in [emulator.invoke({}, timeout=10), *concurrent_invokes(emulator, [{}] * 3)]:
        assert answer.status == 429
        assert answer.body == RESERVED_THROTTLED
        assert answer.header("x-amzn-ErrorType") == "TooManyRequestsException"
    client = lambda_client(emulator.url)
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="function", Payload=b"{}")
    after = metrics(emulator)
    assert after("lambda_rie_invocations_total", outcome="throttled") == 5
    assert after("lambda_rie_cold_starts_total") == 0
    assert after.environments() == 0


def test_provisioned_environments_are_ready_before_any_invoke(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--provisioned-concurrency", "3"])
    wait_until(
        "three provisioned environments idle",
        lambda: metrics(emulator)("lambda_rie_environments", state="idle") == 3,
    )
    before = metrics(emulator)
    assert before("lambda_rie_cold_starts_total") == 3
    assert before.environments() == 3
    assert before("lambda_rie_concurrent_executions") == 0
    assert sum(before("lambda_rie_invocations_total", outcome=o) for o in OUTCOMES) == 0

    answers = concurrent_invokes(emulator, sleepers(3, 0.5))
    runs = reports(answers)
    assert len({run["pid"] for run in runs}) == 3, runs
    assert {run["initialization_type"] for run in runs} == {"provisioned-concurrency"}
    for answer in answers:
        line = report_line(emulator, answer)
        assert "Init Duration" not in line, line
    assert metrics(emulator)("lambda_rie_cold_starts_total") == 3


def test_idle_provisioned_environment_is_chosen_before_a_more_recent_on_demand_one(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--provisioned-concurrency", "1"])
    wait_until(
        "the provisioned environment idle",
        lambda: metrics(emulator)("lambda_rie_environments", state="idle") == 1,
    )
    # A occupies the provisioned environment; B, sent meanwhile, needs an on-demand one and
    # finishes last, so the on-demand environment is the most recently used.
    first: list[Response] = []
    holder = threading.Thread(
        target=lambda: first.append(emulator.invoke({"action": "report", "seconds": 0.5}))
    )
    holder.start()
    wait_until(
        "one invocation in flight",
        lambda: metrics(emulator)("lambda_rie_concurrent_executions") == 1,
    )
    on_demand = reports([emulator.invoke({"action": "report", "seconds": 1.0})])[0]
    holder.join(BARRIER_DEADLINE_S)
    provisioned = reports(first)[0]
    assert provisioned["initialization_type"] == "provisioned-concurrency"
    assert on_demand["initialization_type"] == "on-demand"
    assert on_demand["pid"] != provisioned["pid"]
    assert on_demand["end"] > provisioned["end"]

    chosen = reports([emulator.invoke({"action": "report"})])[0]
    assert chosen["pid"] == provisioned["pid"]
    assert chosen["initialization_type"] == "provisioned-concurrency"


def test_idle_environment_is_reaped_and_the_next_invoke_is_a_cold_start(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--idle-timeout", "1"])
    answer = emulator.invoke({"action": "report"})
    run = reports([answer])[0]
    assert "Init Duration" in report_line(emulator, answer)
    assert run["pid"] in emulator.descendants()
    assert run["pgid"] != emulator.pid  # the environment has a process group of its own

    wait_until("the idle environment reaped", lambda: not group_alive(run["pgid"]))
    assert not pid_alive(run["pid"])
    wait_until(
        "no environment left, idle or stopping", lambda: metrics(emulator).environments() == 0
    )

    answer = emulator.invoke({"action": "report"})
    again = reports([answer])[0]
    assert again["pid"] != run["pid"]
    assert "Init Duration" in report_line(emulator, answer)
    assert metrics(emulator)("lambda_rie_cold_starts_total") == 2


def _builtin_runtime() -> list[str]:
    if importlib.util.find_spec("lambda_rie.runtime") is None:
        pytest.skip("the built-in runtime (lambda_rie.runtime) is not importable")
    return ["--", PYTHON, "-m", "lambda_rie.runtime", PROBE]


@pytest.mark.parametrize("runtime", ["awslambdaric", "builtin"])
def test_max_concurrency_overlaps_invokes_inside_one_environment(
    emulator_factory: EmulatorFactory, runtime: str
) -> None:
    argv = awslambdaric(PROBE) if runtime == "awslambdaric" else _builtin_runtime()
    emulator = start(emulator_factory, ["--max-concurrency", "4"], argv)

    runs = reports(concurrent_invokes(emulator, sleepers(4, 0.5)))
    assert all_overlap(runs), runs
    assert len({run["pid"] for run in runs}) == 4, runs
    assert len({run["runtime_api"] for run in runs}) == 1, runs
    assert {run["max_concurrency"] for run in runs} == {"4"}
    after = metrics(emulator)
    assert after.environments() == 1
    assert after("lambda_rie_cold_starts_total") == 1
    assert after("lambda_rie_invocations_total", outcome="success") == 4


def test_metrics_serve_every_name_and_count_what_happened(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--timeout", "1", "--reserved-concurrency", "1"])
    fresh = metrics(emulator)
    for name, kind in METRIC_TYPES.items():
        assert fresh.types.get(name) == kind, f"{name} is not a {kind}:\n{fresh.text}"
    for outcome in OUTCOMES:
        assert fresh("lambda_rie_invocations_total", outcome=outcome) == 0
    assert fresh("lambda_rie_cold_starts_total") == 0
    for outcome in ASYNC_OUTCOMES:
        assert fresh("lambda_rie_async_events_total", outcome=outcome) == 0
    for histogram in ("lambda_rie_duration_seconds", "lambda_rie_init_duration_seconds"):
        assert fresh(f"{histogram}_count") == 0
        assert fresh(f"{histogram}_sum") == 0
        assert fresh(f"{histogram}_bucket", le="+Inf") == 0

    def status_of(event: dict[str, Any]) -> tuple[int, str | None]:
        answer = emulator.invoke(event)
        return answer.status, answer.header("X-Amz-Function-Error")

    assert status_of({"action": "report"}) == (200, None)  # success, cold start 1
    assert status_of({"action": "report"}) == (200, None)  # success
    assert status_of({"action": "fail"}) == (200, "Unhandled")  # error, stays warm
    # A timeout, and while it runs a throttled invoke (reserved concurrency 1).
    timed_out: list[Response] = []
    holder = threading.Thread(
        target=lambda: timed_out.append(emulator.invoke({"action": "hang", "seconds": 3}))
    )
    holder.start()
    wait_until(
        "the hanging invocation in flight",
        lambda: metrics(emulator)("lambda_rie_concurrent_executions") == 1,
    )
    throttled = emulator.invoke({"action": "report"})
    assert (throttled.status, throttled.body) == (429, RESERVED_THROTTLED)
    holder.join(BARRIER_DEADLINE_S)
    assert timed_out[0].status == 200
    assert timed_out[0].json()["errorType"] == "Sandbox.Timedout"
    assert status_of({"action": "crash"}) == (200, "Unhandled")  # crash, cold start 2
    assert status_of({"action": "report"}) == (200, None)  # success, cold start 3

    after = metrics(emulator)
    counted = {o: after("lambda_rie_invocations_total", outcome=o) for o in OUTCOMES}
    assert counted == {"success": 3, "error": 1, "timeout": 1, "crash": 1, "throttled": 1}
    assert after("lambda_rie_cold_starts_total") == 3
    assert after("lambda_rie_init_duration_seconds_count") == 3
    assert after("lambda_rie_init_duration_seconds_bucket", le="+Inf") == 3
    assert after("lambda_rie_duration_seconds_count") == 6
    assert after("lambda_rie_duration_seconds_bucket", le="+Inf") == 6
    assert after("lambda_rie_duration_seconds_sum") >= 1.0  # the timeout alone ran 1 s
    assert after("lambda_rie_concurrent_executions") == 0
    assert after("lambda_rie_environments", state="idle") == 1
    assert after.environments() == 1
    assert after("lambda_rie_async_queue_depth") == 0
    for outcome in ASYNC_OUTCOMES:
        assert after("lambda_rie_async_events_total", outcome=outcome) == 0
    # Reserved concurrency 1: never more than one invocation in flight.
    assert after("lambda_rie_concurrent_executions_peak") == 1


def test_no_environment_exists_before_the_first_invoke(emulator_factory: EmulatorFactory) -> None:
    # Without provisioned concurrency an environment is created by a cold start, as on AWS.
    emulator = start(emulator_factory, [])
    fresh = metrics(emulator)
    assert fresh("lambda_rie_cold_starts_total") == 0
    assert {
        state: fresh("lambda_rie_environments", state=state) for state in STATES
    } == dict.fromkeys(STATES, 0)
    assert emulator.descendants() == []
