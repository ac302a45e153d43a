"""A SnapStart function: init appends to a file (once in total), hooks record where they ran.

With `SNAP_FAIL_RESTORE_ONCE=PATH`, the first after-restore hook to find no file at PATH makes it
and fails."""

import os
import random
import time

from snapshot_restore_py import register_after_restore, register_before_snapshot

IMPORTS_FILE = os.environ.get("SNAP_IMPORTS")
if IMPORTS_FILE:
    with open(IMPORTS_FILE, "a") as imports:
        imports.write(f"{os.getpid()}\n")

BEFORE = []
RESTORED = []


@register_before_snapshot
def before_snapshot():
    BEFORE.append(os.getpid())


@register_after_restore
def after_restore():
    fail_once = os.environ.get("SNAP_FAIL_RESTORE_ONCE")
    if fail_once and not os.path.exists(fail_once):
        open(fail_once, "w").close()
        raise RuntimeError("after restore failed")
    RESTORED.append(os.getpid())
    print(f"after_restore pid={os.getpid()} ppid={os.getppid()}", flush=True)


def handler(event, context):
    with open(f"/tmp/marker-{os.getpid()}", "w"):
        pass
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "random": random.random(),
        "tmp": sorted(os.listdir("/tmp")),
        "before": BEFORE,
        "restored": RESTORED,
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
    }
