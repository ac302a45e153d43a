"""Start-up of the runtime: configuration, init (handler import) and its errors, then the loop."""

from __future__ import annotations

import os
import sys

from lambda_rie.runtime import errors, logs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional

    from lambda_rie._core import RuntimeClient

USAGE = "usage: python -m lambda_rie.runtime MODULE.FUNCTION"

# Logged before an init error, as AWS's Python runtime does.
UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function "
    "change, or can be applied automatically. To determine if the runtime has been updated, "
    "check the runtime version in the INIT_START log entry. If this error correlates with a "
    "change in the runtime version, you may be able to mitigate this error by temporarily "
    "rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


def main(argv: list[str]) -> None:
    """Entry point of `python -m lambda_rie.runtime HANDLER`."""
    handler = argv[1] if len(argv) > 1 else os.environ.get("_HANDLER", "")
    if not handler or handler in ("-h", "--help"):
        sys.stderr.write(USAGE + "\n")
        sys.exit(0 if handler else 2)
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        errors.report_exit("AWS_LAMBDA_RUNTIME_API is not set")
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

        workers.run_workers(handler, address, int(max_concurrency))
        return
    run(handler, address)


def run(handler_name: str, address: str, worker: bool = False) -> None:
    """Init the function and serve invocations until SIGTERM."""
    from lambda_rie._core import RuntimeClient

    logs.setup_streams()
    logs.setup()
    client = RuntimeClient(address)
    handler = init(handler_name, client, worker)
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        from lambda_rie.runtime import snapstart

        snapstart.run_hooks(client)
    runner = None
    from lambda_rie.runtime.handler import is_async

    if is_async(handler):
        from lambda_rie.runtime.async_loop import AsyncRunner

        runner = AsyncRunner()
    from lambda_rie.runtime.invoke import Invoker

    Invoker(client, handler, runner, tolerant=worker).serve_forever()


def init(handler_name: str, client: RuntimeClient, worker: bool) -> Any:
    """Import the handler; on failure post `/init/error` and exit 1."""
    from lambda_rie.runtime.handler import load_handler

    try:
        return load_handler(handler_name)
    except errors.FaultError as fault:
        error = errors.make_error(fault.message, fault.error_type, fault.trace)
    except Exception as exc:
        error = errors.error_from_exception(exc)
    fail_init(client, error, worker)


def fail_init(
    client: RuntimeClient, error: errors.ErrorResult, worker: bool, code: int = 1
) -> NoReturn:
    """Log and post an init error, then exit."""
    import logging

    logging.warning(UNHANDLED_EXCEPTION_WARNING)
    log_error(error)
    body = errors.to_json(error).encode("utf-8")
    status = client.post_init_error(body, error["errorType"])
    # NOTE: with several workers, 403 means another worker already reported the failure.
    if status != 202 and not (worker and status == 403):
        errors.report_exit(f"Runtime API refused the init error: HTTP {status}")
    sys.exit(code)


def log_error(error: errors.ErrorResult, sink: Optional[Any] = None) -> None:
    """Write the unhandled-error log line of `error`."""
    sink = sink or logs.current_sink() or logs.StandardLogSink()
    if logs.settings().json_format:
        sink.log_error([errors.json_error_line(error)])
    else:
        sink.log_error(errors.text_error_lines(error))
