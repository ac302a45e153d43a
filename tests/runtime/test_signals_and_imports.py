"""Process-level behaviour: SIGTERM while idle, and what a cold start imports."""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
import time

from runtime_harness import HANDLERS, FakeRuntimeApi


def test_sigterm_while_waiting_for_next_exits_0(fake_api: FakeRuntimeApi, start_runtime) -> None:
    runtime = start_runtime("echo.handler")
    assert fake_api.invoke(b'{"warm": true}').kind == "response"
    runtime.wait_idle()
    sent = time.monotonic()
    runtime.proc.send_signal(signal.SIGTERM)
    # Liveness bound only (10x the 100 ms the runtime promises).
    assert runtime.proc.wait(timeout=1) == 0
    elapsed_ms = (time.monotonic() - sent) * 1000
    print(f"SIGTERM to exit: {elapsed_ms:.1f} ms")


def test_sigint_while_waiting_for_next_ends_the_process(
    fake_api: FakeRuntimeApi, start_runtime
) -> None:
    runtime = start_runtime("echo.handler")
    runtime.wait_idle()
    runtime.proc.send_signal(signal.SIGINT)
    assert runtime.proc.wait(timeout=1) != 0


def test_sync_handler_never_imports_asyncio_or_logging(
    fake_api: FakeRuntimeApi, start_runtime
) -> None:
    start_runtime("stdlib_only.handler")
    post = fake_api.invoke()
    assert post.json() == {"asyncio_loaded": False, "logging_loaded": False}


def test_importing_the_runtime_does_not_import_asyncio() -> None:
    code = (
        "import sys, lambda_rie.runtime, lambda_rie.runtime.bootstrap, lambda_rie.runtime.invoke;"
        "print(sorted(m for m in ('asyncio', 'logging', 'json', 'orjson') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=HANDLERS
    )
    assert json.loads(result.stdout.replace("'", '"')) == []


def test_the_init_runs_with_fewer_collections_and_the_handler_with_the_default_ones(
    fake_api: FakeRuntimeApi, start_runtime
) -> None:
    default = list(gc.get_threshold())
    start_runtime("gc_thresholds.handler")
    seen = fake_api.invoke().json()
    assert seen["at_import"][0] > default[0]
    assert seen["at_import"][1:] == default[1:]
    assert seen["invoked"] == default
    assert seen["init_cycle_collected"] is True
    assert seen["frozen"] == 0


def test_thresholds_the_handler_sets_at_import_stay(
    fake_api: FakeRuntimeApi, start_runtime
) -> None:
    start_runtime("gc_thresholds.handler", GC_THRESHOLDS_AT_IMPORT="5000,20,30")
    assert fake_api.invoke().json()["invoked"] == [5000, 20, 30]


def test_objects_the_handler_freezes_at_import_stay_frozen(
    fake_api: FakeRuntimeApi, start_runtime
) -> None:
    start_runtime("gc_thresholds.handler", GC_FREEZE_AT_IMPORT="1")
    seen = fake_api.invoke().json()
    assert seen["frozen"] > 0
    assert seen["init_cycle_collected"] is False
