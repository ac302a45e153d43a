"""Stopping lambda-rie (docs/reference.md §1, "As a container's PID 1"): SIGTERM answers the
invocations in flight, leaves no runtime process behind and exits 0; as PID 1 it reaps orphans."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import (
    Emulator,
    EmulatorFactory,
    awslambdaric,
    children,
    clean_env,
    pid_alive,
    pids_with_env,
)

UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--"]
DEADLINE_S = 10.0


def unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(
            [*UNSHARE, "true"], capture_output=True, timeout=DEADLINE_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def poll(condition: object, what: str) -> None:
    """Wait until `condition()` is true, at most DEADLINE_S."""
    assert callable(condition)
    end = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"after {DEADLINE_S} s: {what}")
        time.sleep(0.05)


def only_child(parent: int) -> int:
    """The pid of the single live child of `parent` (unshare's: lambda-rie)."""
    found: list[int] = []

    def has_child() -> bool:
        found[:] = [pid for pid, _name, state in children(parent) if state != "Z"]
        return len(found) == 1

    poll(has_child, f"process {parent} has no single child")
    return found[0]


def namespace_pid(pid: int) -> int:
    """The pid of `pid` inside its innermost PID namespace."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError("no NSpid line")


def start(emulator_factory: EmulatorFactory, as_pid_1: bool) -> tuple[Emulator, int, str]:
    """An emulator serving app.handler; its pid (inside unshare when `as_pid_1`) and a token
    that every process it starts carries in its environment."""
    if as_pid_1 and not unshare_works():
        pytest.skip("unshare --pid is refused on this machine")
    token = f"RIE_TEST_TOKEN={uuid.uuid4().hex}"
    name, value = token.split("=")
    emulator = emulator_factory(
        awslambdaric("app.handler"),
        env=clean_env({name: value}),
        prefix=UNSHARE if as_pid_1 else (),
    )
    lambda_rie = only_child(emulator.pid) if as_pid_1 else emulator.pid
    if as_pid_1:
        assert namespace_pid(lambda_rie) == 1
    return emulator, lambda_rie, token


@pytest.mark.parametrize("as_pid_1", [False, True], ids=["plain", "pid-1"])
def test_sigterm_answers_the_invoke_in_flight_and_exits_0(
    emulator_factory: EmulatorFactory, as_pid_1: bool
) -> None:
    emulator, lambda_rie, token = start(emulator_factory, as_pid_1)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(emulator.invoke, {"action": "sleep", "seconds": 2})
        emulator.stdout.wait_for(r"^START RequestId: ")
        runtimes = [pid for pid in pids_with_env(token) if pid not in {emulator.pid, lambda_rie}]
        assert runtimes, "no runtime process found"
        os.kill(lambda_rie, signal.SIGTERM)
        answer = pending.result(timeout=30)
    assert answer.status == 200, answer.body
    assert answer.json()["slept"] == 2
    assert emulator.process.wait(timeout=15) == 0, emulator.stderr_text()
    poll(lambda: not any(pid_alive(pid) for pid in runtimes), f"runtime left: {runtimes}")


def namespaced(inner_pid: int, name: str) -> list[str]:
    """States of processes called `name` whose pid inside a child namespace is `inner_pid`."""
    states = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue
        nspids = status.get("NSpid", "").split()
        in_child_namespace = len(nspids) >= 2 and int(nspids[-1]) == inner_pid
        if in_child_namespace and status.get("Name", "").strip() == name:
            states.append(status.get("State", "?").strip())
    return states


def test_pid_1_reaps_orphans(emulator_factory: EmulatorFactory) -> None:
    emulator, lambda_rie, _token = start(emulator_factory, as_pid_1=True)
    answer = emulator.invoke({"action": "orphan", "seconds": 2})
    assert answer.status == 200, answer.body
    orphan = answer.json()
    assert namespaced(orphan, "sleep"), "the orphan was not seen at all"
    # Once it has exited, nothing of it may remain: not even a zombie.
    poll(lambda: not namespaced(orphan, "sleep"), f"orphan {orphan} not reaped")
    # unshare itself ignores SIGTERM: the signal goes to lambda-rie, as `docker stop` does.
    os.kill(lambda_rie, signal.SIGTERM)
    assert emulator.process.wait(timeout=15) == 0
