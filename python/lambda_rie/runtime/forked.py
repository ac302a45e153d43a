"""Forked children of the runtime (workers, SnapStart restores): run, then leave with `_exit`."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, NoReturn


def run_then_exit(body: Callable[[], object]) -> NoReturn:
    """Run `body` in a forked child and end the child with its exit code (1 if it raised),
    never returning into the parent's code."""
    code = 0
    try:
        body()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
