"""SnapStart in the runtime: the `snapshot_restore_py` hooks around `/restore/next` when the
runtime runs init itself (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`), and a template whose
init fails under `lambda-rie --snapstart`."""

from __future__ import annotations

import json
import re
from typing import Any

from runtime_harness import FakeRuntimeApi, wait_for

SNAP_START = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}


def test_hooks_run_around_restore_next_then_invocations_are_served(
    fake_api: FakeRuntimeApi, start_runtime: Any
) -> None:
    start_runtime("snap_hooks.handler", **SNAP_START)
    post = fake_api.invoke()
    assert post.kind == "response"
    assert post.json() == {"ran": ["before", "after"]}
    assert fake_api.restore_calls == 1


def test_without_snap_start_no_hook_runs(fake_api: FakeRuntimeApi, start_runtime: Any) -> None:
    start_runtime("snap_hooks.handler")
    assert fake_api.invoke().json() == {"ran": []}
    assert fake_api.restore_calls == 0


def test_failing_before_snapshot_hook_is_an_init_error_and_exit_64(
    fake_api: FakeRuntimeApi, start_runtime: Any
) -> None:
    runtime = start_runtime("snap_hooks.handler", SNAP_FAIL="before", **SNAP_START)
    post = fake_api.posts.get(timeout=20)
    assert post.path == "/2018-06-01/runtime/init/error"
    error = post.json()
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "before snapshot failed")
    # The user's frame, with the runtime's own cut.
    assert len(error["stackTrace"]) == 1
    assert error["stackTrace"][0].endswith(
        'snap_hooks.py", line 14, in before_snapshot\n'
        '    raise RuntimeError("before snapshot failed")\n'
    )
    assert runtime.proc.wait(timeout=10) == 64
    assert "\n[ERROR] RuntimeError: before snapshot failed\rTraceback" in runtime.finish()
    assert fake_api.restore_calls == 0


def test_failing_after_restore_hook_posts_restore_error_and_exits_65(
    fake_api: FakeRuntimeApi, start_runtime: Any
) -> None:
    runtime = start_runtime("snap_hooks.handler", SNAP_FAIL="after", **SNAP_START)
    post = fake_api.posts.get(timeout=20)
    assert post.path == "/2018-06-01/runtime/restore/error"
    assert post.headers["lambda-runtime-function-error-type"] == "Runtime.AfterRestoreError"
    error = post.json()
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "after restore failed")
    assert error["requestId"] == ""
    assert runtime.proc.wait(timeout=10) == 65
    assert "[ERROR] RuntimeError: after restore failed\rTraceback" in runtime.finish()
    assert fake_api.restore_calls == 1


def test_failing_after_restore_hook_logs_json_in_json_format(
    fake_api: FakeRuntimeApi, start_runtime: Any
) -> None:
    runtime = start_runtime(
        "snap_hooks.handler", SNAP_FAIL="after", AWS_LAMBDA_LOG_FORMAT="JSON", **SNAP_START
    )
    assert fake_api.posts.get(timeout=20).kind == "error"
    assert runtime.proc.wait(timeout=10) == 65
    records = [json.loads(line) for line in runtime.finish().splitlines() if line.startswith("{")]
    errors = [r for r in records if r.get("errorType") == "RuntimeError"]
    assert [(r["level"], r["errorMessage"]) for r in errors] == [("ERROR", "after restore failed")]


def test_template_whose_init_fails_reports_the_init_error(emulator: Any) -> None:
    started = emulator("import_error.handler", args=["--snapstart"])
    found = wait_for(
        lambda: re.search(
            r"SnapStart: the init of \S+ failed \((.*)\); it gets ordinary cold starts",
            started.stderr.decode(errors="replace"),
        )
    )
    assert found, started.stderr.decode(errors="replace")
    reported = json.loads(found.group(1))
    assert reported == {
        "errorMessage": (
            "Unable to import module 'import_error': No module named 'x_module_that_does_not_exist'"
        ),
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    # The template logged it as any init error is logged.
    assert wait_for(
        lambda: "[ERROR] Runtime.ImportModuleError: Unable to import module" in started.output()
    )
    status, _, body = started.invoke()
    assert status == 200
    assert json.loads(body)["errorType"] == "Runtime.ImportModuleError"
