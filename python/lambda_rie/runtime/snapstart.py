"""SnapStart runtime hooks: before-snapshot hooks, `/restore/next`, then after-restore hooks.

Hooks are registered with the `snapshot_restore_py` package, as for AWS's Python runtime;
without it there is nothing to run.
"""

from __future__ import annotations

import sys

from lambda_rie.runtime import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from lambda_rie._core import RuntimeClient

RESTORE_NEXT_PATH = "/2018-06-01/runtime/restore/next"
RESTORE_ERROR_PATH = "/2018-06-01/runtime/restore/error"


def run_hooks(client: RuntimeClient, before: bool = True) -> None:
    """Run the hooks around the snapshot; a failing hook reports its error and exits.

    `before=False` in a child of lambda-rie's template, which ran them before forking.
    """
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
            get_after_restore,
            get_before_snapshot,
        )
    except ImportError:
        return
    from lambda_rie.runtime.bootstrap import fail_init, log_error

    try:
        hooks = get_before_snapshot() if before else []
        while hooks:
            function, args, kwargs = hooks.pop()
            function(*args, **kwargs)
        client.request("GET", RESTORE_NEXT_PATH)
    except Exception as exc:
        fail_init(client, errors.error_from_exception(exc), False, code=64)
    try:
        for function, args, kwargs in get_after_restore():
            function(*args, **kwargs)
    except Exception as exc:
        error = errors.error_from_exception(exc)
        log_error(error)
        body = errors.to_json(error).encode("utf-8")
        client.request("POST", RESTORE_ERROR_PATH, body, errors.AFTER_RESTORE_ERROR)
        sys.exit(65)
