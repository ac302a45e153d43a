"""Handlers that return a generator or an async generator: the result is streamed.

Each item (``bytes``, or ``str`` sent as UTF-8) goes to the Runtime API as one HTTP chunk as
soon as the handler yields it; an exception raised midway ends the stream with AWS's error
trailers. This is lambda-rie's own capability: AWS's managed Python runtime cannot stream.
A first item that is a dict is the HTTP prelude of a `RESPONSE_STREAM` function URL
(``{"statusCode": ..., "headers": {...}, "cookies": [...]}``, docs/reference.md §14): it is sent
as JSON and 8 NUL bytes, with the content type Node.js's ``awslambda.HttpResponseStream`` uses.
Imported only when a handler returns a generator, so other handlers never pay for it.
"""

from __future__ import annotations

from lambda_rie.runtime import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Any, Callable, Optional, Union

    from lambda_rie._core import ResponseStream, RuntimeClient

    Chunks = Union[Iterator[Any], AsyncIterator[Any]]

CONTENT_TYPE = "application/octet-stream"
#: A stream that starts with an HTTP prelude.
PRELUDE_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_END = b"\0" * 8


class Prelude(bytes):
    """The first chunk when it is an HTTP prelude: its JSON and the 8 NUL bytes."""


class StreamClosedError(Exception):
    """The Runtime API stopped reading the stream (body too large, invocation timed out)."""


def is_async(result: Any) -> bool:
    """Whether `result` is an async generator (else a generator)."""
    return hasattr(type(result), "__anext__")


def to_bytes(chunk: Any) -> bytes:
    """One yielded item as the bytes of one chunk."""
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"a streamed chunk must be bytes or str, not {type(chunk).__name__}")


def first_chunk(result: Chunks, run: Callable[[Any], Any]) -> Optional[bytes]:
    """The first chunk (``None`` when there is none; a `Prelude` for a dict). Raised here, the
    handler's exception is a plain handler error, posted to `/error` like any other."""
    try:
        item = (
            run(result.__anext__())  # type: ignore[union-attr]
            if is_async(result)
            else next(result)  # type: ignore[arg-type]
        )
    except (StopIteration, StopAsyncIteration):
        return None
    if isinstance(item, dict):
        import json

        return Prelude(json.dumps(item, separators=(",", ":")).encode("utf-8") + PRELUDE_END)
    return to_bytes(item)


def send(
    client: RuntimeClient,
    request_id: str,
    invocation_id: Optional[str],
    result: Chunks,
    *,
    first: Optional[bytes],
    run: Callable[[Any], Any],
    log_error: Callable[[errors.ErrorResult], None],
) -> int:
    """Stream `first` and the rest of `result`; the HTTP status of the Runtime API's answer.

    An error that ends the stream goes to `log_error` before the stream ends, so that its lines
    belong to the invocation (before END, in its log tail), then into the trailers."""
    content_type = PRELUDE_CONTENT_TYPE if isinstance(first, Prelude) else CONTENT_TYPE
    writer = client.start_stream(request_id, content_type, invocation_id)
    failure: Optional[errors.ErrorResult] = None
    try:
        if first is not None:
            _write(writer, first)
            if is_async(result):
                run(_pump_async(result, writer))  # type: ignore[arg-type]
            else:
                for chunk in result:  # type: ignore[union-attr]
                    _write(writer, to_bytes(chunk))
    except StreamClosedError:
        _close(result, run)
        return _finish(writer, None)
    except Exception as exc:
        failure = errors.error_from_exception(exc, request_id)
    error = None
    if failure is not None:
        log_error(failure)
        error = (failure["errorType"], errors.to_json(failure).encode("utf-8"))
    return _finish(writer, error)


def _write(writer: ResponseStream, data: bytes) -> None:
    try:
        writer.write(data)
    except OSError as exc:
        raise StreamClosedError(str(exc)) from None


async def _pump_async(result: AsyncIterator[Any], writer: ResponseStream) -> None:
    async for chunk in result:
        _write(writer, to_bytes(chunk))


def _finish(writer: ResponseStream, error: Optional[tuple[str, bytes]]) -> int:
    try:
        return writer.finish(error)
    except OSError:
        return 0


def _close(result: Chunks, run: Callable[[Any], Any]) -> None:
    """Run the generator's cleanup (``finally`` blocks) once nobody reads it any more."""
    try:
        if is_async(result):
            run(result.aclose())  # type: ignore[union-attr]
        else:
            result.close()  # type: ignore[union-attr]
    except Exception:
        pass
