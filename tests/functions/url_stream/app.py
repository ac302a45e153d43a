"""Handlers of RESPONSE_STREAM function URLs (tests/test_function_url_stream.py). A handler that
waits connects to the test's port given as the query's `port` and waits for one byte (at most
20 s): the test knows it is waiting, and says when to go on."""

import socket


def wait_for(event):
    port = (event.get("queryStringParameters") or {}).get("port")
    if port:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=20) as gate:
            gate.recv(1)


def with_prelude(event, context):
    """The HTTP prelude, chunk 1, a wait, chunk 2, and the query's `more` chunks `more`."""
    yield {
        "statusCode": 201,
        "headers": {"content-type": "text/plain", "x-stage": "prelude"},
        "cookies": ["a=1; Path=/", "b=2"],
    }
    yield "chunk-1\n"
    wait_for(event)
    yield "chunk-2\n"
    for _ in range(int((event.get("queryStringParameters") or {}).get("more", "0"))):
        yield "more\n"


def without_prelude(event, context):
    """Two chunks, no prelude."""
    yield b"raw-1\n"
    yield b"raw-2\n"


def not_streamed(event, context):
    """A plain result, which a RESPONSE_STREAM URL sends as it is."""
    return {"statusCode": 418, "body": "teapot"}


def fails_first(event, context):
    """An error before any chunk."""
    raise ValueError("no stream today")
    yield b"never"


def waits(event, context):
    """A buffered answer after a wait."""
    wait_for(event)
    return {"statusCode": 200, "body": "done"}
