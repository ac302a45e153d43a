"""Misuse of the Python API: fork(), racing closes and bad arguments fail plainly, never hang."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from api_support import HANDLERS, alive, children

from lambda_rie import Emulator, Function, InvokeResult, LambdaRieError

# NOTE: bounds, not expectations: a forked child refuses or exits in milliseconds.
CHILD_DEADLINE_S = 5.0
SCRIPT_DEADLINE_S = 30.0
METRICS_DEADLINE_S = 10.0


def echo(**options: Any) -> Function:
    return Function("echo", **{"handler": "app.echo", "code_dir": HANDLERS, **options})


FORK_SCRIPT = """
import asyncio
import os
import sys
import time

from lambda_rie import Emulator, Function, LambdaRieError

echo = Function("echo", handler="app.echo", code_dir=sys.argv[1])


def in_child(label, body):
    # Runs `body` in a forked child that then exits the normal way (with blocks, atexit,
    # module teardown); prints its exit code, or HUNG if it did not end within the deadline.
    pid = os.fork()
    if pid == 0:
        body()
        sys.exit(0)
    deadline = time.monotonic() + float(sys.argv[2])
    while (ended := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            print(label, "HUNG", flush=True)
            return
        time.sleep(0.01)
    print(label, "EXITED", os.waitstatus_to_exitcode(ended[1]), flush=True)


def refused(label, call):
    try:
        call()
    except LambdaRieError as e:
        print(label, "REFUSED", e, flush=True)
    else:
        print(label, "ACCEPTED", flush=True)


def serve():
    with Emulator([echo]) as e:
        print("SERVED", e.invoke("echo", ["before"]).json()[0], flush=True)


in_child("forked:never-ran", serve)
with Emulator([echo]) as parent:
    parent.invoke("echo", ["warm"])
    in_child("forked:create", lambda: refused("create", lambda: Emulator([echo])))
    in_child("forked:use", lambda: [
        refused("invoke", lambda: parent.invoke("echo", 1)),
        refused("ainvoke", lambda: asyncio.run(parent.ainvoke("echo", 1))),
        refused("invoke_async", lambda: parent.invoke_async("echo", 1)),
        refused("metrics", parent.metrics),
    ])
    in_child("forked:exit", lambda: None)
    print("PARENT", parent.invoke("echo", ["after"]).json()[0], flush=True)
"""


def test_a_process_forked_after_an_emulator_ran_refuses_lambda_rie_and_never_hangs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, HANDLERS, str(CHILD_DEADLINE_S)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_DEADLINE_S,
        check=True,
    )
    outcome = {}
    for line in done.stdout.splitlines():
        label, _, rest = line.partition(" ")
        outcome[label] = rest
    # A process that had not run an emulator when it forked passes lambda-rie on unchanged.
    assert outcome["SERVED"] == "before", done.stdout
    for child in ("never-ran", "create", "use", "exit"):
        assert outcome[f"forked:{child}"] == "EXITED 0", done.stdout
    for call in ("create", "invoke", "ainvoke", "invoke_async", "metrics"):
        assert outcome[call].startswith(
            "REFUSED lambda-rie cannot run in a process forked from one that ran an Emulator"
        ), done.stdout
        assert '"spawn" or "forkserver"' in outcome[call]
    assert outcome["PARENT"] == "after", done.stdout


def test_racing_closes_each_return_once_the_emulator_is_stopped() -> None:
    stamp = Function("stamp", handler="app.stamp", code_dir=HANDLERS, timeout=10)
    emulator = Emulator([stamp])
    pid = emulator.invoke("stamp", {"sleep": 0}).json()["pid"]
    answers: list[InvokeResult] = []
    invoker = threading.Thread(
        target=lambda: answers.append(emulator.invoke("stamp", {"sleep": 1}))
    )
    invoker.start()
    deadline = time.monotonic() + METRICS_DEADLINE_S
    while emulator.metrics()["lambda_rie_concurrent_executions:stamp"] == 0:
        assert time.monotonic() < deadline, "the invocation never started"
        time.sleep(0.01)

    together = threading.Barrier(2)
    after_close: list[tuple[bool, Any]] = []

    def close() -> None:
        together.wait()
        emulator.close()
        after_close.append(
            (alive(pid), emulator.metrics().get("lambda_rie_invocations_total:stamp:success"))
        )

    closers = [threading.Thread(target=close) for _ in range(2)]
    for closer in closers:
        closer.start()
    for thread in (*closers, invoker):
        thread.join()
    # The running invocation is answered before the emulator stops.
    assert [answer.json()["pid"] for answer in answers] == [pid]
    assert after_close == [(False, 2), (False, 2)]


def runtime_running(marker: str) -> bool:
    """Whether a runtime process of this process whose command line has `marker` runs."""
    for pid in children(os.getpid()):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def closed_while_running(emulator: Emulator, name: str, event: Any, marker: str) -> Any:
    """Close `emulator` once an invocation of `name` with `event` runs in a runtime whose
    command line has `marker` (its handler): that invocation's answer, or what it raised."""
    answers: list[Any] = []

    def invoke() -> None:
        try:
            answers.append(emulator.invoke(name, event))
        except LambdaRieError as error:
            answers.append(error)

    invoker = threading.Thread(target=invoke)
    invoker.start()
    deadline = time.monotonic() + METRICS_DEADLINE_S
    while not runtime_running(marker):
        assert time.monotonic() < deadline, "the invocation never started"
        time.sleep(0.01)
    emulator.close()
    invoker.join(METRICS_DEADLINE_S)
    assert len(answers) == 1
    return answers[0]


def test_an_invocation_cut_short_by_close_is_answered_and_counted() -> None:
    sleepy = Function("sleepy", handler="app.sleepy", code_dir=HANDLERS, timeout=120)
    emulator = Emulator([sleepy])
    # NOTE: warm first, so that the invocation cut short is past its environment's init.
    assert emulator.invoke("sleepy", {"sleep": 0}).json() == "woke up"
    answer = closed_while_running(emulator, "sleepy", {"sleep": 60}, "app.sleepy")
    # The stop ends the runtime: the caller gets that answer, not "the emulator is closed".
    assert isinstance(answer, InvokeResult), answer
    assert answer.function_error == "Unhandled"
    assert answer.json()["errorType"] == "Runtime.ExitError"
    counted = {
        key: value
        for key, value in emulator.metrics().items()
        if key.startswith("lambda_rie_invocations_total:sleepy:")
    }
    assert sum(counted.values()) == 2, counted


def test_a_cold_start_cut_short_by_close_is_answered_without_a_second_init() -> None:
    slow = Function("slow", handler="slow_init.handler", code_dir=HANDLERS, timeout=120)
    emulator = Emulator([slow])
    # The stop ends the init; no suppressed init runs it again in the stopped environment
    # (whose import would hold the answer for 30 s).
    answer = closed_while_running(emulator, "slow", {}, "slow_init.handler")
    assert isinstance(answer, InvokeResult), answer
    assert answer.function_error == "Unhandled"
    assert answer.json()["errorType"] == "Runtime.ExitError"


@pytest.mark.parametrize(
    ("function", "emulator", "error", "message"),
    [
        (
            {"environment": {"A": 1}},
            {},
            TypeError,
            "environment maps names to str values, not 'A': 1",
        ),
        ({"timeout": "3"}, {}, TypeError, "timeout is an int, not '3'"),
        (
            {"timeout": 2**70},
            {},
            LambdaRieError,
            f"function echo: timeout: {2**70} is out of range",
        ),
        ({}, {"max_environments": -1}, LambdaRieError, "max_environments: -1 is out of range"),
        ({"layers": "/some/dir"}, {}, TypeError, "layers is a list of paths, e.g. ['layer.zip']"),
        ({"handler": ""}, {}, LambdaRieError, "function echo: handler: '' is not module.function"),
        (
            {"handler": "app. echo"},
            {},
            LambdaRieError,
            "function echo: handler: 'app. echo' is not module.function",
        ),
    ],
    ids=[
        "environment",
        "timeout-type",
        "timeout-range",
        "max_environments",
        "layers",
        "handler-empty",
        "handler-whitespace",
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(
    function: dict[str, Any], emulator: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        Emulator([echo(**function)], **emulator).close()
    assert str(caught.value).startswith(message)
