"""Handlers fed by event source mappings: they log what they receive to a JSON-lines file."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

LOG = os.environ.get("RECORDS_LOG", "/tmp/records.jsonl")


def _log(event: dict[str, Any], start: float) -> None:
    line = json.dumps({"start": start, "end": time.time(), "records": event.get("Records", [])})
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Log the batch and succeed."""
    start = time.time()
    time.sleep(float(os.environ.get("HOLD_S", "0")))
    _log(event, start)
    return {}


def fail_marked(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Log the batch and report the messages whose body says "fail" as failed."""
    start = time.time()
    _log(event, start)
    failed = [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r.get("body", "")
    ]
    return {"batchItemFailures": failed}


def raise_always(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Log the batch and fail it whole."""
    _log(event, time.time())
    raise RuntimeError("this batch fails")


def fail_on_poison(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Log the batch; fail it whole when a Kinesis record's data is {"poison": true}."""
    _log(event, time.time())
    for r in event["Records"]:
        if json.loads(base64.b64decode(r["kinesis"]["data"])).get("poison"):
            raise ValueError("poisoned record")
    return {}


def maybe_fail(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An `Event` target: fails when the event asks it to."""
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": event}


def tumbling(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Log a tumbling-window invocation with its window fields; count the window's records in
    its state (or, with NO_STATE set, answer without one)."""
    keys = ("window", "state", "shardId", "eventSourceARN")
    flags = ("isFinalInvokeForWindow", "isWindowTerminatedEarly")
    line = {k: event.get(k) for k in (*keys, *flags)}
    line.update(start=time.time(), records=event.get("Records", []))
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    if os.environ.get("NO_STATE"):
        return {}
    return {"state": {"count": event["state"].get("count", 0) + len(event["Records"])}}
