"""SnapStart hooks: `SNAP_FAIL=before` or `SNAP_FAIL=after` makes that hook raise."""

import os

from snapshot_restore_py import register_after_restore, register_before_snapshot

RAN = []


@register_before_snapshot
def before_snapshot():
    RAN.append("before")
    if os.environ.get("SNAP_FAIL") == "before":
        raise RuntimeError("before snapshot failed")


@register_after_restore
def after_restore():
    RAN.append("after")
    if os.environ.get("SNAP_FAIL") == "after":
        raise RuntimeError("after restore failed")


def handler(event, context):
    return {"ran": RAN}
