"""Containment between execution environments: on AWS each one is a microVM of its own, so a
function's handler cannot see, read, signal or impersonate another environment, nor the
service. Here each environment gets a PID namespace with its own `/proc`, a Runtime API that
refuses other environments' processes, and a non-root user (AWS's `sbx_user1051`, uid 993,
gid 990; `--run-as` to choose).

Function A's handler (`isolation/containment_handlers.py`) is given what a curious neighbour
could learn (B's runtime pid, B's Runtime API port, the emulator's pid) and tries each reach;
every try must fail while B keeps working. The user is read by a `sh` + `curl` runtime
(`isolation/whoami/bootstrap`) copied to a directory any user can read.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

import pytest

from harness import FUNCTIONS, Emulator, EmulatorFactory, clean_env, pids_with_env
from lambda_rie import Emulator as LambdaRieEmulator
from lambda_rie import Function, LambdaRieError
from test_isolation import make_venv, venv_faces, venv_path

HANDLERS = FUNCTIONS / "isolation"
WHOAMI = HANDLERS / "whoami" / "bootstrap"
INVOKE_DEADLINE_S = 30.0

# NOTE: the mechanisms need root and namespaces, as the emulator does.
contained = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root (PID and mount namespaces, a user switch)"
)


def succeeded(answer: Any) -> Any:
    assert answer.status == 200, (answer.status, answer.body[:300])
    assert answer.header("X-Amz-Function-Error") is None, answer.body[:300]
    return answer.json()


def startup_line(emulator: Emulator) -> str:
    return emulator.stderr.wait_for(r"\(lambda-rie\) Isolation: ").string


def two_functions(factory: EmulatorFactory, directory: Path, secret: str) -> Emulator:
    """An emulator serving functions A and B from one config file; B holds `secret` in its
    variables."""
    config = directory / "lambda-rie.toml"
    config.write_text(
        f"""
[defaults]
timeout = 30
handler = "containment_handlers.handler"
code_dir = "{HANDLERS}"

[functions.A]

