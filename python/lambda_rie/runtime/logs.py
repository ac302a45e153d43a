"""Where the function's output goes: unbuffered stdout/stderr, the log sink, and the root logger
configured the moment `logging` is first imported (so functions that never log never pay for it).
"""

from __future__ import annotations

import os
import sys

from lambda_rie.runtime.sinks import FramedTelemetryLogSink, StandardLogSink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Optional, TextIO

    from lambda_rie.runtime.sinks import LogSink


class Unbuffered:
    """A text stream that flushes after every write, so output reaches the pipe at once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def __enter__(self) -> Unbuffered:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def write(self, text: str) -> int:
        written = self.stream.write(text)
        self.stream.flush()
        return written

    def writelines(self, lines: Sequence[str]) -> None:
        self.stream.writelines(lines)
        self.stream.flush()


class InvocationState:
    """What log records need to know about the invocation in progress."""

    request_id: Optional[str] = None
    tenant_id: Optional[str] = None


invocation = InvocationState()


class LogSettings:
    """`AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL`, as awslambdaric reads them."""

    def __init__(self, environ: Optional[dict[str, str]] = None) -> None:
        env = os.environ if environ is None else environ
        self.json_format = (env.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
        level = env.get("AWS_LAMBDA_LOG_LEVEL")
        self.level = "" if level is None else ("DEBUG" if level == "TRACE" else level).upper()


class _Setup:
    """The sink and settings chosen by `setup`."""

    sink: Optional[LogSink] = None
    settings: Optional[LogSettings] = None


_setup = _Setup()


def current_sink() -> Optional[LogSink]:
    """The sink set up by `setup`, if any."""
    return _setup.sink


def settings() -> LogSettings:
    """The log settings in force."""
    return _setup.settings or LogSettings()


def setup_streams() -> None:
    """Make stdout and stderr write through, as awslambdaric does."""
    if not isinstance(sys.stdout, Unbuffered):
        sys.stdout = Unbuffered(sys.stdout)
    if not isinstance(sys.stderr, Unbuffered):
        sys.stderr = Unbuffered(sys.stderr)


def setup() -> LogSink:
    """Create the log sink and arrange for the root logger to be configured."""
    log_settings = _setup.settings = LogSettings()
    fd = os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
    sink: LogSink = (
        StandardLogSink()
        if fd is None
        else FramedTelemetryLogSink(int(fd), log_settings.json_format)
    )
    _setup.sink = sink
    if "logging" in sys.modules:
        configure_logging()
    elif not any(isinstance(finder, _LoggingImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LoggingImportHook())
    return sink


def configure_logging() -> None:
    """Install the Lambda handler on the root logger (imports `logging`)."""
    # NOTE: imported here, not at the top: it imports `logging` (and with it `re`, `threading`,
    # `traceback`), which a function that never logs does not pay for. It does not import this
    # module back.
    from lambda_rie.runtime import log_format

    sink = _setup.sink or StandardLogSink()
    log_format.configure(sink, settings(), invocation)


class _LoggingImportHook:
    """Meta path finder that configures the root logger right after `logging` is imported."""

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[ModuleType] = None,
    ) -> Optional[ModuleSpec]:
        if fullname != "logging":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec: Optional[ModuleSpec] = (
                None if find_spec is None else find_spec(fullname, path, target)
            )
            if spec is not None and spec.loader is not None:
                spec.loader = _ConfiguringLoader(spec.loader)  # type: ignore[assignment]
                return spec
        return None


class _ConfiguringLoader:
    """Runs the real loader, puts it back on the module, then configures logging."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> Optional[ModuleType]:
        create = getattr(self.loader, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        configure_logging()
