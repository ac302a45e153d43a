"""A handler module that registers internal extensions while it is imported (before the
runtime's first /next), as in-process agents do, and reports what the Extensions API said."""

import http.client
import json
import os
import threading

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
ANSWERS = []
SEEN = []


def call(method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(API, timeout=600)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def register(name, events):
    status, headers, body = call(
        "POST",
        "/2020-01-01/extension/register",
        json.dumps({"events": events}).encode(),
        {"Lambda-Extension-Name": name},
    )
    ANSWERS.append({"name": name, "status": status, "body": json.loads(body)})
    return headers.get("Lambda-Extension-Identifier")


def loop(extension_id, name):
    while True:
        _, _, body = call(
            "GET",
            "/2020-01-01/extension/event/next",
            headers={"Lambda-Extension-Identifier": extension_id},
        )
        SEEN.append([name, json.loads(body)["requestId"]])


ids = [(register("inner-0", ["INVOKE"]), "inner-0")]
register("inner-0", ["INVOKE"])  # the same name again
register("inner-shutdown", ["SHUTDOWN"])  # internal extensions cannot take SHUTDOWN
register("inner-odd", ["RESTART"])  # no such event
for n in range(1, 10):
    ids.append((register(f"inner-{n}", []), f"inner-{n}"))
register("inner-10", [])  # the eleventh
for extension_id, name in ids:
    threading.Thread(target=loop, args=(extension_id, name), daemon=True).start()


def handler(event, context):
    return {"answers": ANSWERS, "seen": list(SEEN)}
