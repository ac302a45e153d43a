"""Fixtures of the black-box suite: lambda-rie run as a process through both faces of its CLI."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_support import MotoServer, moto_server
from harness import FACES, Emulator, EmulatorFactory, awslambdaric


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "stress: small in the normal run, full size with LAMBDA_RIE_STRESS=full"
    )


@pytest.fixture(scope="module", params=sorted(FACES))
def face(request: pytest.FixtureRequest) -> list[str]:
    """The argv prefix of one face of the CLI: the native binary or `python -m lambda_rie`."""
    argv = FACES[request.param]
    if not Path(argv[0]).exists():
        pytest.fail(f"{argv[0]} is missing: `make test` builds both faces of the CLI")
    return argv


@pytest.fixture
def emulator_factory(face: list[str]) -> Iterator[EmulatorFactory]:
    """`emulator_factory(args, cwd=..., env=...)` starts lambda-rie; all are torn down after."""
    factory = EmulatorFactory(face)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def echo_emulator(face: list[str]) -> Iterator[Emulator]:
    """One emulator per face and module serving `app.handler` with awslambdaric.

    Only for tests that leave the environment warm and healthy.
    """
    factory = EmulatorFactory(face)
    try:
        yield factory(awslambdaric("app.handler"))
    finally:
        factory.close()


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """An empty directory for `--state-dir` (and the files of the test), removed after.

    NOTE: outside pytest's shared temporary root, which each new pytest run prunes to its last
    three sessions: under concurrent runs a stored function's code would vanish mid-test.
    """
    path = Path(tempfile.mkdtemp(prefix="lambda-rie-state-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """A moto server on 127.0.0.1 for the module (SQS, Kinesis, DynamoDB Streams, SNS, ...)."""
    yield from moto_server()


@pytest.fixture
def factory() -> Iterator[EmulatorFactory]:
    """Emulators of the native face only, torn down after the test.

    NOTE: for tests of the Rust core's pollers and clients, which both faces share: a second
    face would only double their time.
    """
    f = EmulatorFactory(FACES["native"])
    yield f
    f.close()
