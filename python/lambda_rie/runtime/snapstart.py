"""SnapStart runtime hooks: before-snapshot hooks, `/restore/next`, then after-restore hooks.

Hooks are registered with the `snapshot_restore_py` package, as for AWS's Python runtime;
without it there is nothing to run.
"""

from __future__ import annotations

import sys

from lambda_rie.runtime import errors, reporting

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from lambda_rie._core import RuntimeClient

    Hooks = list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]

RESTORE_NEXT_PATH = "/2018-06-01/runtime/restore/next"
RESTORE_ERROR_PATH = "/2018-06-01/runtime/restore/error"


def _registry() -> Optional[tuple[Callable[[], Hooks], Callable[[], Hooks]]]:
    """`(get_before_snapshot, get_after_restore)` of `snapshot_restore_py`, if installed."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
            get_after_restore,
            get_before_snapshot,
        )
    except ImportError:
        return None
    return get_before_snapshot, get_after_restore


def run_before_snapshot() -> None:
    """Run the before-snapshot hooks, the last registered first; a hook's exception propagates."""
    registry = _registry()
    hooks = [] if registry is None else registry[0]()
    while hooks:
        function, args, kwargs = hooks.pop()
        function(*args, **kwargs)


def restore(client: RuntimeClient, before_snapshot: bool = True) -> None:
    """Run the hooks around the snapshot; a failing hook reports its error and exits.

    `before_snapshot=False` in an environment forked from a SnapStart template, which ran them
    before forking.
    """
    registry = _registry()
    if registry is None:
        return
    try:
        if before_snapshot:
            run_before_snapshot()
        client.request("GET", RESTORE_NEXT_PATH)
    except Exception as exc:
        reporting.fail_init(client, errors.error_from_exception(exc), False, code=64)
    try:
        for function, args, kwargs in registry[1]():
            function(*args, **kwargs)
    except Exception as exc:
        error = errors.error_from_exception(exc)
        reporting.log_error(error)
        body = errors.to_json(error).encode("utf-8")
        client.request("POST", RESTORE_ERROR_PATH, body, errors.AFTER_RESTORE_ERROR)
        sys.exit(65)
