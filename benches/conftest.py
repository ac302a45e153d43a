"""Fixtures of the benchmarks: the black-box harness of tests/, through both faces of the CLI."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_support import COMMANDS, compile_handlers
from harness import FACES, EmulatorFactory


@pytest.fixture(scope="module", params=sorted(FACES))
def face(request: pytest.FixtureRequest) -> list[str]:
    """The argv prefix of one face of the CLI: the native binary or `python -m lambda_rie`."""
    argv = FACES[request.param]
    if not Path(argv[0]).exists():
        pytest.fail(f"{argv[0]} is missing: `make bench` builds both faces of the CLI")
    return argv


@pytest.fixture
def emulator_factory(face: list[str]) -> Iterator[EmulatorFactory]:
    """`emulator_factory(args, cwd=..., env=...)` starts lambda-rie; all are torn down after."""
    factory = EmulatorFactory(face)
    yield factory
    factory.close()


@pytest.fixture(params=sorted(COMMANDS))
def command_factory(request: pytest.FixtureRequest) -> Iterator[EmulatorFactory]:
    """Starts lambda-rie as built and as the command a wheel installs (COMMANDS)."""
    compile_handlers()
    started = EmulatorFactory(COMMANDS[request.param])
    yield started
    started.close()
