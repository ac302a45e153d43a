"""Handlers of the Python API tests."""

import os
import time


def echo(event, context):
    """Return the event."""
    print(f"echo got {event!r}")
    return event


def fail(event, context):
    """Raise a handler error."""
    print("about to fail")
    raise ValueError("deliberate failure")


def stamp(event, context):
    """Sleep `event["sleep"]` seconds; report when it started and ended (epoch seconds)."""
    started = time.time()
    time.sleep(event.get("sleep", 0.3))
    return {"start": started, "end": time.time(), "pid": os.getpid()}


def sleepy(event, context):
    """Print this process's pid, then sleep for a long time."""
    print(f"SLEEPING {os.getpid()}", flush=True)
    time.sleep(event.get("sleep", 60))
    return "woke up"


def whoami(event, context):
    """Context and client context details."""
    custom = context.client_context.custom if context.client_context else None
    return {
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "custom": custom,
        "env": os.environ.get("GREETING"),
        "pid": os.getpid(),
    }


def barrier(event, context):
    """Arrive at a barrier of `event["n"]` invocations in directory `event["dir"]`; wait until
    all have arrived (or `event["wait_s"]` has passed). Reports start, end and who it saw."""
    started = time.time()
    arrived = os.path.join(event["dir"], context.aws_request_id)
    with open(arrived, "w"):
        pass
    deadline = time.monotonic() + event["wait_s"]
    seen = len(os.listdir(event["dir"]))
    while seen < event["n"] and time.monotonic() < deadline:
        time.sleep(0.005)
        seen = len(os.listdir(event["dir"]))
    return {"start": started, "end": time.time(), "seen": seen}
