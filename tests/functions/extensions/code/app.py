"""Handlers of the extension tests."""

import time


def handler(event, context):
    start = time.time()
    print(f"hello from handler {context.aws_request_id}")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"request_id": context.aws_request_id, "start": start, "end": time.time()}
