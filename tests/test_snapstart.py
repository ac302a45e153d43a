"""SnapStart (`--snapstart`, RIE's `--enable-init-caching`): init runs once in a template process,
every execution environment is a fork of it restored into its own sandbox.

`snapstart/snap.py` appends its pid to a file when its module is imported, records where its
`register_before_snapshot` and `register_after_restore` hooks ran, and reports its pid, parent,
a random number and the content of `/tmp` (after writing a marker there).
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness import (
    FUNCTIONS,
    ROOT,
    Emulator,
    EmulatorFactory,
    clean_env,
    lambda_client,
    pid_alive,
)
from test_scheduler import wait_until

SNAPSTART = FUNCTIONS / "snapstart"
ENVIRONMENTS = 4
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: Bound for a forked process to show up or go away (they take milliseconds).
PROCESS_DEADLINE_S = 10.0

isolated = pytest.mark.skipif(
    os.geteuid() != 0
    or not all((CGROUP_ROOT / c).is_dir() for c in ("memory", "pids", "cpu", "freezer")),
    reason="needs root and the cgroup v1 memory, pids, cpu and freezer hierarchies",
)


@pytest.fixture
def imports() -> Iterator[Path]:
    """A file the function's import code appends to, outside `/tmp` (environments have their
    own) so that both the template and the environments can reach it."""
    path = ROOT / "target" / "test-scratch" / f"imports-{uuid.uuid4().hex}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    yield path
    path.unlink(missing_ok=True)


def start(factory: EmulatorFactory, imports: Path, *flags: str) -> Emulator:
    return factory(
        [*flags, "snap.handler"], cwd=SNAPSTART, env=clean_env({"SNAP_IMPORTS": str(imports)})
    )


def parallel(emulator: Emulator, count: int) -> list[dict[str, Any]]:
    """`count` invocations at once, each holding its environment for a while, so that every one
    of them gets its own environment."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda _: emulator.invoke({"sleep": 1.0}), range(count)))
    for answer in answers:
        assert answer.status == 200, answer.body
    return [a.json() for a in answers]


def test_init_runs_once_and_environments_are_forks_of_the_template(
    emulator_factory: EmulatorFactory, imports: Path
) -> None:
    emulator = start(emulator_factory, imports, "--snapstart")
    results = parallel(emulator, ENVIRONMENTS)
    # Module import code ran exactly once in total, in the template.
    template = {int(line) for line in imports.read_text().splitlines()}
    assert len(imports.read_text().splitlines()) == 1
    pids = {r["pid"] for r in results}
    assert len(pids) == ENVIRONMENTS
    # Each environment's runtime is a child of the template, which ran the before hooks.
    assert {r["ppid"] for r in results} == template
    assert all(r["before"] == sorted(template) for r in results)
    # after_restore ran once per environment, in that environment.
    assert all(r["restored"] == [r["pid"]] for r in results)
    # NOTE: waited for: an answer may go out before its invocation's log lines.
    for pid in pids:
        emulator.stdout.wait_for(rf"^after_restore pid={pid} ")
    restored = re.findall(r"^after_restore pid=(\d+) ppid=(\d+)$", emulator.stdout.text(), re.M)
    assert sorted(int(p) for p, _ in restored) == sorted(pids)
    assert all(r["init_type"] == "snap-start" for r in results)
    # Each has its own Runtime API, /tmp and random seed.
    assert len({r["runtime_api"] for r in results}) == ENVIRONMENTS
    assert len({r["random"] for r in results}) == ENVIRONMENTS
    if "mount namespace" in emulator.stderr.text():
        # NOTE: only the markers: a checkout under /tmp stays visible in every environment.
        markers = [[n for n in r["tmp"] if n.startswith("marker-")] for r in results]
        assert markers == [[f"marker-{r['pid']}"] for r in results]


def test_a_terminals_ctrl_c_answers_the_invocation_in_flight(
    emulator_factory: EmulatorFactory, imports: Path
) -> None:
    emulator = start(emulator_factory, imports, "--snapstart")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(emulator.invoke, {"sleep": 2.0})
        emulator.stdout.wait_for(r"^START RequestId: ")
        # Ctrl-C: SIGINT to the terminal's foreground process group, lambda-rie's.
        os.killpg(emulator.pid, signal.SIGINT)
        answer = pending.result(timeout=30)
    assert answer.status == 200, answer.body
    assert answer.header("X-Amz-Function-Error") is None, answer.body
    assert emulator.process.wait(timeout=15) == 0, emulator.stderr_text()
    assert "KeyboardInterrupt" not in emulator.stderr_text()
    assert "Traceback" not in emulator.stdout_text()


def test_a_failing_after_restore_hook_refuses_the_invocation_with_snapstartexception(
    emulator_factory: EmulatorFactory, imports: Path
) -> None:
    marker = imports.with_name(f"{imports.stem}-restore-failed")
    emulator = emulator_factory(
        ["--snapstart", "snap.handler"],
        cwd=SNAPSTART,
        env=clean_env({"SNAP_IMPORTS": str(imports), "SNAP_FAIL_RESTORE_ONCE": str(marker)}),
    )
    try:
        lam = lambda_client(emulator.url)
        with pytest.raises(lam.exceptions.SnapStartException) as refused:
            lam.invoke(FunctionName="function", Payload=b"{}")
        error = refused.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"] == (
            "The afterRestore() runtime hook encountered an error. "
            "For more information, check the Amazon CloudWatch logs."
        )
        # Logged as the restore's failure; init is not run again inside the invocation.
        emulator.stdout.wait_for(
            r"INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error"
            r"\tError Type: Runtime.AfterRestoreError"
        )
        assert "Phase: invoke" not in emulator.stdout.text()
        # The next invocation is a new restore, which succeeds.
        answer = emulator.invoke({})
        assert answer.status == 200, answer.body
        assert answer.json()["init_type"] == "snap-start"
    finally:
        marker.unlink(missing_ok=True)


