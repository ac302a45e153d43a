"""A handler whose dependency comes from a layer (`python/mylib.py` of the layer zip)."""

import os

import mylib


def handler(event, context):
    return {"value": mylib.VALUE, "file": mylib.__file__, "opt": sorted(os.listdir("/opt"))}
