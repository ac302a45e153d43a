"""Fixtures of the runtime tests (helpers live in runtime_harness.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import pytest
from runtime_harness import HANDLERS, OURS, Emulator, FakeRuntimeApi, RuntimeProcess


@pytest.fixture
def fake_api():
    api = FakeRuntimeApi()
    yield api
    api.close()


@pytest.fixture
def start_runtime(fake_api: FakeRuntimeApi):
    """Start our runtime (or another `command`) on a handler of the corpus."""
    started: list[RuntimeProcess] = []

    def start(handler: str, command: Optional[list[str]] = None, **env: str) -> RuntimeProcess:
        process = RuntimeProcess(command or OURS, handler, fake_api, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.finish()


@pytest.fixture
def emulator():
    """Start lambda-rie serving `command` (our runtime by default) for a handler."""
    started: list[Emulator] = []

    def start(
        handler: str,
        command: Optional[list[str]] = None,
        code_dir: Path = HANDLERS,
        args: Optional[list[str]] = None,
        **env: str,
    ) -> Emulator:
        full_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "_LAMBDA_"))
        }
        full_env.update(PYTHONDONTWRITEBYTECODE="1", **env)
        emulator = Emulator([*(command or OURS), handler], code_dir, args or [], full_env)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.close()


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
