"""Reports the garbage collector's state seen while importing and while invoked. At import it
makes cyclic garbage, sets its own thresholds when GC_THRESHOLDS_AT_IMPORT is `a,b,c`, and
freezes what exists when GC_FREEZE_AT_IMPORT is set."""

import gc
import os
import weakref

AT_IMPORT = gc.get_threshold()
if os.environ.get("GC_THRESHOLDS_AT_IMPORT"):
    gc.set_threshold(*(int(n) for n in os.environ["GC_THRESHOLDS_AT_IMPORT"].split(",")))


class _Node:
    pass


_cycle = _Node()
_cycle.self = _cycle  # type: ignore[attr-defined]
INIT_CYCLE = weakref.ref(_cycle)
del _cycle
if os.environ.get("GC_FREEZE_AT_IMPORT"):
    gc.freeze()


def handler(event, context):
    gc.collect()
    return {
        "at_import": list(AT_IMPORT),
        "invoked": list(gc.get_threshold()),
        "init_cycle_collected": INIT_CYCLE() is None,
        "frozen": gc.get_freeze_count(),
    }
