"""Log lines around each invocation on the emulator's stdout (docs/reference.md §7)."""

from __future__ import annotations

import math
import re
import uuid

from harness import UUID, Emulator, EmulatorFactory, awslambdaric

INIT_START = r"^INIT_START Runtime Version: [^\t]+\tRuntime Version ARN: [^\t]+$"
REPORT = (
    r"^REPORT RequestId: (?P<id>{id})\tDuration: (?P<duration>\d+\.\d{{2}}) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: (?P<max_memory>\d+) MB\t"
    r"(?:Init Duration: (?P<init>\d+\.\d{{2}}) ms\t)?$"
)


def report(emulator: Emulator, request_id: str) -> re.Match[str]:
    return emulator.stdout.wait_for(REPORT.format(id=re.escape(request_id)))


def test_start_end_report_in_aws_order(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(["--memory", "256", *awslambdaric("app.handler")])
    markers = [f"marker-{uuid.uuid4().hex}" for _ in range(2)]
    ids = []
    for marker in markers:
        answer = emulator.invoke({"action": "log", "message": marker})
        assert answer.status == 200
        ids.append(answer.header("x-amzn-RequestId") or "")
    cold, warm = report(emulator, ids[0]), report(emulator, ids[1])

    lines = emulator.stdout.lines()
    position = {line: n for n, line in reversed(list(enumerate(lines)))}
    init_starts = [n for n, line in enumerate(lines) if re.match(INIT_START, line)]
    assert len(init_starts) == 1, "\n".join(lines)
    expected_order = [init_starts[0]]
    for request_id, marker in zip(ids, markers):
        assert re.fullmatch(UUID, request_id)
        expected_order += [
            position[f"START RequestId: {request_id} Version: $LATEST"],
            position[marker],
            position[f"END RequestId: {request_id}"],
            next(
                n
                for n, line in enumerate(lines)
                if line.startswith(f"REPORT RequestId: {request_id}\t")
            ),
        ]
    assert expected_order == sorted(expected_order), "\n".join(lines)

    # Init Duration only on the cold start; init is billed with it.
    assert cold["init"] is not None
    assert warm["init"] is None
    for match in (cold, warm):
        assert match["memory"] == "256"
        assert 0 < int(match["max_memory"]) < 256
    spent = float(cold["duration"]) + float(cold["init"])
    assert math.ceil(spent - 0.011) <= int(cold["billed"]) <= math.ceil(spent + 0.011)
    spent = float(warm["duration"])
    assert math.ceil(spent - 0.011) <= int(warm["billed"]) <= math.ceil(spent + 0.011)


def test_max_memory_used_is_the_measured_peak(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(["--memory", "1024", *awslambdaric("app.handler")])
    before = emulator.invoke({})
    peak_before = int(report(emulator, before.header("x-amzn-RequestId") or "")["max_memory"])
    grown = emulator.invoke({"action": "allocate", "mb": 100})
    assert grown.json() == 100 << 20
    peak_after = int(report(emulator, grown.header("x-amzn-RequestId") or "")["max_memory"])
    assert peak_after >= peak_before + 100
    assert peak_after < 1024


def test_first_invoke_after_a_crash_is_a_cold_start(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(awslambdaric("app.handler"))
    assert emulator.invoke({"action": "exit", "code": 3}).status == 200
    answer = emulator.invoke({})
    assert answer.status == 200
    assert report(emulator, answer.header("x-amzn-RequestId") or "")["init"] is not None
    init_starts = [line for line in emulator.stdout.lines() if re.match(INIT_START, line)]
    assert len(init_starts) == 2


def test_debug_logs_time_each_step_of_a_cold_start(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(["--log-level", "debug", *awslambdaric("app.handler")])
    assert emulator.invoke({}).status == 200
    ms = r"\d+\.\d\d ms"
    emulator.stderr.wait_for(
        rf"sandbox of environment 1 of \S+: user {ms}, namespaces and /tmp {ms}, cgroup {ms}, "
        rf"members {ms} \(total {ms}\)$"
    )
    created = emulator.stderr.wait_for(
        rf"environment 1 of \S+ created: Runtime API {ms}, log streams {ms}, "
        rf"sandbox ({ms}) \(total ({ms})\)$"
    )
    init = emulator.stderr.wait_for(
        rf"init of environment 1 of \S+: extensions started {ms}, runtime spawned {ms}, "
        rf"runtime ready ({ms}), extensions ready {ms}, cgroup moves {ms} \(total ({ms})\)$"
    )
    # Each total covers its steps; the runtime's start and init is part of init's.
    assert float(created.group(1).split()[0]) <= float(created.group(2).split()[0])
    assert float(init.group(1).split()[0]) <= float(init.group(2).split()[0])
    # A warm invoke is not timed again.
    assert emulator.invoke({}).status == 200
    assert len([x for x in emulator.stderr.lines() if "init of environment" in x]) == 1
