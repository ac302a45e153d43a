"""The three start-up figures, for a handler importing only the standard library
(`examples/bench/echo.py`) and one importing boto3 (`examples/bench/heavy.py`), under the
built-in runtime and under awslambdaric, in the same run:

- init duration: runtime process start to its first `/next` (REPORT's `Init Duration`);
- environment cold start: invoke arrival with no idle environment to answer;
- launch to first answer: lambda-rie process start to first answer (the benchmark's time).

The reference `floor` runtime (`floor_runtime.py`: the handler's import, `json` and raw HTTP
over the C socket module, nothing else) shows what any Python runtime pays: the interpreter's
start, the handler's import and one Runtime API exchange. The built-in runtime's distance to it
is what a runtime can still cut.

The built-in runtime is also measured with `--snapstart`: init runs once in a template at
start-up (inside "launch to first answer"), and the environment cold start is a restore
(REPORT's `Restore Duration` stands in for the init duration).

Each round starts a fresh lambda-rie and sends it one invocation; the last
round's lambda-rie is stopped before the next starts, outside the timing. The medians of the
three figures over the rounds are in `extra_info`, with whether every answer was correct.

lambda-rie is started both as built (`target/release/lambda-rie`) and as a user who ran
`pip install lambda-rie` starts it (`.venv/bin/lambda-rie`, the command the wheel installs).

With LAMBDA_RIE_BENCH_RIE=/path/to/aws-lambda-rie, AWS's emulator runs the same rounds with
awslambdaric (`test_start_up_aws_rie`); without it, that test skips.
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import (
    AWS_RIE_ABSENT,
    FLOOR,
    RUNTIMES,
    StartUps,
    aws_rie_binary,
    compile_handlers,
    lambda_rie_launcher,
    median_ms,
    start_aws_rie,
    started_command,
)
from harness import EmulatorFactory

HANDLERS = {"stdlib": "echo.handler", "boto3": "heavy.handler"}
ROUNDS = {"stdlib": 20, "boto3": 10}
#: Runtime variants: the runtimes, the built-in one with SnapStart, and the reference floor.
VARIANTS = [*RUNTIMES, "builtin+snapstart", FLOOR]


def record(benchmark: BenchmarkFixture, rounds: StartUps, count: int, **labels: str) -> None:
    """The medians of the last `count` rounds (the warm-up round is left out, as it is of the
    timing) in `extra_info`, with the labels and whether every answer was correct."""
    benchmark.extra_info.update(
        labels,
        init_duration_ms=median_ms(rounds.init_duration_ms[-count:]),
        environment_cold_start_ms=median_ms(rounds.environment_cold_start_ms[-count:]),
        launch_to_first_answer_ms=median_ms(rounds.launch_to_first_answer_ms[-count:]),
        correct=rounds.correct,
    )


@pytest.mark.parametrize("runtime", VARIANTS)
@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_start_up(
    benchmark: BenchmarkFixture, command_factory: EmulatorFactory, runtime: str, handler: str
) -> None:
    rounds = StartUps(lambda_rie_launcher(command_factory, runtime, HANDLERS[handler]))
    benchmark.pedantic(
        rounds.launch, setup=rounds.stop_previous, rounds=ROUNDS[handler], warmup_rounds=1
    )
    rounds.stop_previous()
    record(
        benchmark,
        rounds,
        ROUNDS[handler],
        command=started_command(command_factory),
        runtime=runtime,
        handler=HANDLERS[handler],
    )
    assert rounds.correct


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_start_up_aws_rie(benchmark: BenchmarkFixture, handler: str) -> None:
    """The same rounds with AWS's emulator and awslambdaric (its REPORT line is not read: the
    init duration is left empty)."""
    found = aws_rie_binary()
    if found is None:
        pytest.skip(AWS_RIE_ABSENT)
    binary: str = found
    compile_handlers()
    rounds = StartUps(lambda: start_aws_rie(binary, HANDLERS[handler]), reports_init=False)
    try:
        benchmark.pedantic(
            rounds.launch, setup=rounds.stop_previous, rounds=ROUNDS[handler], warmup_rounds=1
        )
    finally:
        rounds.stop_previous()
    record(
        benchmark,
        rounds,
        ROUNDS[handler],
        command="aws-lambda-rie",
        runtime="awslambdaric",
        handler=HANDLERS[handler],
    )
    assert rounds.correct
