"""Event decoding and result encoding, value by value against awslambdaric's marshaller."""

from __future__ import annotations

import collections
import decimal
import enum
import json
import uuid
from typing import Any

import pytest
from awslambdaric.lambda_runtime_exception import FaultException
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

from lambda_rie.runtime import payload
from lambda_rie.runtime.errors import FaultError

Point = collections.namedtuple("Point", "x y")


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Tag(str):
    pass


class Mapping(dict):  # type: ignore[type-arg]
    pass


class Circular(list):  # type: ignore[type-arg]
    pass


def _circular() -> Any:
    items: list[Any] = [1]
    items.append(items)
    return items


RESULTS: list[Any] = [
    None,
    True,
    0,
    -(2**63),
    2**64 + 1,
    1.5,
    1e16,
    -0.0,
    5e-324,
    "",
    "plain",
    'quote " backslash \\ control \x00\x1f\x7f tab\t',
    "héllo ☃ 😀 \u2028",
    "\ud800 lone surrogate",
    [1, [2, [3, []]], {}],
    (1, "two"),
    {"a": {"b": {"c": [None]}}},
    {1: "int", 2.5: "float", None: "none", False: "bool", float("nan"): "nan-key"},
    {b"bytes-key": b"bytes-value"},
    Point(1, 2),
    [Point(x=[1], y={"k": Point(3, 4)})],
    Mapping(a=1),
    Tag("tagged"),
    Level.HIGH,
    decimal.Decimal("1.10"),
    decimal.Decimal("-1E+30"),
    [decimal.Decimal("0.000001")],
    {"set": {1}},
    {"uuid": uuid.UUID(int=1)},
    {"enum": Color.RED},
    {(1, 2): "tuple key"},
    b"\xff\xfe raw",
    {"bad-bytes": b"\xff"},
    bytearray(b"x"),
    _circular(),
    object(),
]


def awslambdaric_result(value: Any) -> tuple[str, Any]:
    try:
        body, content_type = LambdaMarshaller().marshal_response(value)
    except FaultException as fault:
        return "error", (fault.exception_type, fault.msg)
    if isinstance(body, bytes):
        return content_type, body
    return content_type, json.loads(body)


def our_result(value: Any) -> tuple[str, Any]:
    try:
        body, content_type = payload.encode_result(value)
    except FaultError as fault:
        return "error", (fault.error_type, fault.message)
    if content_type == payload.JSON_CONTENT_TYPE:
        return content_type, json.loads(body)
    return content_type, body


@pytest.mark.parametrize("value", RESULTS, ids=lambda value: type(value).__name__)
def test_result_encoding_matches_awslambdaric(value: Any) -> None:
    assert our_result(value) == awslambdaric_result(value)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), [float("-inf")], decimal.Decimal("NaN")]
)
def test_non_finite_results_are_marshal_errors(value: Any) -> None:
    kind, (error_type, message) = our_result(value)
    assert (kind, error_type) == ("error", "Runtime.MarshalError")
    assert message.startswith("Unable to marshal response: Out of range float values")


EVENTS = [
    b"{}",
    b"null",
    b" [1, 2.5, -0, 1E3, -1e-7, true, false, null] ",
    b'{"a": {"b": ["\\u00e9\\ud83d\\ude00\\n\\"\\\\\\/"]}, "a": 2}',
    '{"k": "h\u00e9llo \u2603"}'.encode(),
    b"123456789012345678901234567890",
    b"[NaN, Infinity, -Infinity]",
    b'"\\ud800"',
    b"\xef\xbb\xbf{}",
    b'{"a": }',
    b"[1, 2",
    b"01",
    b"\xff",
    b"",
]


def awslambdaric_event(body: bytes) -> Any:
    try:
        return LambdaMarshaller().unmarshal_request(body, "application/json")
    except FaultException as fault:
        return ("error", fault.exception_type, fault.msg)


def our_event(body: bytes) -> Any:
    try:
        return payload.decode_event(body, "application/json")
    except FaultError as fault:
        return ("error", fault.error_type, fault.message)


@pytest.mark.parametrize("body", EVENTS)
def test_event_decoding_matches_awslambdaric(body: bytes) -> None:
    ours, theirs = our_event(body), awslambdaric_event(body)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json; charset=utf-8"])
def test_other_content_types_arrive_as_bytes(content_type: Any) -> None:
    assert payload.decode_event(b'{"a": 1}', content_type) == b'{"a": 1}'
