"""The root logger of a function: awslambdaric's text and JSON record formats.

Imported only once the function itself imports `logging`.
"""

from __future__ import annotations

import logging
import time

from lambda_rie.runtime.sinks import frame_type

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from lambda_rie.runtime.logs import InvocationState, LogSettings
    from lambda_rie.runtime.sinks import LogSink

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
JSON_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# LogRecord attributes that are not copied into a JSON record as extra fields.
_RESERVED_FIELDS = frozenset(
    (
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
    )
)


def normalized_level(record: logging.LogRecord) -> int:
    """The record's level rounded down to a standard one (0..50)."""
    return min(50, max(0, record.levelno)) // 10 * 10


class LambdaLoggerHandler(logging.Handler):
    """Sends formatted records to the log sink."""

    def __init__(self, sink: LogSink, with_frame_type: bool, json_format: bool) -> None:
        super().__init__()
        self.log_sink = sink
        self.with_frame_type = with_frame_type
        self.json_format = json_format

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        kind = None
        if self.with_frame_type:
            kind = getattr(record, "_frame_type", None) or frame_type(
                False, normalized_level(record)
            )
        self.log_sink.log(message, kind)


class LambdaLoggerFilter(logging.Filter):
    """Stamps each record with the request (and tenant) id of the invocation in progress."""

    def __init__(self, invocation: InvocationState) -> None:
        super().__init__()
        self.invocation = invocation

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.invocation.request_id or ""
        record.tenant_id = self.invocation.tenant_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with awslambdaric's field names and order."""

    def __init__(self) -> None:
        super().__init__(datefmt=JSON_DATE_FORMAT)
        import json

        self.encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def format(self, record: logging.LogRecord) -> str:
        record.levelno = normalized_level(record)
        record.levelname = logging.getLevelName(record.levelno)
        record._frame_type = frame_type(True, record.levelno)
        exc_info = record.exc_info
        message = (
            record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage()
        )
        result: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": message,
            "logger": record.name,
            "stackTrace": _stack_trace(exc_info),
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": (
                f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None
            ),
        }
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            result["tenantId"] = tenant_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED_FIELDS and key not in result:
                result[key] = value
        return self.encode({k: v for k, v in result.items() if v is not None}) + "\n"


def _stack_trace(exc_info: Any) -> Optional[list[str]]:
    if not exc_info:
        return None
    import traceback

    return traceback.format_tb(exc_info[2])


def configure(sink: LogSink, settings: LogSettings, invocation: InvocationState) -> None:
    """Give the root logger the Lambda handler, format and level (once per process)."""
    root = logging.getLogger()
    if any(isinstance(handler, LambdaLoggerHandler) for handler in root.handlers):
        return
    logging.Formatter.converter = time.gmtime
    with_frame_type = settings.json_format or bool(settings.level)
    handler = LambdaLoggerHandler(sink, with_frame_type, settings.json_format)
    if settings.json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT))
    if settings.level in logging._nameToLevel:
        root.setLevel(settings.level)
    handler.addFilter(LambdaLoggerFilter(invocation))
    root.addHandler(handler)
