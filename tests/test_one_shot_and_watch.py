"""`lambda-rie invoke` (one invocation, payload on stdout, exit status) and `--watch`."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import FUNCTIONS, ROOT, EmulatorFactory, clean_env

EVERYDAY = FUNCTIONS / "everyday"
# NOTE: a bound, not an expectation: a one-shot run takes well under a second.
RUN_DEADLINE_S = 30


def one_shot(face: list[str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*face, "invoke", *args],
        input=stdin,
        capture_output=True,
        cwd=EVERYDAY,
        env=clean_env(),
        timeout=RUN_DEADLINE_S,
        check=False,
    )


def test_invoke_prints_the_payload_and_exits_0(face: list[str]) -> None:
    done = one_shot(face, "echo.echo", "--event", "-", stdin=b'{"a":1}\n')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"a": 1}
    # The function's log goes to stderr, keeping stdout for the payload.
    assert b"START RequestId: " in done.stderr
    assert b"REPORT RequestId: " in done.stderr


def test_invoke_reads_the_event_from_a_file(face: list[str], tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    done = one_shot(face, "--event", str(event), "echo.echo")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"from": "file"}


def test_invoke_of_a_failing_handler_exits_1_with_the_error_json(face: list[str]) -> None:
    done = one_shot(face, "echo.fail")
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "no good"


def test_invoke_rejects_an_event_that_is_not_json(face: list[str]) -> None:
    done = one_shot(face, "echo.echo", "--event", "-", stdin=b"not json")
    assert done.returncode == 2
    assert b"--event" in done.stderr


@pytest.fixture
def code_dir() -> Iterator[Path]:
    """A private copy of a handler the test edits (under the repository, not /tmp)."""
    target = ROOT / "tests" / "functions" / f".watch-{threading.get_ident()}-{time.monotonic_ns()}"
    target.mkdir()
    (target / "app.py").write_text(version_source("v1", sleep=0.0))
    yield target
    shutil.rmtree(target, ignore_errors=True)


def version_source(version: str, sleep: float) -> str:
    return (
        "import time\n\n\n"
        "def handler(event, context):\n"
        f"    time.sleep(event.get('sleep', {sleep}))\n"
        f"    return {version!r}\n"
    )


def test_watch_serves_the_new_code_while_the_old_invocation_completes(
    emulator_factory: EmulatorFactory, code_dir: Path
) -> None:
    # One environment, so that without --watch the warm runtime would keep serving "v1".
    emulator = emulator_factory(
        ["--watch", "--max-environments", "1", "--code-dir", str(code_dir), "app.handler"],
        cwd=code_dir,
    )
    assert emulator.invoke({}).json() == "v1"
    in_flight: dict[str, object] = {}

    def slow_invoke() -> None:
        in_flight["answer"] = emulator.invoke({"sleep": 1.0}).json()

    slow = threading.Thread(target=slow_invoke)
    slow.start()
    time.sleep(0.3)  # the slow invocation is running in the warm environment now
    (code_dir / "app.py").write_text(version_source("v2", sleep=0.0))
    edited = time.monotonic()
    slow.join(timeout=10)
    assert in_flight["answer"] == "v1", "the invocation in flight must finish on the old code"
    answer = None
    while time.monotonic() < edited + 2.0:
        answer = emulator.invoke({}).json()
        if answer == "v2":
            break
        time.sleep(0.1)
    assert answer == "v2", "the edit was not served within 2 s"


def test_without_watch_the_warm_environment_keeps_the_old_code(
    emulator_factory: EmulatorFactory, code_dir: Path
) -> None:
    emulator = emulator_factory(
        ["--max-environments", "1", "--code-dir", str(code_dir), "app.handler"], cwd=code_dir
    )
    assert emulator.invoke({}).json() == "v1"
    (code_dir / "app.py").write_text(version_source("v2", sleep=0.0))
    time.sleep(0.6)
    assert emulator.invoke({}).json() == "v1"
