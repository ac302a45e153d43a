"""The Python API: serve Lambda functions in this process and invoke them, from tests or tools.

`Emulator.invoke` hands the event straight to the function's scheduler in the Rust core (no
HTTP hop) and waits with the GIL released; `endpoint_url` serves the same functions to boto3
and the aws CLI. Function-side failures do not raise: they set `InvokeResult.function_error`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import orjson

from lambda_rie import _core
from lambda_rie._core import (
    InvalidRequestContentError,
    InvokeResult,
    LambdaRieError,
    RequestTooLargeError,
    ResourceNotFoundError,
    TooManyRequestsError,
)

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "Emulator",
    "Function",
    "InvalidRequestContentError",
    "InvokeResult",
    "LambdaRieError",
    "RequestTooLargeError",
    "ResourceNotFoundError",
    "TooManyRequestsError",
]

# NOTE: the defaults are the core's (one source of truth); reading them here puts the real
# numbers in the signatures that help() and IDEs show.
_DEFAULTS = _core.function_defaults()

#: Called with the function name and the result of every answered invocation.
InvokeObserver = Callable[[str, InvokeResult], None]


class Function:
    """One Lambda function: what runs it and under which limits.

    The names and defaults are those of the `lambda-rie.toml` keys. Give exactly one of
    `handler` (`module.function`, run by the built-in Python runtime with this interpreter) or
    `command` (the argv of any runtime speaking the Runtime API, e.g. `["./bootstrap"]`).
    `code_dir` is the working directory and `LAMBDA_TASK_ROOT`; a relative one is taken from
    the current directory when the emulator starts. The runtime sees the Lambda variables,
    `environment`, and `PATH`, `HOME`, `LANG`, `LD_LIBRARY_PATH`, `PYTHONPATH` and
    `VIRTUAL_ENV` from this process. Values are checked when an `Emulator` starts.
    `layers` (directories or zip files) are merged at `/opt`; `extensions_dir` holds external
    extensions (default `/opt/extensions`); `snapstart` runs init once and restores every
    environment from it (built-in runtime only).
    """

    __slots__ = (
        "code_dir",
        "command",
        "environment",
        "ephemeral_storage",
        "extensions_dir",
        "handler",
        "idle_timeout",
        "layers",
        "max_concurrency",
        "memory",
        "name",
        "provisioned_concurrency",
        "reserved_concurrency",
        "snapstart",
        "timeout",
    )

    name: str
    handler: Optional[str]
    command: Optional[list[str]]
    code_dir: Union[str, os.PathLike[str]]
    timeout: int
    memory: int
    ephemeral_storage: int
    environment: dict[str, str]
    reserved_concurrency: Optional[int]
    provisioned_concurrency: int
    max_concurrency: int
    idle_timeout: float
    layers: list[Union[str, os.PathLike[str]]]
    extensions_dir: Optional[Union[str, os.PathLike[str]]]
    snapstart: bool

    def __init__(
        self,
        name: str,
        *,
        handler: Optional[str] = None,
        command: Optional[Sequence[str]] = None,
        code_dir: Union[str, os.PathLike[str]] = ".",
        timeout: int = _DEFAULTS["timeout"],
        memory: int = _DEFAULTS["memory"],
        ephemeral_storage: int = _DEFAULTS["ephemeral_storage"],
        environment: Optional[Mapping[str, str]] = None,
        reserved_concurrency: Optional[int] = None,
        provisioned_concurrency: int = _DEFAULTS["provisioned_concurrency"],
        max_concurrency: int = _DEFAULTS["max_concurrency"],
        idle_timeout: float = _DEFAULTS["idle_timeout"],
        layers: Sequence[Union[str, os.PathLike[str]]] = (),
        extensions_dir: Optional[Union[str, os.PathLike[str]]] = None,
        snapstart: bool = False,
    ) -> None:
        if isinstance(command, str):
            raise TypeError("command is an argv list, e.g. ['./bootstrap']")
        self.name = name
        self.handler = handler
        self.command = None if command is None else list(command)
        self.code_dir = code_dir
        self.timeout = timeout
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.environment = dict(environment or {})
        self.reserved_concurrency = reserved_concurrency
        self.provisioned_concurrency = provisioned_concurrency
        self.max_concurrency = max_concurrency
        self.idle_timeout = idle_timeout
        self.layers = list(layers)
        self.extensions_dir = extensions_dir
        self.snapstart = snapstart

    def __repr__(self) -> str:
        runs = f"handler={self.handler!r}" if self.handler else f"command={self.command!r}"
        return f"Function({self.name!r}, {runs}, timeout={self.timeout}, memory={self.memory})"


def _encode(event: Any) -> bytes:
    """The invoke body: `bytes`/`str` as given (a JSON document), `None` as empty, else JSON."""
    if event is None:
        return b""
    if isinstance(event, bytes):
        return event
    if isinstance(event, (bytearray, memoryview)):
        return bytes(event)
    if isinstance(event, str):
        return event.encode()
    return orjson.dumps(event)


def _client_context(client_context: Optional[Mapping[str, Any]]) -> Optional[str]:
    return None if client_context is None else orjson.dumps(client_context).decode()


def _set_ready(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


class Emulator:
    """lambda-rie serving `functions` in this process; a context manager that stops everything.

    `config` adds the functions of a `lambda-rie.toml` (a `.toml` file) or of a SAM template
    (any other file), read as the command line reads them. The Invoke API listens on `address`
    (loopback with an ephemeral port by default) for HTTP clients; `invoke` and `ainvoke` skip
    HTTP. Every execution environment gets its own ephemeral Runtime API port. The first
    function is also reachable as `function`. The Lambda API's function operations
    (`create_function`, `publish_version`, ... of a boto3 client on `endpoint_url`) are served
    too; `state_dir` keeps the functions they create across emulators (default: a temporary
    store removed with the emulator), and with it `functions` may be empty.
    """

    def __init__(
        self,
        functions: Sequence[Function] = (),
        *,
        config: Union[str, os.PathLike[str], None] = None,
        address: str = "127.0.0.1:0",
        max_environments: Optional[int] = None,
        on_throttle: str = "reject",
        region: Optional[str] = None,
        account_id: Optional[str] = None,
        log_level: str = "info",
        run_as: Optional[str] = None,
        state_dir: Union[str, os.PathLike[str], None] = None,
    ) -> None:
        self._native = _core.Emulator(
            list(functions),
            address,
            file=None if config is None else os.fspath(config),
            max_environments=max_environments,
            on_throttle=on_throttle,
            region=region,
            account_id=account_id,
            log_level=log_level,
            run_as=run_as,
            state_dir=None if state_dir is None else os.fspath(state_dir),
        )
        #: Every served function, default first (those of `config` included).
        self.functions: tuple[Function, ...] = tuple(
            Function(**described) for described in self._native.functions()
        )
        self._observers: list[InvokeObserver] = []
        # NOTE: an emulator that is never closed is stopped when collected or at exit.
        self._finalizer = weakref.finalize(self, self._native.close)

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:PORT`, the Invoke API: `boto3.client("lambda", endpoint_url=...)`."""
        return self._native.endpoint_url

    @property
    def region(self) -> str:
        """The region of the functions' ARNs (`us-east-1` unless given)."""
        return self._native.region

    @property
    def account_id(self) -> str:
        """The account of the functions' ARNs (`012345678912` unless given)."""
        return self._native.account_id

    @property
    def closed(self) -> bool:
        """Whether `close()` has run (or the emulator never started)."""
        native = self.__dict__.get("_native")
        return native is None or bool(native.closed)

    def invoke(
        self,
        name: str,
        event: Any = None,
        *,
        client_context: Optional[Mapping[str, Any]] = None,
    ) -> InvokeResult:
        """Invoke `name` (a function name, `function`, or an ARN) and wait for its answer.

        `event` is sent as JSON; `bytes` or `str` are sent as they are (a JSON document) and
        `None` as an empty body (the function receives `{}`). Ctrl-C interrupts the wait.
        Raises `ResourceNotFoundError`, `TooManyRequestsError`, `RequestTooLargeError` or
        `InvalidRequestContentError` for service errors; function errors do not raise.
        """
        result = self._native.invoke(name, _encode(event), _client_context(client_context))
        return self._answered(name, result)

    async def ainvoke(
        self,
        name: str,
        event: Any = None,
        *,
        client_context: Optional[Mapping[str, Any]] = None,
    ) -> InvokeResult:
        """`invoke` for asyncio: the event loop keeps running while the function does."""
        import asyncio

        pending = self._native.submit(name, _encode(event), _client_context(client_context))
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        # NOTE: the core signals an eventfd when the answer is in; no thread is spent waiting.
        fd = pending.fileno()
        loop.add_reader(fd, _set_ready, ready)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        result = pending.result()
        if result is None:
            raise LambdaRieError("the invocation was not answered")
        return self._answered(name, result)

    def invoke_async(self, name: str, event: Any = None) -> str:
        """Queue an `Event` invocation (retries, event age and destinations as configured);
        returns its request id at once."""
        return self._native.invoke_event(name, _encode(event))

    def metrics(self) -> dict[str, float]:
        """The metrics of the `/_lambda-rie/metrics` endpoint as `name:label:...` -> value,
        e.g. `lambda_rie_invocations_total:orders:success`; after `close()`, the final ones."""
        return self._native.metrics()

    def close(self) -> None:
        """Stop every execution environment, the Invoke API and the emulator's threads."""
        finalizer = self.__dict__.get("_finalizer")
        if finalizer is not None:
            finalizer()

    def __enter__(self) -> Emulator:
        """The emulator itself (it is already running)."""
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        """`close()`, whatever ended the block."""
        self.close()

    def __repr__(self) -> str:
        if "functions" not in self.__dict__:
            return "<Emulator not started>"
        state = "closed" if self.closed else self.endpoint_url
        names = ", ".join(f.name for f in self.functions)
        return f"<Emulator {state} functions=[{names}]>"

    def _observe(self, observer: InvokeObserver) -> None:
        """Call `observer` with every answered invocation (used by the pytest plugin)."""
        self._observers.append(observer)

    def _answered(self, name: str, result: InvokeResult) -> InvokeResult:
        for observer in self._observers:
            observer(name, result)
        return result
