"""The built-in Python runtime against awslambdaric: warm invoke round trip through lambda-rie
(128 B, 64 KB, 1 MB events echoed back), the runtime's own CPU per invocation, and init duration
(runtime process start to its first `/next`).

Init duration is also measured for the runtime started with `python -c` instead of `python -m`:
the same runtime without the imports of `runpy` (contextlib, collections, functools...).

Each figure is recorded with whether the answer was right (`extra_info["correct"]`).
"""

from __future__ import annotations

import compileall
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "runtime"))

from runtime_harness import AWSLAMBDARIC, HANDLERS, OURS, Emulator, FakeRuntimeApi, RuntimeProcess

import lambda_rie

RUNTIMES = {"lambda_rie.runtime": OURS, "awslambdaric": AWSLAMBDARIC}
OURS_WITHOUT_RUNPY = [
    sys.executable,
    "-c",
    "import sys; from lambda_rie.runtime.bootstrap import main; main(sys.argv)",
]
INIT_COMMANDS = {**RUNTIMES, "lambda_rie.runtime-c": OURS_WITHOUT_RUNPY}
SIZES = {"128B": 128, "64KB": 64 * 1024, "1MB": 1024 * 1024}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def event_of(size: int) -> bytes:
    """A JSON event of about `size` bytes."""
    return json.dumps({"data": "x" * max(0, size - 12)}).encode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    # NOTE: schedstat counts on-CPU time in nanoseconds; /proc/PID/stat's clock ticks (10 ms)
    # are too coarse for invocations that cost tens of microseconds.
    try:
        return (
            sum(
                int((task / "schedstat").read_text().split()[0])
                for task in Path(f"/proc/{pid}/task").iterdir()
            )
            / 1e9
        )
    except (FileNotFoundError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def runtime_pid(emulator_pid: int) -> int:
    """The runtime process started by lambda-rie (its Python descendant)."""
    pending = [emulator_pid]
    while pending:
        pid = pending.pop()
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in map(int, children):
                if "python" in Path(f"/proc/{child}/cmdline").read_text():
                    return child
                pending.append(child)
    raise LookupError("no runtime process under lambda-rie")


@pytest.fixture(scope="module", autouse=True)
def _bytecode() -> None:
    # NOTE: an installed wheel ships bytecode (pip compiles awslambdaric's); compile ours too
    # so that init duration compares like with like.
    compileall.compile_dir(Path(lambda_rie.__file__).parent, quiet=1)


@pytest.fixture(scope="module", params=sorted(RUNTIMES))
def runtime(request: pytest.FixtureRequest) -> tuple[str, list[str]]:
    return request.param, RUNTIMES[request.param]


@pytest.fixture(scope="module")
def echo_emulator(runtime: tuple[str, list[str]]) -> Iterator[Emulator]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "_LAMBDA_"))}
    emulator = Emulator([*runtime[1], "echo.handler"], HANDLERS, [], env)
    yield emulator
    emulator.close()


@pytest.mark.parametrize("size", sorted(SIZES, key=SIZES.get))
def test_warm_invoke_round_trip(
    benchmark: Any, runtime: tuple[str, list[str]], echo_emulator: Emulator, size: str
) -> None:
    event = event_of(SIZES[size])
    status, _, payload = echo_emulator.invoke(event)  # warm up the environment
    assert status == 200
    pid = runtime_pid(echo_emulator.proc.pid)
    calls = 0
    cpu_before = cpu_seconds(pid)

    def invoke() -> bytes:
        nonlocal calls
        calls += 1
        return echo_emulator.invoke(event)[2]

    payload = benchmark(invoke)
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / max(1, calls)
    benchmark.extra_info.update(
        runtime=runtime[0],
        size=size,
        runtime_cpu_ms_per_invoke=round(cpu_ms, 3),
        correct=json.loads(payload) == json.loads(event),
    )
    assert benchmark.extra_info["correct"]


@pytest.mark.parametrize("launch", sorted(INIT_COMMANDS))
def test_init_duration(benchmark: Any, launch: str) -> None:
    """Runtime process start to its first `/next` (a stdlib-only handler)."""
    api = FakeRuntimeApi()
    started: list[RuntimeProcess] = []

    def cold_start() -> None:
        started.append(RuntimeProcess(INIT_COMMANDS[launch], "echo.handler", api))
        started[-1].wait_idle()

    def stop(*_: Any) -> None:
        started.pop().finish()
        api.waiting.clear()

    try:
        benchmark.pedantic(cold_start, teardown=stop, rounds=30, warmup_rounds=2)
    finally:
        while started:
            stop()
        api.close()
    benchmark.extra_info.update(runtime=launch, correct=True)