[functions.B]
environment = {{ SECRET = "{secret}" }}
"""
    )
    return factory(["--config", str(config)])


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


@contained
def test_a_handler_cannot_reach_into_another_functions_environment(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    secret = f"b-secret-{uuid.uuid4().hex}"
    emulator = two_functions(emulator_factory, tmp_path, secret)
    kept = succeeded(
        emulator.invoke(
            {"action": "keep_secret", "name": "secret.txt", "text": secret},
            function="B",
            timeout=INVOKE_DEADLINE_S,
        )
    )
    assert kept["function"] == "B"
    # What a neighbour could guess, found here from the host: B's runtime and its Runtime API.
    (b_pid,) = pids_with_env(f"SECRET={secret}")
    assert b_pid == kept["pid"]
    port = int(environ_of(b_pid)["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
    # From outside every environment, the same reads work: the targets are real.
    assert Path(f"/proc/{b_pid}/root/tmp/secret.txt").read_text() == secret

    event = {
        "action": "reach",
        "pid": b_pid,
        "port": port,
        "emulator": emulator.pid,
        "name": "secret.txt",
    }
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(emulator.invoke, event, function="A", timeout=INVOKE_DEADLINE_S)
        emulator.stdout.wait_for(r"reaching for the other Runtime API")
        # B serves its own invocations, however many, while A waits on B's /next.
        for _ in range(2):
            assert succeeded(emulator.invoke({}, function="B", timeout=INVOKE_DEADLINE_S)) == {
                "function": "B",
                "pid": b_pid,
                "uid": kept["uid"],
                "gid": kept["gid"],
            }
        reached = succeeded(pending.result(timeout=INVOKE_DEADLINE_S))

    assert reached["tmp"] == {"error": "FileNotFoundError"}
    assert reached["environ"] == {"error": "FileNotFoundError"}
    assert reached["signal"] == {"error": "ProcessLookupError"}
    refused = reached["runtime_api"]
    assert refused["status"] == 403, refused
    assert re.search(r'"errorType":"AccessDeniedException"', refused["body"]), refused
    assert "refused a connection" in emulator.stderr.wait_for(r"Runtime API .* refused").string
    # The emulator and B are unharmed.
    assert emulator.process.poll() is None
    assert succeeded(emulator.invoke({}, function="B"))["pid"] == b_pid


@contained
def test_a_runtime_sees_only_its_own_environments_processes(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = two_functions(emulator_factory, tmp_path, "unused")
    a = succeeded(emulator.invoke({"action": "processes"}, function="A"))
    b = succeeded(emulator.invoke({"action": "processes"}, function="B"))
    # PID 1 holds the namespace; the runtime's pid inside is its pid on the host.
    assert a["processes"] == [1, a["pid"]]
    assert b["processes"] == [1, b["pid"]]
    assert {a["pid"], b["pid"]} <= set(emulator.descendants())
    line = startup_line(emulator)
    assert "PID namespace per environment with its own /proc" in line, line
    assert "Runtime API: refused to other environments' processes" in line, line


@pytest.fixture
def whoami_dir() -> Iterator[Path]:
    """The `whoami` runtime in a fresh directory any user can read (the checkout may not be)."""
    directory = Path(tempfile.mkdtemp(prefix="lambda-rie-whoami-"))
    try:
        directory.chmod(0o755)
        shutil.copy2(WHOAMI, directory / "bootstrap")
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def whoami(factory: EmulatorFactory, directory: Path, *flags: str) -> tuple[Any, str]:
    emulator = factory([*flags, "--code-dir", str(directory), "--", str(directory / "bootstrap")])
    return succeeded(emulator.invoke({}, timeout=INVOKE_DEADLINE_S)), startup_line(emulator)


@contained
def test_runtimes_run_as_the_sandbox_user_by_default(
    emulator_factory: EmulatorFactory, whoami_dir: Path
) -> None:
    user, line = whoami(emulator_factory, whoami_dir)
    # AWS's sbx_user1051; /tmp is writable by it.
    assert user == {"uid": 993, "gid": 990, "tmp_owner": 993}
    assert "user: uid 993 gid 990;" in line, line


@contained
@pytest.mark.parametrize(
    ("flag", "expected", "said"),
    [
        ("root", {"uid": 0, "gid": 0, "tmp_owner": 0}, "user: root (--run-as root);"),
        ("1234:5678", {"uid": 1234, "gid": 5678, "tmp_owner": 1234}, "user: uid 1234 gid 5678;"),
    ],
)
def test_run_as_chooses_the_user(
    emulator_factory: EmulatorFactory,
    whoami_dir: Path,
    flag: str,
    expected: dict[str, int],
    said: str,
) -> None:
    user, line = whoami(emulator_factory, whoami_dir, "--run-as", flag)
    assert user == expected
    assert said in line, line


@contained
def test_code_the_sandbox_user_cannot_read_runs_as_root_and_the_startup_line_says_why(
    emulator_factory: EmulatorFactory, whoami_dir: Path
) -> None:
    whoami_dir.chmod(stat.S_IRWXU)
    user, line = whoami(emulator_factory, whoami_dir)
    assert user["uid"] == 0
    assert f"test_function: root, {whoami_dir} is not readable by uid 993" in line, line


def python_the_sandbox_user_can_run() -> Optional[str]:
    """A system interpreter of this Python's version that uid 993 may run, if there is one."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not Path(candidate).is_file():
            continue
        probe = subprocess.run(
            [candidate, "-c", "import venv"],
            user=993,
            group=990,
            extra_groups=[],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    return None


@contained
def test_a_restored_runtime_runs_as_the_sandbox_user(face: list[str]) -> None:
    base = python_the_sandbox_user_can_run()
    if base is None:
        pytest.skip("no system Python that uid 993 may run")
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="lambda-rie-venv-"))
    factory = None
    try:
        root.chmod(0o755)
        venv = make_venv(root, base)
        factory = EmulatorFactory(venv_faces(face, venv))
        emulator = factory(
            ["--snapstart", "--code-dir", str(HANDLERS), "containment_handlers.handler"],
            cwd=Path("/"),
            env=clean_env(venv_path(venv)),
        )
        who = succeeded(emulator.invoke({}, timeout=INVOKE_DEADLINE_S))
        assert (who["uid"], who["gid"]) == (993, 990)
        # NOTE: waited for: the answer may go out before the invocation's log lines.
        emulator.stdout.wait_for(r"^RESTORE_START ")
        assert "user: uid 993 gid 990;" in startup_line(emulator)
    finally:
        if factory is not None:
            factory.close()
        shutil.rmtree(root, ignore_errors=True)


@contained
def test_the_python_api_takes_run_as(whoami_dir: Path) -> None:
    function = Function("who", command=[str(whoami_dir / "bootstrap")], code_dir=whoami_dir)
    with LambdaRieEmulator([function], run_as="1234:5678") as emulator:
        answer = emulator.invoke("who", {})
    assert answer.json() == {"uid": 1234, "gid": 5678, "tmp_owner": 1234}


def test_the_python_api_checks_run_as(whoami_dir: Path) -> None:
    function = Function("who", command=[str(whoami_dir / "bootstrap")], code_dir=whoami_dir)
    with pytest.raises(LambdaRieError, match=r"^run_as: nobody: expected root, UID or UID:GID$"):
        LambdaRieEmulator([function], run_as="nobody")


def test_run_as_is_checked(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(["--run-as", "nobody", "app.handler"], wait=False)
    assert emulator.refused() == ("lambda-rie: --run-as: nobody: expected root, UID or UID:GID")


def test_without_isolation_the_startup_line_names_the_fallbacks(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(
        ["--code-dir", str(HANDLERS), "containment_handlers.handler"],
        env=clean_env({"LAMBDA_RIE_ISOLATION": "off"}),
    )
    line = startup_line(emulator)
    assert "PID namespace: the emulator's (refused" in line, line
    assert "Runtime API: open to every local process" in line, line
    assert "user: the emulator's own" in line, line
