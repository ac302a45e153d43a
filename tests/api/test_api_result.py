"""`InvokeResult`: one class, made by the native extension, for `invoke` and `ainvoke`; the
documented fields with their types, read-only; a repr that says what happened; its stub."""

from __future__ import annotations

import ast
import asyncio
import copy
import inspect
import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from api_support import HANDLERS

import lambda_rie
from lambda_rie import Emulator, Function, InvokeResult

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STUB = Path(lambda_rie.__file__).parent / "_core.pyi"
# The public contract of docs/testing.md and the README, in the documented order.
FIELDS = (
    "status_code",
    "payload",
    "function_error",
    "log_tail",
    "request_id",
    "cold_start",
    "init_duration_ms",
    "duration_ms",
    "max_memory_used_mb",
)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    functions = [
        Function("echo", handler="app.echo", code_dir=HANDLERS),
        Function("fail", handler="app.fail", code_dir=HANDLERS),
    ]
    with Emulator(functions) as e:
        yield e


def a_result(**changes: object) -> InvokeResult:
    fields: dict[str, object] = {
        "status_code": 200,
        "payload": b'{"id": 7}',
        "function_error": None,
        "log_tail": "START\nREPORT\n",
        "request_id": "f0e1d2c3-0000-4000-8000-000000000001",
        "cold_start": True,
        "init_duration_ms": 12.5,
        "duration_ms": 3.25,
        "max_memory_used_mb": 41,
    }
    fields.update(changes)
    return InvokeResult(**fields)  # type: ignore[arg-type]


def test_invoke_and_ainvoke_return_the_native_class(emu: Emulator) -> None:
    async def main() -> InvokeResult:
        return await emu.ainvoke("echo", {"n": 2})

    sync = emu.invoke("echo", {"n": 1})
    asynchronous = asyncio.run(main())
    assert type(sync) is InvokeResult
    assert type(asynchronous) is InvokeResult
    assert InvokeResult.__module__ == "lambda_rie._core"
    assert lambda_rie.InvokeResult is lambda_rie.api.InvokeResult is InvokeResult
    assert asynchronous.json() == {"n": 2}


def test_a_result_has_the_documented_fields_and_types() -> None:
    with Emulator([Function("echo", handler="app.echo", code_dir=HANDLERS)]) as emu:
        cold = emu.invoke("echo", {"id": 7})
        warm = emu.invoke("echo", {"id": 8})
    assert cold.status_code == 200
    assert type(cold.status_code) is int
    assert cold.payload == b'{"id":7}'
    assert type(cold.payload) is bytes
    assert cold.json() == {"id": 7}
    assert cold.function_error is None
    assert re.fullmatch(UUID, cold.request_id)
    assert f"REPORT RequestId: {cold.request_id}\t" in cold.log_tail
    assert "echo got {'id': 7}" in cold.log_tail
    assert (cold.cold_start, warm.cold_start) == (True, False)
    assert type(cold.init_duration_ms) is float
    assert cold.init_duration_ms > 0
    assert warm.init_duration_ms is None
    assert type(cold.duration_ms) is float
    assert type(cold.max_memory_used_mb) is int
    assert cold.max_memory_used_mb > 0


def test_a_failed_function_sets_function_error(emu: Emulator) -> None:
    result = emu.invoke("fail", {})
    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    assert result.json()["errorMessage"] == "deliberate failure"


def test_repr_says_what_happened(emu: Emulator) -> None:
    result = emu.invoke("echo", {"id": 7})
    assert re.fullmatch(
        rf"<InvokeResult 200 request_id='{UUID}' cold_start=(True|False) "
        r"duration_ms=\d+\.\d\d payload=b'\{\"id\":7\}'>",
        repr(result),
    )
    failed = emu.invoke("fail", {})
    assert re.fullmatch(
        rf"<InvokeResult 200 request_id='{UUID}', function_error='Unhandled' cold_start=\w+ "
        r"duration_ms=\d+\.\d\d payload=b'\{\"errorMessage\": \"deliberate failure\", .*'>",
        repr(failed),
    )


def test_repr_shows_the_first_80_bytes_of_the_payload() -> None:
    result = a_result(payload=b"x" * 100 + b"\xff", duration_ms=1.005, cold_start=False)
    assert repr(result) == (
        "<InvokeResult 200 request_id='f0e1d2c3-0000-4000-8000-000000000001' "
        f"cold_start=False duration_ms=1.00 payload=b'{'x' * 80}'>"
    )


def test_a_result_is_read_only() -> None:
    result = a_result()
    for name in FIELDS:
        before = getattr(result, name)
        with pytest.raises(AttributeError):
            setattr(result, name, before)
        with pytest.raises(AttributeError):
            delattr(result, name)
        assert getattr(result, name) == before
    with pytest.raises(AttributeError):
        result.extra = 1  # type: ignore[attr-defined]


def test_a_result_is_built_from_keyword_arguments_with_defaults() -> None:
    result = InvokeResult(status_code=200, payload=b"[]")
    assert [getattr(result, name) for name in FIELDS] == [
        200,
        b"[]",
        None,
        "",
        "",
        False,
        None,
        0.0,
        0,
    ]
    with pytest.raises(TypeError):
        InvokeResult(200, b"[]")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        InvokeResult(status_code=200, payload="not bytes")  # type: ignore[arg-type]


def test_json_decodes_with_orjson() -> None:
    assert a_result(payload=b'{"big": 12345678901234567890}').json() == {
        "big": 12345678901234567890
    }
    with pytest.raises(orjson.JSONDecodeError):
        a_result(payload=b"not json").json()


def test_a_result_pickles_and_copies_as_before() -> None:
    result = a_result(function_error="Unhandled")
    values = [getattr(result, name) for name in FIELDS]
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(result, protocol=protocol))
        assert type(again) is InvokeResult
        assert [getattr(again, name) for name in FIELDS] == values
    for protocol in (0, 1):
        with pytest.raises(TypeError):
            pickle.dumps(result, protocol=protocol)
    assert [getattr(copy.copy(result), name) for name in FIELDS] == values
    assert [getattr(copy.deepcopy(result), name) for name in FIELDS] == values


class Tagged(InvokeResult):
    """A user's own result type (e.g. a test double), pickled by name."""


def test_a_subclass_keeps_its_own_attributes() -> None:
    tagged = Tagged(status_code=200, payload=b"{}")
    tagged.tag = "x"  # type: ignore[attr-defined]
    again = pickle.loads(pickle.dumps(tagged))
    assert (type(again), again.tag, again.payload) == (Tagged, "x", b"{}")


def _stub_class() -> ast.ClassDef:
    tree = ast.parse(STUB.read_text())
    return next(
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "InvokeResult"
    )


def test_the_stub_declares_exactly_the_documented_fields() -> None:
    stub = _stub_class()
    properties = [
        node.name
        for node in stub.body
        if isinstance(node, ast.FunctionDef)
        and any(ast.unparse(d) == "property" for d in node.decorator_list)
    ]
    assert properties == list(FIELDS)
    new = next(n for n in stub.body if isinstance(n, ast.FunctionDef) and n.name == "__new__")
    assert [arg.arg for arg in new.args.kwonlyargs] == list(FIELDS)
    runtime = {
        name
        for name, value in vars(InvokeResult).items()
        if not name.startswith("_") and inspect.isdatadescriptor(value)
    }
    assert runtime == set(FIELDS)
    assert list(inspect.signature(InvokeResult).parameters) == list(FIELDS)
