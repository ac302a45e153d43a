"""Handlers behind API Gateway routes: an echo, a binary echo and Lambda authorizers that
decide by the token (or header) they are given and hand the event they got on in `context`."""

import json


def echo(event, context):
    """The event, as the function got it."""
    return {"statusCode": 200, "body": json.dumps(event)}


def binary(event, context):
    """The request's body back, base64 as the event carried it."""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/octet-stream"},
        "body": event["body"],
        "isBase64Encoded": event["isBase64Encoded"],
    }


def _policy(effect, resource, event):
    return {
        "principalId": "ada",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"user": "ada", "level": 3, "event": json.dumps(event)},
    }


def _decide(token, event):
    arn = event["methodArn"]
    if token == "allow":
        return _policy("Allow", arn, event)
    if token == "deny":
        return _policy("Deny", arn, event)
    if token == "elsewhere":
        return _policy("Allow", arn.rsplit("/", 2)[0] + "/POST/elsewhere", event)
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "nested":
        answer = _policy("Allow", arn, event)
        answer["context"]["bad"] = {"a": 1}
        return answer
    raise RuntimeError("the authorizer failed")


def token_authorizer(event, context):
    """A TOKEN authorizer: the token says what to answer."""
    return _decide(event["authorizationToken"], event)


def request_authorizer(event, context):
    """A REQUEST authorizer: the X-Key header says what to answer."""
    key = next(v for k, v in event["headers"].items() if k.lower() == "x-key")
    return _decide(key, event)


def simple_authorizer(event, context):
    """An HTTP API authorizer with simple responses."""
    return {
        "isAuthorized": event["headers"].get("authorization") == "allow",
        "context": {"user": "ada", "event": json.dumps(event)},
    }
