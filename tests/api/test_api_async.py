"""`Emulator.ainvoke` under asyncio: answers, errors, real concurrency, cancellation."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator

import pytest
from api_support import HANDLERS

from lambda_rie import Emulator, Function, InvokeResult, ResourceNotFoundError

CONCURRENT = 20
# NOTE: a bound, not an expectation: 20 cold starts take well under a second.
BARRIER_WAIT_S = 30


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    functions = [
        Function("echo", handler="app.echo", code_dir=HANDLERS),
        Function("barrier", handler="app.barrier", code_dir=HANDLERS, timeout=60),
        Function("sleepy", handler="app.sleepy", code_dir=HANDLERS, timeout=60),
    ]
    with Emulator(functions, max_environments=CONCURRENT + 4) as e:
        yield e


def test_ainvoke_answers_under_asyncio_run(emu: Emulator) -> None:
    async def main() -> InvokeResult:
        return await emu.ainvoke("echo", {"async": 1})

    result = asyncio.run(main())
    assert result.json() == {"async": 1}
    assert result.function_error is None
    assert "echo got {'async': 1}" in result.log_tail


def test_ainvoke_raises_service_errors(emu: Emulator) -> None:
    async def main() -> None:
        await emu.ainvoke("missing")

    with pytest.raises(ResourceNotFoundError):
        asyncio.run(main())


def test_concurrent_ainvokes_overlap(emu: Emulator) -> None:
    # Every invocation waits at a barrier until all 20 have arrived: they only all get past it
    # if all 20 run at the same time. /dev/shm is shared with the environments (/tmp is not).
    with tempfile.TemporaryDirectory(dir="/dev/shm") as barrier:
        event = {"dir": barrier, "n": CONCURRENT, "wait_s": BARRIER_WAIT_S}

        async def main() -> list[InvokeResult]:
            calls = [emu.ainvoke("barrier", event) for _ in range(CONCURRENT)]
            return await asyncio.gather(*calls)

        results = asyncio.run(main())
    answers = [r.json() for r in results]
    assert [a["seen"] for a in answers] == [CONCURRENT] * CONCURRENT
    assert max(a["start"] for a in answers) < min(a["end"] for a in answers)
    assert len({r.request_id for r in results}) == CONCURRENT


def test_a_cancelled_ainvoke_leaves_the_loop_and_the_emulator_healthy(emu: Emulator) -> None:
    async def main() -> InvokeResult:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(emu.ainvoke("sleepy", {"sleep": 1}), timeout=0.05)
        return await emu.ainvoke("echo", [3])

    assert asyncio.run(main()).json() == [3]


def test_ainvoke_works_on_uvloop(emu: Emulator) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> InvokeResult:
        return await emu.ainvoke("echo", {"loop": "uv"})

    assert uvloop.run(main()).json() == {"loop": "uv"}
