"""Fault injection: a runtime that is killed, stopped, or drops its Runtime API connections at
random points over many invocations, and every invocation still gets exactly one answer.

The runtime is `tests/functions/robust/fault_runtime.py`, a custom runtime over raw sockets;
each event tells it what to do with the invocation it takes (answer, fail, SIGKILL or SIGSTOP
itself past the 1 s timeout, exit, close the connection it took the invocation on, break its
answer off halfway, half-close its connection after answering) and what to do before its next
`/next` (send half a request, or a whole one it then abandons). The plan is drawn from a fixed
seed, so a failure reproduces. Each answer must have the shape AWS gives what happened: 200 with
the result, or 200 with `X-Amz-Function-Error: Unhandled` and the runtime's error,
`Sandbox.Timedout` or `Runtime.ExitError`; an invocation the runtime never took (a `/next` it
had abandoned took it, which its own record of what it took shows) must time out. Afterwards no
environment is busy and the counters add up to N.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

import pytest

from harness import (
    FUNCTIONS,
    INVOKE_PATH,
    PYTHON,
    UUID,
    EmulatorFactory,
    proc_stats,
    stress_size,
)
from test_scheduler import OUTCOMES, metrics, wait_until

ROBUST = FUNCTIONS / "robust"
#: What the runtime prints with the request id of each invocation it takes from `/next`.
TOOK = "fault-runtime took"
INVOCATIONS = stress_size(100, 500)
CLIENTS = 4
SEED = 20_260_101
# What the runtime does with an invocation, how often, and the outcome it counts as.
FAULTS = {
    "ok": (30, "success"),
    "new_connection": (10, "success"),
    "broken_response": (8, "success"),
    "half_closed": (8, "success"),
    "error": (10, "error"),
    "sigkill": (10, "crash"),
    "exit": (8, "crash"),
    "sigstop": (8, "timeout"),
    "drop": (8, "timeout"),
}
# What it does before its next /next (None: nothing).
BEFORE_NEXT = [None, None, None, None, "partial_next", "abandoned_next"]

TIMED_OUT = re.compile(
    r'\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: (' + UUID + r") "
    r'Error: Task timed out after 1\.\d{2} seconds"\}'
)
EXITED = (
    '{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {id} '
    'Error: Runtime exited with error: {reason}"}}'
)
EXIT_REASONS = {"sigkill": "signal: killed", "exit": "exit status 3"}
# NOTE: a liveness bound: an answer takes at most the 1 s timeout plus a cold start.
HTTP_TIMEOUT_S = 60.0
SETTLE_DEADLINE_S = 15.0


@dataclass
class Answer:
    """One planned invocation and what came back for it."""

    event: dict[str, Any]
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def plan(count: int) -> list[dict[str, Any]]:
    """`count` events drawn from the seed, every fault at least once."""
    rng = random.Random(SEED)
    kinds = list(FAULTS) + rng.choices(
        list(FAULTS), weights=[w for w, _ in FAULTS.values()], k=count - len(FAULTS)
    )
    rng.shuffle(kinds)
    return [
        {"n": n, "fault": kind, "then": rng.choice(BEFORE_NEXT)} for n, kind in enumerate(kinds)
    ]


def outcome(answer: Answer, taken: set[str]) -> str:
    """The metrics outcome of `answer`, once its shape is checked against what happened: the
    runtime's fault for an invocation it took, a timeout for one it never took."""
    fault = answer.event["fault"]
    n = answer.event["n"]
    where = f"invocation {n} ({fault}): {answer.status} {answer.body[:300]!r}"
    assert answer.status == 200, where
    request_id = answer.headers.get("x-amzn-RequestId") or ""
    assert re.fullmatch(UUID, request_id), where
    function_error: Optional[str] = answer.headers.get("X-Amz-Function-Error")
    expected = FAULTS[fault][1] if request_id in taken else "timeout"
    if expected == "success":
        assert function_error is None, where
        assert json.loads(answer.body) == {"n": n}, where
        return expected
    assert function_error == "Unhandled", where
    if expected == "error":
        error = {"errorMessage": f"failed {n}", "errorType": "FaultError"}
        assert answer.body == json.dumps(error).encode(), where
    elif expected == "crash":
        reason = EXIT_REASONS[fault]
        assert answer.body == EXITED.format(id=request_id, reason=reason).encode(), where
    else:
        match = TIMED_OUT.fullmatch(answer.body.decode())
        assert match is not None, where
        assert match.group(1) == request_id, where
    return expected


