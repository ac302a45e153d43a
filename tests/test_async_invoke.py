"""`Event` invocations (docs/reference.md §2, §9, §12): 202 at once, a queue per function, retries
with AWS's delays and one request id, maximum event age, destinations, dead letters, and what
happens to queued events at shutdown.

Every run uses `--async-retry-delay-scale 0.01`: AWS's 60 s and 120 s retry delays become 0.6 s
and 1.2 s, a maximum event age of 60 s becomes 0.6 s.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest

from harness import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    ROOT,
    UUID,
    Emulator,
    EmulatorFactory,
    stress_size,
)
from test_functions_config import read_lines, wait_for_lines, write_config
from test_scheduler import Metrics, metrics, wait_until

SCALE = "0.01"
EVENT = {"X-Amz-Invocation-Type": "Event"}
EVENT_LIMIT = 1_048_576
# NOTE: bounds, not expectations: three attempts of a scaled retry take about 2 s.
RECORD_DEADLINE_S = 20.0
TIMESTAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
EVENTS_TOTAL = "lambda_rie_async_events_total"


def arn(name: str) -> str:
    return f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{name}"


class RecordSink:
    """A local `http://` destination that keeps every POST it receives."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Optional[str], bytes]] = []
        self.changed = threading.Condition()
        sink = self

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink.changed:
                    sink.posts.append((self.path, self.headers.get("Content-Type"), body))
                    sink.changed.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/records"

    def wait_for(self, request_id: str) -> list[tuple[str, Optional[str], dict[str, Any]]]:
        """Every POST whose record is about `request_id`, once there is at least one."""

        def about() -> list[tuple[str, Optional[str], dict[str, Any]]]:
            found = [(path, kind, json.loads(body)) for path, kind, body in self.posts]
            return [post for post in found if post[2]["requestContext"]["requestId"] == request_id]

        with self.changed:
            assert self.changed.wait_for(about, RECORD_DEADLINE_S), self.posts
            return about()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(RECORD_DEADLINE_S)


@pytest.fixture(scope="module")
def sink() -> Iterator[RecordSink]:
    receiver = RecordSink()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def destinations(face: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the shared emulator's config and `file:` destinations (one per face)."""
    assert face  # NOTE: a fixture of `face`, so that each face gets fresh destination files.
    return tmp_path_factory.mktemp("async")


@pytest.fixture(scope="module")
def emulator(face: list[str], sink: RecordSink, destinations: Path) -> Iterator[Emulator]:
    """One emulator per face serving a function for each destination case."""
    config = write_config(
        destinations,
        {
            # Reserved concurrency 1: every retry lands in the one environment and its /tmp.
            "flaky": {
                "handler": "many.flaky",
                "reserved_concurrency": 1,
                "on_success": "function:audit",
            },
            "audit": {"handler": "many.record"},
            "failing": {
                "handler": "many.fail",
                "on_failure": "file:failures.jsonl",
                "dead_letter": "file:dlq.jsonl",
            },
            "notify": {"handler": "many.describe", "on_success": sink.url},
            # Reserved concurrency 0: its events wait with backoff until they are too old.
            "expired": {
                "handler": "many.describe",
                "reserved_concurrency": 0,
                "maximum_event_age": 60,
                "on_failure": "file:expired.jsonl",
                "dead_letter": "file:expired-dlq.jsonl",
            },
            "quiet": {"handler": "many.work"},
        },
    )
    factory = EmulatorFactory(face)
    try:
        yield factory(["--config", str(config), "--async-retry-delay-scale", SCALE], cwd=ROOT)
    finally:
        factory.close()


def send_event(emulator: Emulator, function: str, event: Any) -> str:
    """An `Event` invoke that must be accepted; its request id."""
    answer = emulator.invoke(event, EVENT, function=function)
    assert answer.status == 202, answer.body
    assert answer.body == b""
    request_id = answer.header("x-amzn-RequestId") or ""
    assert re.fullmatch(UUID, request_id), request_id
    return request_id


def starts(emulator: Emulator, request_id: str) -> int:
    """How many attempts of `request_id` started, by their START lines."""
    prefix = f"START RequestId: {request_id} "
    return sum(line.startswith(prefix) for line in emulator.stdout.lines())


def counted(emulator: Emulator, function: str, outcome: str, value: float) -> Metrics:
    """Wait until `lambda_rie_async_events_total{function, outcome}` reaches `value`."""
    wait_until(
        f"{function} {outcome} = {value}",
        lambda: metrics(emulator)(EVENTS_TOTAL, function, outcome=outcome) >= value,
        RECORD_DEADLINE_S,
    )
    scrape = metrics(emulator)
    assert scrape(EVENTS_TOTAL, function, outcome=outcome) == value
    return scrape


def check_record(
    record: dict[str, Any], function: str, request_id: str, condition: str, count: int
) -> None:
    """The fields of AWS's invocation record that do not depend on the response."""
    assert record["version"] == "1.0"
    assert re.fullmatch(TIMESTAMP, record["timestamp"]), record["timestamp"]
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{arn(function)}:$LATEST",
        "condition": condition,
        "approximateInvokeCount": count,
    }


