"""The scheduler under mixed load: random outcomes from many keep-alive clients at once.

Every request must get exactly one well-formed answer (200 with the payload its outcome calls
for, or the AWS 429), the metrics must count every request once under the right outcome, and
once idle environments are reaped nothing of the emulator's process tree may remain.
`LAMBDA_RIE_STRESS=full` (`make stress`) runs it at full size.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from harness import INVOKE_PATH, UUID, EmulatorFactory, awslambdaric, stress_size
from test_scheduler import OUTCOMES, PROBE, PROBE_DIR, metrics, wait_until

INVOKES = stress_size(60, 2000)
CLIENTS = stress_size(6, 32)
# NOTE: fewer environments than clients, so that throttling is part of the mix.
ENVIRONMENTS = max(2, CLIENTS * 2 // 3)
BIG_BYTES = 2 * 1024 * 1024
SEED = 4

# What each planned invocation does, and how often.
KINDS = {"success": 40, "error": 20, "timeout": 10, "crash": 10, "big": 20}
THROTTLED = (
    b'{"Reason": "ConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}'
)
TIMED_OUT = re.compile(
    rb'\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: (' + UUID.encode() + rb") "
    rb'Error: Task timed out after \d+\.\d{2} seconds"\}'
)
EXITED = (
    '{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {id} '
    'Error: Runtime exited with error: exit status 1"}}'
)
# NOTE: bounds, not expectations: reaping takes about a second after the last answer.
REAP_DEADLINE_S = 15.0
HTTP_TIMEOUT_S = 60.0


@dataclass
class Answer:
    """One request of the plan and what came back for it."""

    n: int
    kind: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def event(kind: str, n: int) -> dict[str, Any]:
    return {
        "success": {"action": "report", "n": n},
        "error": {"action": "fail", "n": n},
        "timeout": {"action": "hang", "seconds": 3, "n": n},
        "crash": {"action": "crash", "code": 1, "n": n},
        "big": {"action": "big", "bytes": BIG_BYTES, "n": n},
    }[kind]


def plan(count: int) -> list[str]:
    """`count` kinds at random (seeded), every kind at least once."""
    rng = random.Random(SEED)
    drawn = rng.choices(list(KINDS), weights=list(KINDS.values()), k=count - len(KINDS))
    kinds = list(KINDS) + drawn
    rng.shuffle(kinds)
    return kinds


def outcome(answer: Answer) -> str:
    """The metrics outcome this answer counts as, once its shape is checked against its kind."""
    where = f"request {answer.n} ({answer.kind}): {answer.status} {answer.body[:300]!r}"
    if answer.status == 429:
        assert answer.body == THROTTLED, where
        assert answer.headers.get("x-amzn-ErrorType") == "TooManyRequestsException", where
        return "throttled"
    assert answer.status == 200, where
    request_id = answer.headers.get("x-amzn-RequestId") or ""
    assert re.fullmatch(UUID, request_id), where
    function_error = answer.headers.get("X-Amz-Function-Error")
    if answer.kind in ("success", "big"):
        assert function_error is None, where
        if answer.kind == "big":
            assert len(answer.body) == BIG_BYTES, where
            assert answer.body.startswith(f'"{answer.n}:x'.encode()), where
        else:
            assert answer.json()["n"] == answer.n, where
        return "success"
    assert function_error == "Unhandled", where
    if answer.kind == "error":
        body = answer.json()
        assert body["errorType"] == "ValueError", where
        assert body["errorMessage"] == f"failed {answer.n}", where
        assert body["requestId"] == request_id, where
        return "error"
    if answer.kind == "timeout":
        match = TIMED_OUT.fullmatch(answer.body)
        assert match is not None, where
        assert match.group(1).decode() == request_id, where
        return "timeout"
    assert answer.body == EXITED.format(id=request_id).encode(), where
    return "crash"


def run_client(host: str, port: int, work: list[tuple[int, str]], into: list[Any]) -> None:
    """Send `work` in order on one keep-alive connection; each answer (or error) into `into`."""
    conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT_S)
    try:
        for n, kind in work:
            try:
                conn.request("POST", INVOKE_PATH, body=json.dumps(event(kind, n)).encode())
                reply = conn.getresponse()
                into.append(Answer(n, kind, reply.status, reply.headers, reply.read()))
            except (OSError, http.client.HTTPException) as exc:
                into.append((n, kind, exc))
                conn.close()
    finally:
        conn.close()


@pytest.mark.stress
@pytest.mark.timeout(stress_size(120, 1200))
def test_random_outcomes_from_many_clients(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        [
            *("--timeout", "1", "--idle-timeout", "1"),
            *("--max-environments", str(ENVIRONMENTS)),
            *awslambdaric(PROBE),
        ],
        cwd=PROBE_DIR,
    )
    kinds = plan(INVOKES)
    shares: list[list[tuple[int, str]]] = [[] for _ in range(CLIENTS)]
    for n, kind in enumerate(kinds):
        shares[n % CLIENTS].append((n, kind))
    results: list[list[Any]] = [[] for _ in range(CLIENTS)]
    threads = [
        threading.Thread(target=run_client, args=(emulator.host, emulator.port, work, into))
        for work, into in zip(shares, results)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(stress_size(100, 1100))
    assert not any(thread.is_alive() for thread in threads), "a client is still waiting"

    answers = [answer for into in results for answer in into]
    failures = [answer for answer in answers if not isinstance(answer, Answer)]
    assert failures == [], failures[:10]
    assert sorted(answer.n for answer in answers) == list(range(INVOKES))
    outcomes = Counter(outcome(answer) for answer in answers)
    ids = [answer.headers.get("x-amzn-RequestId") for answer in answers if answer.status == 200]
    assert len(set(ids)) == len(ids), "a request id was answered twice"

    counted = metrics(emulator)
    by_outcome = {o: counted("lambda_rie_invocations_total", outcome=o) for o in OUTCOMES}
    assert by_outcome == {o: outcomes[o] for o in OUTCOMES}
    assert sum(by_outcome.values()) == INVOKES

    # Idle environments are reaped; nothing but the emulator itself is left of its tree.
    def reaped() -> bool:
        return metrics(emulator).environments() == 0 and emulator.descendants() == []

    wait_until("every environment reaped", reaped, REAP_DEADLINE_S)
    after = metrics(emulator)
    assert after("lambda_rie_concurrent_executions") == 0
    assert after("lambda_rie_async_queue_depth") == 0
