"""Logs written to the telemetry descriptor AWS hands the runtime (`_LAMBDA_TELEMETRY_LOG_FD`):
one frame per record (type by format and level, length, timestamp, message), compared with
awslambdaric's frames for the same handler."""

from __future__ import annotations

import os
import select
import subprocess
import time
from typing import Any

import pytest
from runtime_harness import AWSLAMBDARIC, HANDLERS, OURS, FakeRuntimeApi, mask, runtime_env

JSON = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
CASES = {
    "text": ("logs_corpus.handler", {}),
    "text-with-level": ("logs_corpus.handler", {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}),
    "json": ("logs_corpus.handler", JSON),
    "handler-error-text": ("errors_corpus.custom", {}),
    "handler-error-json": ("errors_corpus.custom", JSON),
    "init-error-text": ("raises_at_import.handler", {}),
    "init-error-json": ("raises_at_import.handler", JSON),
}


def _read_all(fd: int, timeout: float = 10) -> bytes:
    """Everything written to the pipe until every writer closed it."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def frames(command: list[str], handler: str, env: dict[str, str]) -> list[tuple[str, str]]:
    """The `(frame type, masked message)` of each frame written during init and one invocation;
    each timestamp must be the time of writing, in microseconds."""
    api = FakeRuntimeApi()
    read_end, write_end = os.pipe()
    started_us = time.time_ns() // 1000
    process = subprocess.Popen(
        [*command, handler],
        cwd=HANDLERS,
        env=runtime_env(api.address, _LAMBDA_TELEMETRY_LOG_FD=str(write_end), **env),
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        api.invoke(b'{"qty": 0}', timeout=20)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        api.close()
        data = _read_all(read_end)
        os.close(read_end)
    ended_us = time.time_ns() // 1000
    found = []
    while data:
        kind, length = data[:4].hex(), int.from_bytes(data[4:8], "big")
        stamp = int.from_bytes(data[8:16], "big")
        assert started_us <= stamp <= ended_us
        found.append((kind, mask(data[16 : 16 + length].decode())))
        data = data[16 + length :]
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_frames_as_awslambdaric(case: str) -> None:
    handler, env = CASES[case]
    ours: Any = frames(OURS, handler, env)
    assert ours
    assert ours == frames(AWSLAMBDARIC, handler, env)