def test_event_answers_202_without_the_sync_headers(emulator: Emulator) -> None:
    answer = emulator.invoke({"n": 0}, EVENT, function="quiet")
    assert answer.status == 202
    assert answer.body == b""
    assert re.fullmatch(UUID, answer.header("x-amzn-RequestId") or "")
    assert answer.header("X-Amz-Executed-Version") is None
    assert answer.header("X-Amz-Function-Error") is None
    emulator.stdout.wait_for(rf"^END RequestId: {answer.header('x-amzn-RequestId')}$")


def test_event_is_retried_with_one_request_id_until_it_succeeds(emulator: Emulator) -> None:
    event = {"failures": 2, "case": "flaky"}
    request_id = send_event(emulator, "flaky", event)
    line = emulator.stdout.wait_for(
        rf'^RECORD .*"requestId":"{request_id}"', RECORD_DEADLINE_S
    ).string
    record = json.loads(line.removeprefix("RECORD "))
    check_record(record, "flaky", request_id, "Success", 3)
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"attempt": 3, "event": event}

    # Three attempts, all under the one request id, the second and third after AWS's delays.
    assert starts(emulator, request_id) == 3
    attempts = [
        float(m.group(1))
        for m in (
            re.fullmatch(rf"attempt \d of {request_id} at ([0-9.]+)", line)
            for line in emulator.stdout.lines()
        )
        if m
    ]
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= 0.6 * 0.9, attempts
    assert attempts[2] - attempts[1] >= 1.2 * 0.9, attempts

    # The on-success destination got one record: the audit function's event counts once.
    counted(emulator, "flaky", "success", 1)
    counted(emulator, "audit", "success", 1)
    records = [line for line in emulator.stdout.lines() if f'"requestId":"{request_id}"' in line]
    assert len(records) == 1, records


def test_always_failing_event_goes_to_the_failure_file_and_the_dlq(
    emulator: Emulator, destinations: Path
) -> None:
    event = {"n": 7}
    request_id = send_event(emulator, "failing", event)
    wait_for_lines(destinations / "failures.jsonl", 1, RECORD_DEADLINE_S)
    wait_for_lines(destinations / "dlq.jsonl", 1, RECORD_DEADLINE_S)
    scrape = counted(emulator, "failing", "retries_exhausted", 1)
    assert scrape(EVENTS_TOTAL, "failing", outcome="success") == 0

    (record,) = read_lines(destinations / "failures.jsonl")
    check_record(record, "failing", request_id, "RetriesExhausted", 3)
    assert record["requestPayload"] == event
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "always fails: 7"
    assert read_lines(destinations / "dlq.jsonl") == [event]
    assert starts(emulator, request_id) == 3


def test_http_destination_receives_the_record(emulator: Emulator, sink: RecordSink) -> None:
    event = {"n": 1, "case": "http"}
    request_id = send_event(emulator, "notify", event)
    ((path, content_type, record),) = sink.wait_for(request_id)
    assert path == "/records"
    assert content_type == "application/json"
    check_record(record, "notify", request_id, "Success", 1)
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"]["function_name"] == "notify"
    assert record["responsePayload"]["event"] == event


