"""Resource isolation of execution environments (docs/reference.md §4, §5): a private `/tmp` of the
ephemeral-storage size, a memory limit with out-of-memory kills and a measured peak, the process
limit, rlimits, the CPU share by memory, freezing between invocations, and the fallbacks forced
by `LAMBDA_RIE_ISOLATION=off`.

Every fact is read where a user would see it: the handler's own view (`/tmp`, errno, rlimits,
a ticking thread), the Invoke API's answer, the REPORT line, the metrics, the start-up line and
the environment's cgroup files found through the runtime's `/proc/<pid>/cgroup`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

import pytest

from control_plane_support import client, create, invoke, state_args, zip_bytes
from harness import (
    FACES,
    FUNCTIONS,
    UUID,
    Emulator,
    EmulatorFactory,
    Response,
    awslambdaric,
    clean_env,
    pid_alive,
    pids_with_env,
)
from test_scheduler import all_overlap, metrics, report_line, wait_until

HANDLERS = FUNCTIONS / "isolation"
HANDLER = "isolation_handlers.handler"
RUNTIMES = {"awslambdaric": awslambdaric(HANDLER), "builtin": [HANDLER]}

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu", "freezer")
ISOLATION_OFF = {"LAMBDA_RIE_ISOLATION": "off"}

# NOTE: the isolation tests need what the emulator needs (root, cgroup v1 hierarchies); the
# fallback tests below force the fallbacks and run everywhere.
isolated = pytest.mark.skipif(
    os.geteuid() != 0 or not all((CGROUP_ROOT / c).is_dir() for c in CONTROLLERS),
    reason="needs root and the cgroup v1 memory, pids, cpu and freezer hierarchies",
)

# NOTE: bounds, not expectations: killed children are gone and cgroups removed within ms,
# a cold start answers in well under a second.
CLEANUP_DEADLINE_S = 10.0
INVOKE_DEADLINE_S = 15.0
COLD_START_ROUNDS = 3

SLEEPER = """import os
import signal
import time


def goodbye(signum, frame):
    print(f"goodbye {os.getpid()}", flush=True)
    os._exit(0)


signal.signal(signal.SIGTERM, goodbye)


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""

#: The file the /tmp tests write: a name no checkout or virtualenv under /tmp would have
#: (directories holding the code stay visible in each environment's private /tmp).
SCRATCH = "lambda-rie-scratch.txt"


def start(
    factory: EmulatorFactory,
    args: Sequence[str],
    runtime: str = "awslambdaric",
    env: Optional[dict[str, str]] = None,
) -> Emulator:
    """An emulator serving the isolation handlers with `args`."""
    return factory([*args, *RUNTIMES[runtime]], cwd=HANDLERS, env=env)


def succeeded(answer: Response) -> Any:
    """The handler's result, from an answer that must be a success."""
    assert answer.status == 200, (answer.status, answer.body[:300])
    assert answer.header("X-Amz-Function-Error") is None, answer.body[:300]
    return answer.json()


def function_error(answer: Response) -> Any:
    """The error payload, from an answer that must be an unhandled function error."""
    assert answer.status == 200, (answer.status, answer.body[:300])
    assert answer.header("X-Amz-Function-Error") == "Unhandled", answer.body[:300]
    return answer.json()


