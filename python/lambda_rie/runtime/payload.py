"""Events in, results out: awslambdaric's JSON rules with a native fast path.

Plain JSON values (exact ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` and
``Decimal``) go through the Rust codec, which costs no import at cold start. Anything else
(subclasses, named tuples, ``bytes`` inside a result, non-``str`` keys, big integers, lone
surrogates, invalid input) is redone here with the exact rules and messages of awslambdaric's
simplejson-based marshaller, except that ``NaN``/``Infinity`` results are refused instead of
being written as invalid JSON.
"""

from __future__ import annotations

from lambda_rie._core import RuntimeClient
from lambda_rie.runtime.errors import MARSHAL_ERROR, UNMARSHAL_ERROR, FaultError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

JSON_CONTENT_TYPE = "application/json"
BYTES_CONTENT_TYPE = "application/unknown"

_fast_loads = RuntimeClient.json_loads
_fast_dumps = RuntimeClient.json_dumps


def loads(data: bytes | str) -> Any:
    """Decode JSON as awslambdaric does (simplejson's rules: big integers, a leading BOM)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        return _fast_loads(raw)
    except ValueError:
        pass
    return _loads_compatible(data)


def _loads_compatible(data: bytes | str) -> Any:
    # NOTE: only malformed or unusual documents get here. simplejson, where installed, gives
    # awslambdaric's exact error messages; the standard library otherwise.
    try:
        import simplejson  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        import json

        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text.removeprefix("\ufeff"), parse_constant=_refuse_constant)
    return simplejson.loads(data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Expecting value: {name} is not JSON")


def decode_event(body: bytes, content_type: str | None, native_declined: bool = False) -> Any:
    """The handler's event: JSON when the content type is exactly ``application/json``.

    ``native_declined`` says the Rust codec already turned this body down.
    """
    if content_type != JSON_CONTENT_TYPE:
        return body
    try:
        return _loads_compatible(body) if native_declined else loads(body)
    except Exception as exc:
        raise FaultError(UNMARSHAL_ERROR, f"Unable to unmarshal input: {exc}") from None


def encode_result(result: Any) -> tuple[bytes, str]:
    """The response body and content type for a handler's return value."""
    if isinstance(result, bytes):
        return result, BYTES_CONTENT_TYPE
    fast = _fast_dumps(result)
    if fast is not None:
        return fast, JSON_CONTENT_TYPE
    return _encode_compatible(result), JSON_CONTENT_TYPE


def stage_result(client: RuntimeClient, result: Any) -> tuple[bytes | None, str]:
    """Like `encode_result`, but a plain JSON result is encoded into the client's reused
    buffer (body ``None``: send it with `RuntimeClient.post_staged_response`).
    """
    if isinstance(result, bytes):
        return result, BYTES_CONTENT_TYPE
    if client.stage_json_response(result):
        return None, JSON_CONTENT_TYPE
    return _encode_compatible(result), JSON_CONTENT_TYPE


def _encode_compatible(result: Any) -> bytes:
    try:
        return dumps_compatible(result).encode("utf-8")
    except Exception as exc:
        raise FaultError(MARSHAL_ERROR, f"Unable to marshal response: {exc}") from None


def dumps_compatible(value: Any) -> str:
    """Encode ``value`` with the type rules of awslambdaric's encoder (ASCII output)."""
    import sys
    from json.encoder import encode_basestring_ascii

    parts: list[str] = []
    encoder = _Encoder(parts.append, encode_basestring_ascii)
    # NOTE: awslambdaric's C encoder takes one level of the recursion limit per container, so
    # a result nests as deep as the limit less the frames below it; this encoder spends a few
    # Python frames per level, so the limit is raised for it and the depth is counted instead.
    limit = sys.getrecursionlimit()
    encoder.max_depth = max(limit - _stack_depth(), 0)
    sys.setrecursionlimit(limit + _FRAMES_PER_LEVEL * encoder.max_depth)
    try:
        encoder.value(value)
    finally:
        sys.setrecursionlimit(limit)
    return "".join(parts)


#: Python frames `_Encoder` spends on one level of nesting (with a margin).
_FRAMES_PER_LEVEL = 6


def _stack_depth() -> int:
    import sys

    frame: Any = sys._getframe(1)
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def _float_text(value: float) -> str:
    import math

    if not math.isfinite(value):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return float.__repr__(value)


def _key_float_text(value: float) -> str:
    import math

    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


class _Encoder:
    """Recursive encoder following simplejson's order of type checks."""

    def __init__(self, emit: Callable[[str], Any], quote: Callable[[str], str]) -> None:
        self.emit = emit
        self.quote = quote
        self.markers: set[int] = set()
        #: Containers open at once at most (the markers are the open ones).
        self.max_depth = 1 << 30

    def value(self, value: Any) -> None:
        emit = self.emit
        if isinstance(value, str):
            emit(self.quote(value))
        elif isinstance(value, bytes):
            emit(self.quote(str(value, "utf-8")))
        elif value is None:
            emit("null")
        elif value is True:
            emit("true")
        elif value is False:
            emit("false")
        elif isinstance(value, int):
            emit(int.__repr__(value))
        elif isinstance(value, float):
            emit(_float_text(value))
        else:
            self.container(value)

    def container(self, value: Any) -> None:
        as_dict = getattr(value, "_asdict", None)
        if callable(as_dict):
            mapping = as_dict()
            if not isinstance(mapping, dict):
                raise TypeError(f"_asdict() must return a dict, not {type(mapping).__name__}")
            self.nested(value, lambda: self.mapping(mapping))
        elif isinstance(value, (list, tuple)):
            self.nested(value, lambda: self.sequence(value))
        elif isinstance(value, dict):
            self.nested(value, lambda: self.mapping(value))
        else:
            self.emit(_default(value))

    def nested(self, value: Any, encode: Callable[[], None]) -> None:
        marker = id(value)
        if marker in self.markers:
            raise ValueError("Circular reference detected")
        if len(self.markers) >= self.max_depth:
            raise RecursionError("maximum recursion depth exceeded while encoding a JSON object")
        self.markers.add(marker)
        encode()
        self.markers.discard(marker)

    def sequence(self, items: list[Any] | tuple[Any, ...]) -> None:
        self.emit("[")
        for index, item in enumerate(items):
            if index:
                self.emit(", ")
            self.value(item)
        self.emit("]")

    def mapping(self, mapping: dict[Any, Any]) -> None:
        self.emit("{")
        for index, (key, item) in enumerate(mapping.items()):
            if index:
                self.emit(", ")
            self.emit(self.quote(_key_text(key)))
            self.emit(": ")
            self.value(item)
        self.emit("}")


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return str(key, "utf-8")
    if isinstance(key, float):
        return _key_float_text(key)
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return str(int(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _default(value: Any) -> str:
    """Raw JSON for a finite ``Decimal`` (its own digits); anything else is refused."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        return str(value)
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")
