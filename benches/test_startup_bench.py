"""The three start-up figures, for a handler importing only the standard library
(`examples/bench/echo.py`) and one importing boto3 (`examples/bench/heavy.py`), under the
built-in runtime and under awslambdaric, in the same run:

- init duration: runtime process start to its first `/next` (REPORT's `Init Duration`);
- environment cold start: invoke arrival with no idle environment to answer;
- launch to first answer: lambda-rie process start to first answer (the benchmark's time).

The built-in runtime is also measured with `--snapstart`: init runs once in a template at
start-up (inside "launch to first answer"), and the environment cold start is a restore
(REPORT's `Restore Duration` stands in for the init duration).

Each round starts a fresh lambda-rie and sends it one invocation; the last
round's lambda-rie is stopped before the next starts, outside the timing. The medians of the
three figures over the rounds are in `extra_info`, with whether every answer was correct.

lambda-rie is started both as built (`target/release/lambda-rie`) and as a user who ran
`pip install lambda-rie` starts it (`.venv/bin/lambda-rie`, the command the wheel installs).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import (
    NATIVE,
    RUNTIMES,
    KeepAliveClient,
    compile_handlers,
    echoed,
    event_of,
    start_emulator,
)
from harness import INSTALLED_COMMAND, UUID, Emulator, EmulatorFactory

HANDLERS = {"stdlib": "echo.handler", "boto3": "heavy.handler"}
ROUNDS = {"stdlib": 20, "boto3": 10}
EVENT = event_of(128)
_INIT = re.compile(rf"^REPORT RequestId: ({UUID})\t.*\t(?:Init|Restore) Duration: ([0-9.]+) ms\t")
#: Runtime variants: the runtimes, and the built-in one with SnapStart.
VARIANTS = [*RUNTIMES, "builtin+snapstart"]
#: The lambda-rie that is launched: the cargo build, and the command `pip install` puts on PATH.
COMMANDS = {"built": NATIVE, "installed": [str(INSTALLED_COMMAND)]}


@pytest.fixture(params=sorted(COMMANDS))
def factory(request: pytest.FixtureRequest) -> Iterator[EmulatorFactory]:
    compile_handlers()
    started = EmulatorFactory(COMMANDS[request.param])
    yield started
    started.close()


class StartUps:
    """Every round's fresh lambda-rie and the figures of its first invocation."""

    def __init__(self, factory: EmulatorFactory, variant: str, handler: str) -> None:
        self._factory = factory
        self._runtime, _, snapstart = variant.partition("+")
        self._flags = ["--snapstart"] if snapstart else []
        self._handler = handler
        self._previous: list[Emulator] = []
        self.launch_to_first_answer_ms: list[float] = []
        self.environment_cold_start_ms: list[float] = []
        self.init_duration_ms: list[float] = []
        self.correct = True

    def stop_previous(self) -> None:
        """Untimed: stop the last round's lambda-rie and record its init duration."""
        while self._previous:
            emulator = self._previous.pop()
            match = emulator.stdout.wait_for(_INIT.pattern)
            self.init_duration_ms.append(float(match.group(2)))
            emulator.close()

    def launch(self) -> None:
        """Start lambda-rie, wait for its Invoke API, invoke once: launch to first answer."""
        launched = time.perf_counter()
        emulator = start_emulator(self._factory, self._runtime, self._handler, *self._flags)
        self._previous.append(emulator)
        client = KeepAliveClient(emulator)
        try:
            arrival = time.perf_counter()
            status, body = client.invoke(EVENT)
            answered = time.perf_counter()
        finally:
            client.close()
        self.environment_cold_start_ms.append((answered - arrival) * 1000)
        self.launch_to_first_answer_ms.append((answered - launched) * 1000)
        self.correct = self.correct and echoed(status, body, EVENT)


def started_command(factory: EmulatorFactory) -> str:
    """Which of COMMANDS the factory launches."""
    return next(name for name, argv in COMMANDS.items() if argv == factory.face)


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples), 2)


@pytest.mark.parametrize("runtime", VARIANTS)
@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_start_up(
    benchmark: BenchmarkFixture, factory: EmulatorFactory, runtime: str, handler: str
) -> None:
    rounds = StartUps(factory, runtime, HANDLERS[handler])
    benchmark.pedantic(
        rounds.launch, setup=rounds.stop_previous, rounds=ROUNDS[handler], warmup_rounds=1
    )
    rounds.stop_previous()
    # The warm-up round is left out of the medians, as it is of the timing.
    count = ROUNDS[handler]
    benchmark.extra_info.update(
        command=started_command(factory),
        runtime=runtime,
        handler=HANDLERS[handler],
        init_duration_ms=median_ms(rounds.init_duration_ms[-count:]),
        environment_cold_start_ms=median_ms(rounds.environment_cold_start_ms[-count:]),
        launch_to_first_answer_ms=median_ms(rounds.launch_to_first_answer_ms[-count:]),
        correct=rounds.correct,
    )
    assert rounds.correct
