"""Start-up of the runtime: configuration, init (handler import) and its errors, then the loop."""

from __future__ import annotations

import os
import sys

from lambda_rie._core import RuntimeClient
from lambda_rie.runtime import errors, logs, reporting
from lambda_rie.runtime.handler import hold_collections, load_handler, release_collections
from lambda_rie.runtime.invoke import serve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

USAGE = "usage: python -m lambda_rie.runtime MODULE.FUNCTION"


def main(argv: list[str]) -> None:
    """Entry point of `python -m lambda_rie.runtime HANDLER`."""
    handler = argv[1] if len(argv) > 1 else os.environ.get("_HANDLER", "")
    if not handler or handler in ("-h", "--help"):
        sys.stderr.write(USAGE + "\n")
        sys.exit(0 if handler else 2)
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        reporting.report_exit("AWS_LAMBDA_RUNTIME_API is not set")
        sys.exit(1)
    if sys.path and sys.path[0] == "":
        # NOTE: started as `python -c "...main(sys.argv)" HANDLER`, which skips the ~3 ms that
        # runpy's imports add to `python -m`: pin the working directory as `-m` does.
        sys.path[0] = os.getcwd()
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and (not sys.path or sys.path[0] != task_root):
        sys.path.insert(0, task_root)
    max_concurrency = os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")
    if max_concurrency is not None:
        from lambda_rie.runtime import workers

        workers.run_workers(int(max_concurrency), lambda: run(handler, address, worker=True))
        return
    run(handler, address)


def run(handler_name: str, address: str, worker: bool = False) -> None:
    """Init the function and serve invocations until SIGTERM."""
    thresholds = hold_collections()
    logs.setup_streams()
    logs.setup()
    client = RuntimeClient(address)
    handler = init(handler_name, client, worker)
    release_collections(thresholds)
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        from lambda_rie.runtime import snapstart

        snapstart.restore(client)
    serve(client, handler, worker)


def init(handler_name: str, client: RuntimeClient, worker: bool) -> Any:
    """Import the handler; on failure post `/init/error` and exit 1."""
    try:
        return load_handler(handler_name)
    except Exception as exc:
        reporting.fail_init(client, errors.describe(exc), worker)
