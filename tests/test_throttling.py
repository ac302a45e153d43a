"""One execution environment under concurrent load: 429s, never a crash, never a hang."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import Emulator, EmulatorFactory, Response, awslambdaric, stress_size

THROTTLED = (
    b'{"Reason": "ConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}'
)


@pytest.mark.stress
def test_concurrent_invokes_against_one_environment(emulator_factory: EmulatorFactory) -> None:
    clients = stress_size(50, 500)
    emulator = emulator_factory(["--max-environments", "1", *awslambdaric("app.handler")])
    pid = emulator.invoke({"action": "context"}).json()["pid"]
    start = threading.Barrier(clients)

    def invoke(n: int) -> Response:
        start.wait(timeout=30)
        return emulator.invoke({"action": "sleep", "seconds": 0.2, "n": n})

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(invoke, range(clients)))

    assert len(answers) == clients
    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[200] >= 1
    for answer in answers:
        if answer.status == 429:
            assert answer.body == THROTTLED
            assert answer.header("x-amzn-ErrorType") == "TooManyRequestsException"
            assert answer.header("Retry-After") is not None
        else:
            assert answer.json()["pid"] == pid
    # The emulator is up and the same environment serves the next invoke.
    after = emulator.invoke({"action": "context"})
    assert after.status == 200
    assert after.json()["pid"] == pid


@pytest.mark.stress
def test_many_warm_invokes_on_one_connection(emulator_factory: EmulatorFactory) -> None:
    invokes = stress_size(200, 5000)
    emulator = emulator_factory(awslambdaric("app.handler"))
    conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=60)
    pids = set()
    try:
        for n in range(invokes):
            conn.request(
                "POST",
                "/2015-03-31/functions/function/invocations",
                body=json.dumps({"action": "count", "n": n}),
            )
            answer = conn.getresponse()
            assert answer.status == 200
            body = json.loads(answer.read())
            assert body["count"] == n + 1
            pids.add(body["pid"])
    finally:
        conn.close()
    assert len(pids) == 1


def concurrent_invokes(emulator: Emulator, events: list[object]) -> list[Response]:
    """Send `events` at once, one thread each; their answers in order."""
    start = threading.Barrier(len(events))

    def invoke(event: object) -> Response:
        start.wait(timeout=30)
        return emulator.invoke(event)

    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(invoke, events))


def test_concurrent_invokes_get_their_own_environments(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(["--max-environments", "3", *awslambdaric("app.handler")])
    answers = concurrent_invokes(emulator, [{"action": "sleep", "seconds": 1}] * 3)
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert len({answer.json()["pid"] for answer in answers}) == 3


def test_reserved_concurrency_zero_throttles_every_invoke(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(["--reserved-concurrency", "0", *awslambdaric("app.handler")])
    answer = emulator.invoke({})
    assert answer.status == 429
    assert answer.header("x-amzn-ErrorType") == "TooManyRequestsException"
    assert answer.body == (
        b'{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", '
        b'"message": "Rate Exceeded."}'
    )


def test_on_throttle_queue_waits_for_the_environment(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        ["--max-environments", "1", "--on-throttle", "queue", *awslambdaric("app.handler")]
    )
    answers = concurrent_invokes(emulator, [{"action": "sleep", "seconds": 0.2}] * 5)
    assert [answer.status for answer in answers] == [200] * 5
    assert len({answer.json()["pid"] for answer in answers}) == 1
