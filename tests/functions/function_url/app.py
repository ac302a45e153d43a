"""Handlers behind function URLs: what the event was, and each shape of answer."""

import base64
import json
import os
import time

#: Answers whose framing headers lie about their bodies (a front end must set its own): a
#: length too short, whose body would be read as a second response (it is one); a length too
#: long; a transfer coding the body does not have.
FRAMING = {
    "short-length": (
        {"Content-Length": "0", "Content-Type": "text/plain"},
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged",
    ),
    "long-length": (
        {"content-length": "100000", "Content-Type": "text/plain"},
        "a body shorter than it says",
    ),
    "gzip": (
        {"Transfer-Encoding": "gzip", "Connection": "close", "Content-Type": "text/plain"},
        "not gzipped",
    ),
}

#: Answers whose header values are not strings: numbers and booleans are their text, null is
#: no header (a content type named null is none at all), a list or an object is malformed.
HEADER_VALUES = {
    "scalar-headers": {
        "statusCode": 200,
        "headers": {"X-Count": 3, "X-On": True, "X-Gone": None, "Content-Type": "text/plain"},
        "body": "scalars",
    },
    "untyped": {"statusCode": 200, "headers": {"Content-Type": None}, "body": "no type"},
    "list-header": {"statusCode": 200, "headers": {"X-List": ["a", "b"]}, "body": "x"},
    "object-header": {"statusCode": 200, "headers": {"X-Object": {"a": "b"}}, "body": "x"},
}

#: Answers by shape, besides those `shaped` builds.
ANSWERS = {
    **HEADER_VALUES,
    "bad-status": {"statusCode": "teapot"},
    "informational": {"statusCode": 101, "headers": {"Upgrade": "websocket"}},
    **{
        shape: {"statusCode": 200, "headers": headers, "body": body}
        for shape, (headers, body) in FRAMING.items()
    },
}


def echo(event, context):
    """The event, as the function got it, and its invocation's trace (`x-trace`)."""
    return {
        "statusCode": 200,
        "headers": {"x-echo": "yes", "x-trace": os.environ.get("_X_AMZN_TRACE_ID", "")},
        "body": json.dumps(event),
    }


def shaped(event, context):
    """The answer the request's `shape` query parameter names."""
    shape = (event.get("queryStringParameters") or {}).get("shape", "")
    if shape == "string":
        return "hello"
    if shape == "list":
        return ["hello", 3, True]
    if shape == "teapot":
        return {
            "statusCode": "418",
            "headers": {"Content-Type": "text/plain", "X-Tea": "pot"},
            "cookies": ["a=1", "b=2; Path=/"],
            "body": "short and stout",
        }
    if shape == "binary":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    if shape in ANSWERS:
        return ANSWERS[shape]
    if shape == "error":
        raise RuntimeError("no")
    if shape == "slow":
        time.sleep(5)
    return {"hello": "world"}


def rest(event, context):
    """A REST API (payload 1.0) handler: the answer must have a statusCode."""
    shape = (event.get("queryStringParameters") or {}).get("shape")
    if shape == "bare":
        return {"hello": "world"}
    if shape == "informational" or shape in HEADER_VALUES:
        return ANSWERS[shape]
    if shape == "object-body":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if shape == "cookies":
        return {"statusCode": 200, "cookies": ["a=1"], "body": "no cookies in 1.0"}
    if shape in FRAMING:
        headers, body = FRAMING[shape]
        return {
            "statusCode": 200,
            "headers": headers,
            "multiValueHeaders": {
                name: [value] for name, value in headers.items() if name != "Content-Type"
            },
            "body": body,
        }
    return {
        "statusCode": 200,
        "headers": {"x-trace": os.environ.get("_X_AMZN_TRACE_ID", "")},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "body": json.dumps(event),
    }


def sleepy(event, context):
    """Sleep 300 ms and say when it ran."""
    started = time.time()
    time.sleep(0.3)
    return {"started": started, "ended": time.time()}
