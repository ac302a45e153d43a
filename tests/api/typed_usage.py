"""A user's test file, fully annotated: `mypy --strict` must accept it (see test_api_typing)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lambda_rie import (
    Emulator,
    Function,
    InvokeResult,
    LambdaRieError,
    ResourceNotFoundError,
    TooManyRequestsError,
)


@pytest.mark.lambda_function("orders", handler="app.handler", code_dir="src", timeout=10)
def test_orders(lambda_emulator: Emulator) -> None:
    result: InvokeResult = lambda_emulator.invoke("orders", {"id": 1})
    answer: Any = result.json()
    assert answer == {"id": 1}
    assert result.function_error is None
    cold: bool = result.cold_start
    init_ms: float | None = result.init_duration_ms
    assert cold == (init_ms is not None)
    tail: str = result.log_tail
    assert "REPORT RequestId:" in tail
    metrics: dict[str, float] = lambda_emulator.metrics()
    assert metrics["lambda_rie_invocations_total:orders:success"] == 1


def test_session(lambda_emulator_session: Emulator, lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="orders", Payload=json.dumps({"id": 2}))
    assert json.loads(response["Payload"].read()) == {"id": 2}
    request_id: str = lambda_emulator_session.invoke_async("orders", {"id": 3})
    assert request_id


def test_api_directly() -> None:
    functions = [
        Function("orders", handler="app.handler", code_dir="src", environment={"TABLE": "t"}),
        Function("custom", command=["./bootstrap"], reserved_concurrency=0),
    ]
    with Emulator(functions, address="127.0.0.1:0") as emu:
        url: str = emu.endpoint_url
        assert url.startswith("http://")
        with pytest.raises(TooManyRequestsError):
            emu.invoke("custom")
        with pytest.raises(ResourceNotFoundError):
            emu.invoke("missing", client_context={"custom": {"k": "v"}})

        async def many() -> list[InvokeResult]:
            return await asyncio.gather(*(emu.ainvoke("orders", {"n": n}) for n in range(3)))

        results = asyncio.run(many())
        assert all(isinstance(r.payload, bytes) for r in results)
    try:
        Emulator(config="lambda-rie.toml").close()
    except LambdaRieError as error:
        message: str = str(error)
        assert message