def run_client(host: str, port: int, events: list[dict[str, Any]], into: list[Any]) -> None:
    """Send `events` in order on one keep-alive connection; each answer (or error) into `into`."""
    conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT_S)
    try:
        for event in events:
            try:
                conn.request("POST", INVOKE_PATH, body=json.dumps(event).encode())
                reply = conn.getresponse()
                into.append(Answer(event, reply.status, reply.headers, reply.read()))
            except (OSError, http.client.HTTPException) as exc:
                into.append((event, exc))
                conn.close()
    finally:
        conn.close()


def test_an_answer_followed_by_a_half_close_is_received_every_time(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(["--timeout", "1", "--", PYTHON, "fault_runtime.py"], cwd=ROBUST)
    for n in range(10):
        answer = emulator.invoke({"n": n, "fault": "half_closed"})
        assert answer.status == 200, answer.body
        assert answer.header("X-Amz-Function-Error") is None, answer.body
        assert answer.json() == {"n": n}
    # A `/next` abandoned on its own connection still takes nothing: the next one is answered.
    after = emulator.invoke({"n": -1, "fault": "ok", "then": "abandoned_next"})
    assert after.json() == {"n": -1}
    last = emulator.invoke({"n": -2, "fault": "ok"})
    assert (last.status, last.json()) == (200, {"n": -2})


def test_an_empty_error_without_a_type_is_answered_as_unhandled(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(["--timeout", "1", "--", PYTHON, "fault_runtime.py"], cwd=ROBUST)
    answer = emulator.invoke({"n": 1, "fault": "empty_error"})
    assert answer.status == 200, answer.body
    assert answer.header("X-Amz-Function-Error") == "Unhandled"
    assert answer.json() == {"errorType": "Unhandled", "errorMessage": ""}


@pytest.mark.stress
@pytest.mark.timeout(stress_size(240, 1500))
def test_every_invocation_of_a_faulty_runtime_gets_one_answer_of_the_right_shape(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(
        [
            *("--timeout", "1", "--max-environments", str(2 * CLIENTS)),
            *("--", PYTHON, "fault_runtime.py"),
        ],
        cwd=ROBUST,
    )
    events = plan(INVOCATIONS)
    shares = [events[c::CLIENTS] for c in range(CLIENTS)]
    results: list[list[Any]] = [[] for _ in range(CLIENTS)]
    threads = [
        threading.Thread(target=run_client, args=(emulator.host, emulator.port, share, into))
        for share, into in zip(shares, results)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(stress_size(200, 1400))
    assert not any(thread.is_alive() for thread in threads), "a client is still waiting"

    answers = [answer for into in results for answer in into]
    failures = [answer for answer in answers if not isinstance(answer, Answer)]
    assert failures == [], failures[:10]
    assert sorted(answer.event["n"] for answer in answers) == list(range(INVOCATIONS))
    ids = [answer.headers.get("x-amzn-RequestId") or "" for answer in answers]
    assert len(set(ids)) == len(ids), "a request id was answered twice"
    # What the runtime took, from its own record (complete once every REPORT line is out).
    for request_id in ids:
        emulator.stdout.wait_for(rf"^REPORT RequestId: {request_id}\t")
    taken = {line.split()[-1] for line in emulator.stdout.lines() if line.startswith(TOOK + " ")}
    outcomes = Counter(outcome(answer, taken) for answer in answers)
    # NOTE: an invocation can reach a `/next` whose connection the runtime has just closed
    # (an HTTP long poll delivers at most once); it then times out. Only an abandoned `/next`
    # can take one, so there are at most as many such invocations as abandoned requests.
    lost = [request_id for request_id in ids if request_id not in taken]
    abandoned = sum(1 for event in events if event["then"] == "abandoned_next")
    assert len(lost) <= abandoned, (lost, abandoned)
    assert emulator.process.poll() is None, emulator.stderr_text()[-2000:]

    # No environment stays busy, and no runtime stays stopped.
    def settled() -> bool:
        below = set(emulator.descendants())
        stopped = [pid for pid, _, fields in proc_stats() if pid in below and fields[0] == "T"]
        return metrics(emulator)("lambda_rie_environments", state="busy") == 0 and not stopped

    wait_until("no environment busy and no runtime stopped", settled, SETTLE_DEADLINE_S)
    counted = metrics(emulator)
    by_outcome = {o: counted("lambda_rie_invocations_total", outcome=o) for o in OUTCOMES}
    assert by_outcome == {o: outcomes[o] for o in OUTCOMES}
    assert sum(by_outcome.values()) == INVOCATIONS
    assert counted("lambda_rie_concurrent_executions") == 0

    # And it still serves.
    after = emulator.invoke({"n": -1, "fault": "ok"})
    assert (after.status, after.json()) == (200, {"n": -1})