def test_expired_event_goes_to_the_failure_file_as_event_age_exceeded(
    emulator: Emulator, destinations: Path
) -> None:
    event = {"n": 3, "case": "expired"}
    request_id = send_event(emulator, "expired", event)
    wait_for_lines(destinations / "expired.jsonl", 1, RECORD_DEADLINE_S)
    wait_for_lines(destinations / "expired-dlq.jsonl", 1, RECORD_DEADLINE_S)
    counted(emulator, "expired", "event_age_exceeded", 1)
    (record,) = read_lines(destinations / "expired.jsonl")
    check_record(record, "expired", request_id, "EventAgeExceeded", 0)
    assert record["requestPayload"] == event
    assert read_lines(destinations / "expired-dlq.jsonl") == [event]
    assert starts(emulator, request_id) == 0


def test_event_payload_limit_is_1_mib(emulator: Emulator) -> None:
    at_limit = b'"' + b"a" * (EVENT_LIMIT - 2) + b'"'
    accepted = emulator.invoke(at_limit, EVENT, function="quiet")
    assert accepted.status == 202, accepted.body[:300]
    over = at_limit + b" "
    refused = emulator.invoke(over, EVENT, function="quiet")
    assert refused.status == 413
    assert refused.header("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    assert refused.json() == {
        "Type": "User",
        "message": f"{EVENT_LIMIT + 1} byte payload is too large for the Event invocation type "
        f"(limit {EVENT_LIMIT} bytes)",
    }


# --- load and shutdown: an emulator of their own ---


def load_config(directory: Path, reserved: int) -> Path:
    return write_config(
        directory,
        {
            "load": {
                "handler": "many.work",
                "reserved_concurrency": reserved,
                "maximum_retry_attempts": 0,
                "on_success": "file:done.jsonl",
                "on_failure": "file:failed.jsonl",
            }
        },
    )


def send_events(emulator: Emulator, events: Sequence[dict[str, Any]], threads: int) -> list[str]:
    """Send every event as `Event` from `threads` clients; the request ids, in event order."""
    ids: list[str] = [""] * len(events)

    def client(first: int) -> None:
        for n in range(first, len(events), threads):
            ids[n] = send_event(emulator, "load", events[n])

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(RECORD_DEADLINE_S * 6)
    assert all(ids), "an Event invoke was not accepted"
    return ids


def request_ids(path: Path) -> list[str]:
    return [record["requestContext"]["requestId"] for record in read_lines(path)]


