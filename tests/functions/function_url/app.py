"""Handlers behind function URLs: what the event was, and each shape of answer."""

import base64
import json
import time


def echo(event, context):
    """The event, as the function got it."""
    return {"statusCode": 200, "headers": {"x-echo": "yes"}, "body": json.dumps(event)}


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
    if shape == "bad-status":
        return {"statusCode": "teapot"}
    if shape == "error":
        raise RuntimeError("no")
    if shape == "slow":
        time.sleep(5)
    return {"hello": "world"}


def rest(event, context):
    """A REST API (payload 1.0) handler: the answer must have a statusCode."""
    if (event.get("queryStringParameters") or {}).get("shape") == "bare":
        return {"hello": "world"}
    return {
        "statusCode": 200,
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "body": json.dumps(event),
    }


def sleepy(event, context):
    """Sleep 300 ms and say when it ran."""
    started = time.time()
    time.sleep(0.3)
    return {"started": started, "ended": time.time()}
