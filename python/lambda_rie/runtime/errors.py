"""Error shapes of the runtime: fault types, the error JSON, user stack traces, X-Ray causes."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Optional

MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

# The runtime's own files: their frames are cut from the top of a user's stack trace.
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# Python runtimes whose awslambdaric writes non-ASCII characters unescaped.
_UNESCAPED_RUNTIMES = frozenset(f"AWS_Lambda_python3.{minor}" for minor in (12, 13, 14, 15))


class FaultError(Exception):
    """A failure of the runtime's contract with the function (bad handler, bad payload...)."""

    def __init__(self, error_type: str, message: str, trace: Optional[list[str]] = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


ErrorResult = dict[str, "Any"]


def make_error(
    message: Optional[str],
    error_type: Optional[str],
    stack_trace: Optional[list[str]],
    request_id: Optional[str] = None,
) -> ErrorResult:
    """The error document posted to the Runtime API, in awslambdaric's key order."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def describe(exc: Exception, request_id: Optional[str] = None) -> ErrorResult:
    """The error document of an exception: a runtime fault as it names itself, anything else
    as raised by user code."""
    if isinstance(exc, FaultError):
        return make_error(exc.message, exc.error_type, exc.trace, request_id)
    return error_from_exception(exc, request_id)


def user_frames(tb: Optional[TracebackType]) -> list[tuple[str, int, str, Optional[str]]]:
    """`(file, line, function, source)` of each frame, the runtime's own leading frames cut."""
    import traceback

    frames = [
        (frame.filename, frame.lineno or 0, frame.name, frame.line)
        for frame in traceback.extract_tb(tb)
    ]
    for index, frame in enumerate(frames):
        if not frame[0].startswith(_RUNTIME_DIR):
            return frames[index:]
    return frames


def error_from_exception(exc: BaseException, request_id: Optional[str] = None) -> ErrorResult:
    """The error document for an exception raised by user code."""
    import traceback

    frames = user_frames(exc.__traceback__)
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def xray_cause(exc: BaseException) -> str:
    """The `Lambda-Runtime-Function-XRay-Error-Cause` header value for an exception."""
    frames = user_frames(exc.__traceback__)
    stack = [{"label": name, "path": path, "line": line} for path, line, name, _ in frames]
    cause = {
        "working_directory": os.getcwd(),
        "exceptions": [{"message": str(exc), "type": type(exc).__name__, "stack": stack}],
        "paths": list(dict.fromkeys(path for path, *_ in frames)),
    }
    text = to_json(cause)
    # NOTE: a header over 1 MiB would be refused; awslambdaric drops it the same way.
    return text if len(text) < 1024 * 1024 else ""


def fault_xray_cause(message: str) -> str:
    """The X-Ray cause of a runtime fault (awslambdaric labels them LambdaValidationError)."""
    cause = {
        "working_directory": os.getcwd(),
        "exceptions": [{"message": message, "type": "LambdaValidationError", "stack": []}],
        "paths": [],
    }
    return to_json(cause)


def to_json(document: Any) -> str:
    """Error documents keep awslambdaric's formatting: `", "`/`": "`, ASCII unless 3.12+."""
    import json

    ascii_only = os.environ.get("AWS_EXECUTION_ENV") not in _UNESCAPED_RUNTIMES
    return json.dumps(document, ensure_ascii=ascii_only)