def test_report_shows_restore_duration(emulator_factory: EmulatorFactory, imports: Path) -> None:
    emulator = start(emulator_factory, imports, "--enable-init-caching")
    answer = emulator.invoke({}, {"X-Amz-Log-Type": "Tail"})
    assert answer.status == 200
    rid = answer.header("x-amzn-RequestId")
    report = emulator.stdout.wait_for(rf"^REPORT RequestId: {rid}\t.*$").group(0)
    assert re.search(r"\tRestore Duration: \d+\.\d\d ms\tBilled Restore Duration: \d+ ms\t", report)
    assert "Init Duration" not in report
    text = emulator.stdout.text()
    assert re.search(r"^RESTORE_START Runtime Version: ", text, re.M)
    assert re.search(r"^RESTORE_REPORT Restore Duration: \d+\.\d\d ms$", text, re.M)
    assert "INIT_START" not in text
    # A warm invocation afterwards is an ordinary one.
    again = emulator.invoke({})
    assert again.json()["pid"] == answer.json()["pid"]


def test_without_snapstart_every_environment_runs_init(
    emulator_factory: EmulatorFactory, imports: Path
) -> None:
    emulator = start(emulator_factory, imports)
    results = parallel(emulator, 2)
    assert len(imports.read_text().splitlines()) == 2
    assert all(r["init_type"] == "on-demand" for r in results)
    assert all(r["before"] == [] and r["restored"] == [] for r in results)


def test_without_its_template_an_environment_runs_init_itself(
    emulator_factory: EmulatorFactory, imports: Path
) -> None:
    emulator = start(emulator_factory, imports, "--snapstart")
    first = emulator.invoke({}).json()
    template = first["ppid"]
    os.kill(template, signal.SIGKILL)  # its forks go with it
    # NOTE: an invocation that reaches the runtime while it dies is a crash, as on AWS.
    deadline = time.monotonic() + 10
    while pid_alive(first["pid"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    second = emulator.invoke({})
    assert second.status == 200, second.body
    result = second.json()
    assert result["ppid"] != template
    # The runtime ran init and the hooks itself, still as a SnapStart environment.
    assert result["before"] == [result["pid"]]
    assert result["restored"] == [result["pid"]]
    assert result["init_type"] == "snap-start"
    emulator.stdout.wait_for(rf"^after_restore pid={result['pid']} ")
    assert "SnapStart restore failed" in emulator.stderr.text()


def children_of(pid: int) -> set[int]:
    """The live child processes of `pid`."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, parent = text[text.rindex(")") + 2 :].split()[:2]
        if int(parent) == pid and state != "Z":
            found.add(int(stat.parent.name))
    return found


def memory_cgroup(pid: int) -> Path:
    """The memory cgroup directory of process `pid`.

    NOTE: read from here: a restored runtime is not in its environment's PID namespace, whose
    `/proc` it sees, so it cannot read its own `/proc/self`."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP_ROOT / "memory" / path.lstrip("/")
    raise AssertionError(f"process {pid} is in no memory cgroup")


def only_spare(template: int, serving: set[int]) -> int:
    """The one child of the template that serves no environment yet (waiting for one)."""
    spares: set[int] = set()

    def forked() -> bool:
        spares.clear()
        spares.update(children_of(template) - serving)
        return len(spares) == 1

    wait_until("a runtime forked ahead of the next environment", forked, PROCESS_DEADLINE_S)
    return spares.pop()


@isolated
def test_the_next_environment_takes_a_runtime_forked_ahead_into_its_own_cgroups(
    emulator_factory: EmulatorFactory, imports: Path
) -> None:
    emulator = start(emulator_factory, imports, "--snapstart")
    first = emulator.invoke({}).json()
    template = first["ppid"]
    # The next environment's runtime is forked ahead and waits in cgroups made for it.
    spare = only_spare(template, {first["pid"]})
    ours = f"lambda-rie-{emulator.pid}-"
    wait_until(
        "the spare in cgroups of its own",
        lambda: memory_cgroup(spare).name.startswith(ours),
        PROCESS_DEADLINE_S,
    )
    waiting_in = memory_cgroup(spare)
    assert waiting_in != memory_cgroup(first["pid"])
    # A second environment (the first is busy) is that process, restored into it.
    results = parallel(emulator, 2)
    (second,) = [r for r in results if r["pid"] != first["pid"]]
    assert second["pid"] == spare
    assert second["ppid"] == template
    assert second["restored"] == [spare]
    assert second["runtime_api"] != first["runtime_api"]
    emulator.stdout.wait_for(rf"^after_restore pid={spare} ")
    # It kept those cgroups, with the function's limits, as the environment's own.
    assert memory_cgroup(second["pid"]) == waiting_in
    limit = "memory.limit_in_bytes"
    first_limit = (memory_cgroup(first["pid"]) / limit).read_text()
    assert (waiting_in / limit).read_text() == first_limit
    # The environment after it gets the next one, which ends with the template.
    following = only_spare(template, {first["pid"], second["pid"]})
    os.kill(template, signal.SIGKILL)
    wait_until("the spare gone with its template", lambda: not pid_alive(following))
    # Nothing is left behind: no process, no cgroup of the emulator.
    assert emulator.stop() == 0
    wait_until(
        "no cgroup of the emulator left",
        lambda: not list(waiting_in.parent.glob(f"lambda-rie-{emulator.pid}-*")),
        PROCESS_DEADLINE_S,
    )
