"""Reporting failures: the unhandled-error log line, init errors posted to `/init/error`, and
the runtime's last words before it exits. Used by init, the invoke loop and SnapStart alike.
"""

from __future__ import annotations

import sys

from lambda_rie.runtime import errors, logs
from lambda_rie.runtime.sinks import StandardLogSink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn, Optional

    from lambda_rie._core import RuntimeClient
    from lambda_rie.runtime.errors import ErrorResult
    from lambda_rie.runtime.sinks import LogSink

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


def log_error(error: ErrorResult, sink: Optional[LogSink] = None) -> None:
    """Write the unhandled-error log line of `error` (text or JSON, as the log format says)."""
    sink = sink or logs.current_sink() or StandardLogSink()
    if logs.settings().json_format:
        sink.log_error([json_error_line(error)])
    else:
        sink.log_error(text_error_lines(error))


def fail_init(client: RuntimeClient, error: ErrorResult, worker: bool, code: int = 1) -> NoReturn:
    """Log an init error, post it to `/init/error`, then exit with `code`."""
    import logging

    logging.warning(UNHANDLED_EXCEPTION_WARNING)
    log_error(error)
    body = errors.to_json(error).encode("utf-8")
    status = client.post_init_error(body, error["errorType"])
    # NOTE: with several workers, 403 means another worker already reported the failure.
    if status != 202 and not (worker and status == 403):
        report_exit(f"Runtime API refused the init error: HTTP {status}")
    sys.exit(code)


def text_error_lines(error: ErrorResult) -> list[str]:
    """The unhandled-error log lines: `[ERROR] Type: message`, `Traceback...`, NBSP indents.

    The standard sink joins them with carriage returns into one line.
    """
    description = "[ERROR]"
    error_type = error.get("errorType")
    if error_type:
        description += " " + error_type
    message = error.get("errorMessage")
    if message:
        if error_type:
            description += ":"
        description += " " + message
    lines = [description]
    stack_trace = error.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    return lines


def json_error_line(error: ErrorResult) -> str:
    """The unhandled-error log line in JSON log format."""
    import time

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
    return errors.to_json({"timestamp": stamp, "level": "ERROR", **error})


def report_exit(message: str) -> None:
    """Last words of the runtime on stderr before it exits."""
    sys.stderr.write(f"lambda-rie runtime: {message}\n")
    sys.stderr.flush()