@pytest.mark.stress
def test_events_under_reserved_concurrency_2_are_each_handled_exactly_once(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    count = stress_size(small=100, full=1000)
    config = load_config(tmp_path, reserved=2)
    emulator = emulator_factory(
        ["--config", str(config), "--async-retry-delay-scale", SCALE], cwd=ROOT
    )
    # Every tenth event fails: with no retries it goes straight to the failure destination.
    events = [{"n": n, "fail": n % 10 == 0} for n in range(count)]
    ids = send_events(emulator, events, threads=4)
    assert len(set(ids)) == count
    done, failed = tmp_path / "done.jsonl", tmp_path / "failed.jsonl"
    wait_until(
        f"{count} records",
        lambda: len(read_lines(done)) + len(read_lines(failed)) >= count,
        RECORD_DEADLINE_S * (3 if count > 100 else 1),
    )
    scrape = counted(emulator, "load", "success", count - count // 10)
    assert scrape(EVENTS_TOTAL, "load", outcome="retries_exhausted") == count // 10
    assert scrape("lambda_rie_async_queue_depth", "load") == 0
    assert scrape("lambda_rie_concurrent_executions_peak", "load") <= 2

    expected = {request_id: events[n] for n, request_id in enumerate(ids)}
    seen: list[str] = []
    for path, condition in ((done, "Success"), (failed, "RetriesExhausted")):
        for record in read_lines(path):
            request_id = record["requestContext"]["requestId"]
            seen.append(request_id)
            assert record["requestContext"]["condition"] == condition
            assert record["requestContext"]["approximateInvokeCount"] == 1
            assert record["requestPayload"] == expected[request_id]
            assert expected[request_id]["fail"] == (condition != "Success")
    assert sorted(seen) == sorted(ids), "an event was lost or handled twice"


def test_queued_events_run_as_soon_as_the_environment_frees_up(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    # Unscaled delays: a throttle backoff (1 s) for a merely busy environment would show.
    emulator = emulator_factory(["--config", str(load_config(tmp_path, reserved=1))], cwd=ROOT)
    ids = send_events(emulator, [{"n": n, "seconds": 0.1} for n in range(4)], threads=1)
    wait_for_lines(tmp_path / "done.jsonl", len(ids), RECORD_DEADLINE_S)
    runs = sorted(
        (record["responsePayload"] for record in read_lines(tmp_path / "done.jsonl")),
        key=lambda run: run["start"],
    )
    assert sorted(request_ids(tmp_path / "done.jsonl")) == sorted(ids)
    gaps = [later["start"] - earlier["end"] for earlier, later in zip(runs, runs[1:])]
    # One environment: one after the other, each next one started well within a second.
    assert all(0 <= gap < 0.9 for gap in gaps), gaps


SHUTDOWN_EVENTS = 50
# Each event sleeps this long in the one environment: 50 of them outlast a 1 s shutdown timeout.
SLEEP_S = 0.05


def queue_and_stop(emulator: Emulator) -> list[str]:
    """Queue SHUTDOWN_EVENTS slow events, then SIGTERM the emulator; their request ids."""
    events = [{"n": n, "seconds": SLEEP_S} for n in range(SHUTDOWN_EVENTS)]
    ids = send_events(emulator, events, threads=1)
    assert emulator.stop() == 0, emulator.stderr_text()
    return ids


def test_sigterm_drains_queued_events_within_the_shutdown_timeout(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(
        ["--config", str(load_config(tmp_path, reserved=1)), "--shutdown-timeout", "20"],
        cwd=ROOT,
    )
    events = [{"n": n, "seconds": SLEEP_S} for n in range(5)]
    ids = send_events(emulator, events, threads=1)
    assert emulator.stop() == 0, emulator.stderr_text()
    assert sorted(request_ids(tmp_path / "done.jsonl")) == sorted(ids)
    assert "dropped" not in emulator.stderr_text()


def test_sigterm_keeps_queued_events_in_async_state_for_the_next_start(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = load_config(tmp_path, reserved=1)
    state = tmp_path / "queued.jsonl"
    args = ["--config", str(config), "--async-state", str(state), "--shutdown-timeout", "1"]
    ids = queue_and_stop(emulator_factory(args, cwd=ROOT))
    done = tmp_path / "done.jsonl"
    first_run = request_ids(done)
    kept = [json.loads(line)["requestId"] for line in state.read_text().splitlines()]
    assert kept, "every event was handled within the shutdown timeout: nothing to keep"
    assert sorted(first_run + kept) == sorted(ids)

    restarted = emulator_factory(args, cwd=ROOT)
    restarted.stderr.wait_for(rf"re-queued {len(kept)} events from {re.escape(str(state))}")
    wait_for_lines(done, SHUTDOWN_EVENTS, RECORD_DEADLINE_S)
    counted(restarted, "load", "success", len(kept))
    # Each of the 50 exactly once across both runs; the second run handled the kept ones.
    assert sorted(request_ids(done)) == sorted(ids)
    assert sorted(request_ids(done)[len(first_run) :]) == sorted(kept)


def test_sigterm_without_async_state_logs_the_dropped_request_ids(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = load_config(tmp_path, reserved=1)
    emulator = emulator_factory(["--config", str(config), "--shutdown-timeout", "0"], cwd=ROOT)
    ids = queue_and_stop(emulator)
    emulator.stderr.join(RECORD_DEADLINE_S)
    match = re.search(
        r"dropped (\d+) queued events at shutdown: (.*)$", emulator.stderr_text(), re.M
    )
    assert match, emulator.stderr_text()
    dropped = match.group(2).split(", ")
    assert int(match.group(1)) == len(dropped) > 0
    assert sorted(request_ids(tmp_path / "done.jsonl") + dropped) == sorted(ids)
