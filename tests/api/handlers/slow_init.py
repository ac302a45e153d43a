"""A handler whose init takes a long time: the import sleeps (`SLOW_INIT_S`, default 30 s)."""

import os
import time

time.sleep(float(os.environ.get("SLOW_INIT_S", "30")))


def handler(event, context):
    return "initialised"
