"""Start, stop and interruption: an emulator leaves nothing behind, whatever ends it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import IO

import pytest
from api_support import HANDLERS, Footprint, alive, python_threads

from lambda_rie import Emulator, Function, LambdaRieError

CYCLES = 200
INVOKE_EVERY = 40
# NOTE: bounds, not expectations. Ctrl-C is seen within 50 ms; a stop takes milliseconds, up
# to the 2 s SIGTERM grace of a runtime that ignores SIGTERM.
INTERRUPT_LIVENESS_S = 1.0
SETTLE_S = 5.0
LINE_DEADLINE_S = 30.0


def _settled(before: Footprint) -> Footprint:
    """The footprint once it is back to `before`, or after SETTLE_S (threads exit and
    children are reaped asynchronously)."""
    deadline = time.monotonic() + SETTLE_S
    now = Footprint.now()
    while now != before and time.monotonic() < deadline:
        time.sleep(0.02)
        now = Footprint.now()
    return now


def test_start_stop_cycles_leave_no_threads_processes_descriptors_or_sockets() -> None:
    functions = [Function("echo", handler="app.echo", code_dir=HANDLERS)]

    def cycle(invoke: bool) -> None:
        with Emulator(functions) as emulator:
            if invoke:
                assert emulator.invoke("echo", {"n": 1}).json() == {"n": 1}

    cycle(invoke=True)  # one-time set-up: imports, the isolation probe, the signal driver
    before = Footprint.now()
    for i in range(CYCLES):
        cycle(invoke=i % INVOKE_EVERY == 0)
    after = _settled(before)
    assert after == before, f"left behind: {after} (Python threads: {python_threads()})"


def _lines(stream: IO[str]) -> tuple[queue.Queue[str], threading.Thread]:
    """The lines of `stream` as they come, read by a thread that ends at end of file."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    return lines, reader


def _expect(lines: queue.Queue[str], prefix: str, deadline_s: float) -> str:
    end = time.monotonic() + deadline_s
    while True:
        try:
            line = lines.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line starting {prefix!r} within {deadline_s} s") from None
        if line.startswith(prefix):
            return line


INTERRUPTED_SCRIPT = """
import sys
from lambda_rie import Emulator, Function, LambdaRieError

sleepy = Function("sleepy", handler="app.sleepy", code_dir=sys.argv[1], timeout=60)
try:
    with Emulator([sleepy]) as e:
        try:
            e.invoke("sleepy", {"sleep": 60})
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
            raise
except KeyboardInterrupt:
    print("TORN DOWN", e.closed, flush=True)
"""


def test_ctrl_c_during_a_long_invoke_returns_control_and_tears_down() -> None:
    command = [sys.executable, "-c", INTERRUPTED_SCRIPT, HANDLERS]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        lines, reader = _lines(child.stdout)
        try:
            runtime_pid = int(_expect(lines, "SLEEPING ", LINE_DEADLINE_S).split()[1])
            assert alive(runtime_pid)
            child.send_signal(signal.SIGINT)
            _expect(lines, "INTERRUPTED", INTERRUPT_LIVENESS_S)
            assert _expect(lines, "TORN DOWN", LINE_DEADLINE_S) == "TORN DOWN True"
            assert child.wait(timeout=LINE_DEADLINE_S) == 0
            assert not alive(runtime_pid)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            reader.join()


def test_an_emulator_that_is_never_closed_is_stopped_at_exit() -> None:
    script = (
        "import sys\n"
        "from lambda_rie import Emulator, Function\n"
        "e = Emulator([Function('who', handler='app.whoami', code_dir=sys.argv[1])])\n"
        "print('PID', e.invoke('who').json()['pid'], flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, HANDLERS],
        capture_output=True,
        text=True,
        timeout=LINE_DEADLINE_S,
        check=True,
    )
    pid = int(next(line for line in done.stdout.splitlines() if line.startswith("PID")).split()[1])
    assert not alive(pid)
    assert os.getpid() != pid


def test_an_emulator_whose_start_failed_can_still_be_shown_and_closed() -> None:
    # What pytest holds when `Emulator(...)` raised: the object its __init__ left unfinished.
    bad = Function("bad", handler="app.echo", code_dir=HANDLERS, timeout=0)
    unfinished = Emulator.__new__(Emulator)
    with pytest.raises(LambdaRieError, match="timeout: 0 is out of range"):
        unfinished.__init__([bad])  # type: ignore[misc]
    assert repr(unfinished) == "<Emulator not started>"
    assert unfinished.closed
    unfinished.close()
