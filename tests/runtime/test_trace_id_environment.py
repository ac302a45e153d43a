"""`_X_AMZN_TRACE_ID` as the built-in runtime sets it for each invocation: seen by `os.environ`,
`os.getenv` and child processes, in bounded memory."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from lambda_rie.runtime.invoke import TRACE_ID_VARIABLE, set_trace_id


@pytest.fixture(autouse=True)
def restored_variable() -> Iterator[None]:
    before = os.environ.get(TRACE_ID_VARIABLE)
    yield
    if before is None:
        os.environ.pop(TRACE_ID_VARIABLE, None)
    else:
        os.environ[TRACE_ID_VARIABLE] = before


def child_sees() -> str:
    """The variable as a child process inherits it from the C environment."""
    script = f'import os; print(os.environ.get("{TRACE_ID_VARIABLE}"))'
    return subprocess.run(
        ["python3", "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()


def resident_kb() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1])


def test_each_value_is_seen_by_os_environ_getenv_and_children() -> None:
    for trace_id in ["Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", "Root=1-00;Sampled=0"]:
        set_trace_id(trace_id)
        assert os.environ[TRACE_ID_VARIABLE] == trace_id
        assert os.getenv(TRACE_ID_VARIABLE) == trace_id
        assert child_sees() == trace_id


def test_a_value_set_or_removed_by_the_handler_is_replaced_next_time() -> None:
    set_trace_id("Root=1-first")
    os.environ[TRACE_ID_VARIABLE] = "set by the handler"
    set_trace_id("Root=1-second")
    assert child_sees() == os.environ[TRACE_ID_VARIABLE] == "Root=1-second"
    del os.environ[TRACE_ID_VARIABLE]
    set_trace_id("Root=1-third-and-a-value-longer-than-any-before-" + "x" * 300)
    assert child_sees() == os.environ[TRACE_ID_VARIABLE]
    assert os.environ[TRACE_ID_VARIABLE].endswith("x" * 300)


def test_distinct_values_take_no_memory_for_good() -> None:
    # glibc's setenv keeps each of them: about 6 MB for these 40,000.
    set_trace_id("Root=1-warm-up")
    before = resident_kb()
    for n in range(40_000):
        set_trace_id(f"Root=1-5759e988-{n:024x};Parent={n:016x};Sampled=0")
    assert resident_kb() - before < 2048
    assert child_sees() == f"Root=1-5759e988-{39_999:024x};Parent={39_999:016x};Sampled=0"