def environment_cgroup(pid: int, controller: str) -> Path:
    """The cgroup v1 directory of `controller` that process `pid` belongs to."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _hierarchy, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    raise AssertionError(f"process {pid} is in no {controller} cgroup")


def sleepers_below(emulator: Emulator) -> list[int]:
    """Live `sleep 30` processes below the emulator."""
    found = []
    for pid in emulator.descendants():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline == b"sleep\x0030\x00":
            found.append(pid)
    return found


def invoke_together(emulator: Emulator, events: Sequence[Any]) -> list[Response]:
    """Send `events` at once; their answers in order (a missing answer fails within a bound)."""

    def invoke(event: Any) -> Response:
        return emulator.invoke(event, timeout=INVOKE_DEADLINE_S)

    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(invoke, events))


def startup_line(emulator: Emulator) -> str:
    return emulator.stderr.wait_for(r"\(lambda-rie\) Isolation: ").string


# --- private /tmp -------------------------------------------------------------------------


@isolated
def test_overlapping_environments_each_read_their_own_tmp_file(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--max-environments", "2"])
    events = [
        {"action": "write_tmp", "name": SCRATCH, "text": text, "seconds": 0.5}
        for text in ("first environment", "second environment")
    ]

    runs = [succeeded(answer) for answer in invoke_together(emulator, events)]
    assert len({run["pid"] for run in runs}) == 2, runs
    assert all_overlap(runs), runs
    assert [run["read"] for run in runs] == ["first environment", "second environment"]
    # Two filesystems of the default ephemeral size, neither of them the host's /tmp.
    devices = {run["tmp_device"] for run in runs}
    assert len(devices) == 2
    assert os.stat("/tmp").st_dev not in devices
    assert [run["tmp_mb"] for run in runs] == [512, 512]


@isolated
def test_simultaneous_cold_starts_all_answer_each_with_its_own_tmp(
    emulator_factory: EmulatorFactory,
) -> None:
    # NOTE: several rounds, because environments set up at the same instant are the case.
    for _round in range(COLD_START_ROUNDS):
        emulator = start(emulator_factory, ["--max-environments", "8"], runtime="builtin")
        events = [
            {"action": "write_tmp", "name": SCRATCH, "text": f"environment {n}", "seconds": 0.2}
            for n in range(8)
        ]
        runs = [succeeded(answer) for answer in invoke_together(emulator, events)]
        assert [run["read"] for run in runs] == [f"environment {n}" for n in range(8)]
        assert len({run["pid"] for run in runs}) == 8, runs
        assert len({run["tmp_device"] for run in runs}) == 8, runs
        emulator.close()


@isolated
def test_tmp_file_of_one_warm_invocation_is_read_by_the_next(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--max-environments", "1"], runtime="builtin")

    written = succeeded(emulator.invoke({"action": "write_tmp", "name": SCRATCH, "text": "warm"}))
    read = succeeded(emulator.invoke({"action": "read_tmp", "name": SCRATCH}))
    assert read == {"pid": written["pid"], "read": "warm"}


@isolated
@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_tmp_survives_a_timeout_and_a_crash_of_the_runtime(
    emulator_factory: EmulatorFactory, runtime: str
) -> None:
    emulator = start(emulator_factory, ["--max-environments", "1", "--timeout", "1"], runtime)
    first = succeeded(emulator.invoke({"action": "write_tmp", "name": SCRATCH, "text": "kept"}))

    timed_out = function_error(emulator.invoke({"action": "sleep", "seconds": 5}))
    assert timed_out["errorType"] == "Sandbox.Timedout"
    after_timeout = succeeded(emulator.invoke({"action": "read_tmp", "name": SCRATCH}))
    assert after_timeout["read"] == "kept"
    assert after_timeout["pid"] != first["pid"]

    crashed = function_error(emulator.invoke({"action": "crash"}))
    assert crashed["errorType"] == "Runtime.ExitError"
    after_crash = succeeded(emulator.invoke({"action": "read_tmp", "name": SCRATCH}))
    assert after_crash["read"] == "kept"
    assert after_crash["pid"] not in (first["pid"], after_timeout["pid"])


@isolated
def test_writing_past_the_ephemeral_storage_fails_with_enospc_not_an_oom(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--ephemeral-storage", "512", "--memory", "256"])

    answer = emulator.invoke({"action": "fill_tmp", "name": "fill", "mb": 600})
    filled = succeeded(answer)
    assert filled["errno"] == errno.ENOSPC
    assert 500 <= filled["written_mb"] <= 512, filled
    assert "Status:" not in report_line(emulator, answer)
    # The environment keeps serving, in the same runtime process, with /tmp still full.
    after = succeeded(emulator.invoke({"action": "sleep", "seconds": 0}))
    assert after["pid"] == filled["pid"]


# --- memory -------------------------------------------------------------------------------


@isolated
def test_allocating_past_the_memory_size_is_an_out_of_memory_kill(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--memory", "128"])
    before = succeeded(emulator.invoke({"action": "rlimits"}))["pid"]

    answer = emulator.invoke({"action": "allocate", "mb": 300})
    assert answer.status == 200
    assert answer.header("X-Amz-Function-Error") == "Unhandled"
    payload = re.fullmatch(
        rb'\{"errorType":"Runtime\.OutOfMemory","errorMessage":"RequestId: ('
        + UUID.encode()
        + rb') Error: Runtime exited with error: signal: killed"\}',
        answer.body,
    )
    assert payload is not None, answer.body
    assert payload.group(1).decode() == answer.header("x-amzn-RequestId")
    assert report_line(emulator, answer).endswith(
        "\tStatus: error\tError Type: Runtime.OutOfMemory\t"
    )

    after = succeeded(emulator.invoke({"action": "rlimits"}))
    assert after["pid"] != before


@isolated
def test_max_memory_used_is_the_measured_peak(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory, ["--memory", "128"], runtime="builtin")

    answer = emulator.invoke({"action": "allocate", "mb": 50})
    assert succeeded(answer)["held_mb"] == 50
    used = re.search(r"\tMax Memory Used: (\d+) MB\t", report_line(emulator, answer))
    assert used is not None
    assert 50 <= int(used.group(1)) <= 128, used.string


# --- processes and rlimits ----------------------------------------------------------------


@isolated
@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_runtime_has_the_aws_descriptor_limit_and_no_core_files(
    emulator_factory: EmulatorFactory, runtime: str
) -> None:
    emulator = start(emulator_factory, [], runtime)

    limits = succeeded(emulator.invoke({"action": "rlimits"}))
    assert limits["nofile"] == [1024, 1024]
    assert limits["core"] == [0, 0]


@isolated
def test_process_limit_stops_a_fork_bomb_and_its_children_go(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, [])
    # A few children that outlive their invocation are seen below the emulator.
    before = succeeded(emulator.invoke({"action": "spawn", "count": 3}))
    assert before["started"] == 3
    wait_until("3 `sleep 30` children", lambda: len(sleepers_below(emulator)) == 3)

    error = function_error(emulator.invoke({"action": "spawn", "count": 2000}))
    # The fork that met pids.max failed inside the function, before the loop could finish.
    assert error["errorType"] == "BlockingIOError", error
    assert "Resource temporarily unavailable" in error["errorMessage"]
    wait_until("no `sleep 30` child left", lambda: not sleepers_below(emulator), CLEANUP_DEADLINE_S)

    after = succeeded(emulator.invoke({"action": "rlimits"}))
    assert after["pid"] != before["pid"]
    assert after["nofile"] == [1024, 1024]


# --- freezing -----------------------------------------------------------------------------


def ticks_across_an_idle_second(emulator: Emulator, *, frozen: bool) -> int:
    """How far a 10 ms ticker advances between two invocations sent 1 s apart."""
    first_answer = emulator.invoke({"action": "ticks"})
    first_at = time.monotonic()
    first = succeeded(first_answer)
    if frozen:
        wait_until(
            "the environment is frozen",
            lambda: metrics(emulator)("lambda_rie_environments", state="frozen") == 1,
        )
        freezer = environment_cgroup(first["pid"], "freezer") / "freezer.state"
        assert freezer.read_text().strip() == "FROZEN"
    time.sleep(max(0.0, first_at + 1.0 - time.monotonic()))
    second = succeeded(emulator.invoke({"action": "ticks"}))
    assert second["pid"] == first["pid"]
    assert second["at"] - first["at"] >= 1.0
    advanced: int = second["ticks"] - first["ticks"]
    return advanced


@isolated
def test_freeze_stops_the_environment_between_invocations(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--freeze"], runtime="builtin")

    assert ticks_across_an_idle_second(emulator, frozen=True) <= 10
    # Frozen again once the second invocation has ended (just after its answer is sent).
    wait_until(
        "the environment is frozen again",
        lambda: metrics(emulator)("lambda_rie_environments", state="frozen") == 1,
    )


@isolated
def test_without_freeze_the_environment_runs_between_invocations(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, [], runtime="builtin")

    assert ticks_across_an_idle_second(emulator, frozen=False) >= 50
    assert metrics(emulator)("lambda_rie_environments", state="frozen") == 0


# --- CPU share, start-up line, clean-up ---------------------------------------------------


@isolated
def test_cpu_by_memory_gives_half_a_cpu_at_885_mb_and_the_startup_line_lists_it_all(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--cpu-by-memory", "--freeze", "--memory", "885"])

    line = startup_line(emulator)
    for mechanism in (
        "private /tmp: mount namespace + size-limited tmpfs",
        "PID namespace per environment with its own /proc",
        "Runtime API: refused to other environments' processes",
        "memory: cgroup v1 limit",
        "processes: cgroup pids.max 1024",
        "cpu: cgroup quota of memory/1769 vCPUs",
        "freeze: cgroup freezer between invocations",
        "rlimits: nofile 1024, core 0",
    ):
        assert mechanism in line, line
    pid = succeeded(emulator.invoke({"action": "rlimits"}))["pid"]
    cpu = environment_cgroup(pid, "cpu")
    assert re.fullmatch(rf"lambda-rie-{emulator.pid}-\d+-env\d+", cpu.name), cpu
    assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
    # 100000 us x 885 / 1769 MB per vCPU.
    assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50028"


@isolated
def test_startup_line_without_options_leaves_cpu_and_freeze_off(
    emulator_factory: EmulatorFactory,
) -> None:
    line = startup_line(start(emulator_factory, []))
    assert "cpu: unlimited" in line, line
    assert "freeze: off" in line, line
    assert "memory: cgroup v1 limit" in line, line


@isolated
def test_environment_cgroups_are_removed_when_the_emulator_stops(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--max-environments", "2"], runtime="builtin")
    events = [{"action": "sleep", "seconds": 0.3}] * 2
    pids = {succeeded(answer)["pid"] for answer in invoke_together(emulator, events)}
    assert len(pids) == 2
    dirs = [environment_cgroup(pid, c) for pid in pids for c in CONTROLLERS]
    assert all(d.is_dir() and d.name.startswith(f"lambda-rie-{emulator.pid}-") for d in dirs)
    parents = {d.parent for d in dirs}

    assert emulator.stop() == 0

    def leftovers() -> list[Path]:
        return [d for parent in parents for d in parent.glob(f"lambda-rie-{emulator.pid}-*")]

    wait_until("no cgroup of the emulator left", lambda: not leftovers(), CLEANUP_DEADLINE_S)


@isolated
def test_every_version_and_a_replaced_one_still_running_are_stopped_with_the_emulator(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emulator = emulator_factory(state_args(state_dir, "--shutdown-timeout", "1"))
    lam = client(emulator)
    create(lam, "f", zip_bytes({"app.py": SLEEPER}), Timeout=60)
    lam.publish_version(FunctionName="f")
    version_pid = invoke(lam, "f", {}, Qualifier="1")[0]["pid"]
    parent = environment_cgroup(version_pid, "memory").parent
    prefix = f"lambda-rie-{emulator.pid}-"

    def environments() -> list[Path]:
        return list(parent.glob(f"{prefix}*"))

    with ThreadPoolExecutor(1) as pool:
        # $LATEST is busy for 30 s when its configuration changes: its scheduler is retired,
        # its environment stays until the invocation ends, or until the emulator stops.
        pool.submit(emulator.invoke, {"sleep": 30}, function="f", timeout=INVOKE_DEADLINE_S)
        wait_until("the busy environment", lambda: len(environments()) == 2, INVOKE_DEADLINE_S)
        busy_pid = next(
            int(p)
            for d in environments()
            for p in (d / "cgroup.procs").read_text().split()
            if int(p) != version_pid
        )
        lam.update_function_configuration(FunctionName="f", Description="two")
        new_pid = invoke(lam, "f", {})[0]["pid"]
        assert len(environments()) == 3
        assert emulator.stop() == 0
    # Each runtime was stopped (SIGTERM), not left to die with the emulator.
    said = set(re.findall(r"goodbye (\d+)", emulator.stdout_text()))
    assert said == {str(version_pid), str(busy_pid), str(new_pid)}, emulator.stdout_text()[-2000:]
    wait_until("no cgroup of the emulator left", lambda: not environments(), CLEANUP_DEADLINE_S)


# --- a virtualenv under /tmp -------------------------------------------------------------


def make_venv(root: Path, base_python: str = sys.executable) -> Path:
    """A virtualenv at `root`/venv, made by `base_python`, that imports this project's
    lambda_rie (through a .pth file)."""
    venv = root / "venv"
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)], check=True)
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    site = venv / "lib" / f"python{version}" / "site-packages"
    project_site = sysconfig.get_path("purelib")
    (site / "lambda-rie-project.pth").write_text(
        f"import site; site.addsitedir({project_site!r})\n"
    )
    return venv


def venv_faces(face: list[str], venv: Path) -> list[str]:
    """The face of the CLI that runs from `venv`: its `python -m lambda_rie`, or the native
    binary (which finds `python3` on the PATH given by `venv_path`)."""
    return [str(venv / "bin" / "python"), "-m", "lambda_rie"] if face == FACES["script"] else face


def venv_path(venv: Path) -> dict[str, str]:
    return {"PATH": f"{venv / 'bin'}:/usr/bin:/bin"}


@pytest.fixture
def venv_under_tmp() -> Iterator[Path]:
    """A virtualenv in a fresh directory under /tmp (see `make_venv`)."""
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="lambda-rie-venv-"))
    try:
        root.chmod(0o755)
        yield make_venv(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@isolated
def test_a_virtualenv_under_tmp_serves_from_a_working_directory_outside_tmp(
    face: list[str], venv_under_tmp: Path
) -> None:
    # `cd / && /tmp/X/venv/bin/python -m lambda_rie --code-dir CODE HANDLER`: the interpreter
    # is the venv's python (a symlink to a base interpreter outside /tmp); the
    # native binary finds `python3` on PATH, in the venv.
    factory = EmulatorFactory(venv_faces(face, venv_under_tmp))
    try:
        emulator = factory(
            ["--code-dir", str(HANDLERS), HANDLER],
            cwd=Path("/"),
            env=clean_env(venv_path(venv_under_tmp)),
        )
        used = succeeded(emulator.invoke({"action": "interpreter"}, timeout=INVOKE_DEADLINE_S))
        assert used["prefix"] == str(venv_under_tmp)
        assert used["executable"].startswith(str(venv_under_tmp / "bin"))
    finally:
        factory.close()


# --- resets kill every process of the environment -----------------------------------------


def daemons(token: str) -> list[int]:
    """Live `sleep 1000` processes carrying `token` in their environment."""
    found = []
    for pid in pids_with_env(token):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00":
                found.append(pid)
        except OSError:
            continue
    return found


def kill_daemons(token: str) -> None:
    for pid in daemons(token):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@isolated
@pytest.mark.parametrize("reset", ["timeout", "crash"])
def test_a_reset_kills_the_daemons_a_function_started_and_keeps_tmp(
    emulator_factory: EmulatorFactory, reset: str
) -> None:
    token = f"RIE_DAEMON_TOKEN={uuid.uuid4().hex}"
    name, value = token.split("=")
    emulator = start(
        emulator_factory,
        ["--max-environments", "1", "--timeout", "1"],
        runtime="builtin",
        env=clean_env({name: value}),
    )
    try:
        succeeded(emulator.invoke({"action": "write_tmp", "name": SCRATCH, "text": "kept"}))
        succeeded(emulator.invoke({"action": "daemon"}))
        wait_until("the daemon runs", lambda: len(daemons(token)) == 1)

        event = {"action": "sleep", "seconds": 5} if reset == "timeout" else {"action": "crash"}
        error = function_error(emulator.invoke(event, timeout=INVOKE_DEADLINE_S))
        assert error["errorType"] == (
            "Sandbox.Timedout" if reset == "timeout" else "Runtime.ExitError"
        )
        wait_until("no daemon left", lambda: not daemons(token), CLEANUP_DEADLINE_S)

        after = succeeded(emulator.invoke({"action": "read_tmp", "name": SCRATCH}))
        assert after["read"] == "kept"
    finally:
        kill_daemons(token)


def environment_cgroup_dirs(pid: int) -> list[Path]:
    """The environment cgroup directories (every controller) of process `pid`."""
    return [environment_cgroup(pid, c) for c in CONTROLLERS]


@isolated
@pytest.mark.parametrize("snapstart", [False, True], ids=["cold-start", "snapstart"])
def test_after_a_sigkilled_emulator_the_next_start_leaves_nothing_of_it(
    emulator_factory: EmulatorFactory, snapstart: bool
) -> None:
    token = f"RIE_DAEMON_TOKEN={uuid.uuid4().hex}"
    name, value = token.split("=")
    flags = ["--snapstart"] if snapstart else []
    try:
        old = start(emulator_factory, flags, runtime="builtin", env=clean_env({name: value}))
        succeeded(old.invoke({"action": "daemon"}))
        wait_until("the daemon runs", lambda: len(daemons(token)) == 1)
        (daemon,) = daemons(token)
        dirs = environment_cgroup_dirs(daemon)
        assert all(d.name.startswith(f"lambda-rie-{old.pid}-") for d in dirs), dirs

        os.kill(old.pid, signal.SIGKILL)
        assert old.process.wait(timeout=CLEANUP_DEADLINE_S) == -signal.SIGKILL

        start(emulator_factory, [], runtime="builtin")
        wait_until("no daemon of the old emulator", lambda: not daemons(token), CLEANUP_DEADLINE_S)
        assert not pid_alive(daemon)
        wait_until(
            "no cgroup of the old emulator",
            lambda: not any(d.exists() for d in dirs),
            CLEANUP_DEADLINE_S,
        )
    finally:
        kill_daemons(token)


# --- fallbacks (LAMBDA_RIE_ISOLATION=off) -------------------------------------------------


def test_fallback_startup_line_names_tmpdir_and_rlimit_as(
    emulator_factory: EmulatorFactory,
) -> None:
    line = startup_line(start(emulator_factory, [], env=clean_env(ISOLATION_OFF)))
    assert "private /tmp: TMPDIR directory per environment" in line, line
    assert "memory: RLIMIT_AS" in line, line
    assert "PID namespace: the emulator's (refused" in line, line


def test_fallback_tmpdir_over_the_ephemeral_size_fails_and_is_emptied(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--ephemeral-storage", "512"], env=clean_env(ISOLATION_OFF))
    empty = succeeded(emulator.invoke({"action": "list_tmpdir"}))
    assert empty["entries"] == []
    assert empty["tmpdir"] != "/tmp"

    answer = emulator.invoke({"action": "sparse", "name": "big", "mb": 600})
    error = function_error(answer)
    assert list(error) == ["errorType", "errorMessage"], error
    assert error["errorType"] == "Runtime.EphemeralStorageExceeded"
    assert isinstance(error["errorMessage"], str)
    assert error["errorMessage"]

    # The runtime was discarded and the directory emptied.
    after = succeeded(emulator.invoke({"action": "list_tmpdir"}))
    assert after["entries"] == []
    assert after["tmpdir"] == empty["tmpdir"]
    assert after["pid"] != empty["pid"]


def test_fallback_memory_limit_is_a_memory_error_in_the_function(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, ["--memory", "128"], env=clean_env(ISOLATION_OFF))
    before = succeeded(emulator.invoke({"action": "rlimits"}))["pid"]

    error = function_error(emulator.invoke({"action": "allocate", "mb": 300}))
    assert error["errorType"] == "MemoryError", error
    # A plain handler error: the environment stays warm.
    assert succeeded(emulator.invoke({"action": "rlimits"}))["pid"] == before
