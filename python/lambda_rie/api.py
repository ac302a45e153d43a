"""The Python API: serve Lambda functions in this process and invoke them, from tests or tools.

`Emulator.invoke` hands the event straight to the function's scheduler in the Rust core (no
HTTP hop) and waits with the GIL released; `endpoint_url` serves the same functions to boto3
and the aws CLI. Function-side failures do not raise: they set `InvokeResult.function_error`.
"""

from __future__ import annotations

import operator
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional, Union

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

#: The `Function` arguments the core reads as 64-bit whole numbers (it checks their ranges).
_WHOLE = (
    "timeout",
    "memory",
    "ephemeral_storage",
    "reserved_concurrency",
    "provisioned_concurrency",
    "max_concurrency",
)
_I64_MAX = 2**63 - 1
_U32_MAX = 2**32 - 1

_FORKED = (
    "lambda-rie cannot run in a process forked from one that ran an Emulator (its threads do"
    ' not survive fork()): start processes with multiprocessing\'s "spawn" or "forkserver"'
    " start method instead"
)


class Function:
    """One Lambda function: what runs it and under which limits.

    The names and defaults are those of the `lambda-rie.toml` keys. Give exactly one of
    `handler` (`module.function`, run by the built-in Python runtime with this interpreter) or
    `command` (the argv of any runtime speaking the Runtime API, e.g. `["./bootstrap"]`).
    `code_dir` is the working directory and `LAMBDA_TASK_ROOT`; a relative one is taken from
    the current directory when the emulator starts. The runtime sees the Lambda variables,
    `environment`, and `PATH`, `HOME`, `LANG`, `LD_LIBRARY_PATH`, `PYTHONPATH` and
    `VIRTUAL_ENV` from this process. Types are checked here (`TypeError`), values when an
    `Emulator` starts.
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
        if isinstance(layers, (str, bytes, os.PathLike)):
            raise TypeError("layers is a list of paths, e.g. ['layer.zip']")
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
        self._check_types()

    def __repr__(self) -> str:
        runs = f"handler={self.handler!r}" if self.handler else f"command={self.command!r}"
        return f"Function({self.name!r}, {runs}, timeout={self.timeout}, memory={self.memory})"

    def _check_types(self) -> None:
        for option in _WHOLE:
            value = getattr(self, option)
            if value is None and option == "reserved_concurrency":
                continue
            try:
                operator.index(value)
            except TypeError:
                raise TypeError(f"{option} is an int, not {value!r}") from None
        for key, value in self.environment.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"environment maps names to str values, not {key!r}: {value!r}")


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


def _check_values(function: Function) -> None:
    """Refuse what the core would misread; it checks everything else itself."""
    for option in _WHOLE:
        value = getattr(function, option)
        if isinstance(value, int) and not -_I64_MAX - 1 <= value <= _I64_MAX:
            raise LambdaRieError(f"function {function.name}: {option}: {value} is out of range")
    handler = function.handler
    # AWS's Handler pattern is `[^\s]+`.
    if handler is not None and (not handler or any(c.isspace() for c in handler)):
        raise LambdaRieError(
            f"function {function.name}: handler: {handler!r} is not module.function"
            " (it is empty or has whitespace)"
        )


class _Forking:
    """Emulators across os.fork(): the core's process-wide threads, started with the first
    Emulator, do not exist in a forked child, where anything waiting on them would hang."""

    #: Whether an Emulator was created in this process (or in one it was forked from), and so
    #: whether `_disown_emulators` runs in forked children.
    hooked = False
    #: Whether this process is such a child: lambda-rie cannot run in it.
    in_child = False
    #: The emulators alive in this process.
    emulators: ClassVar[weakref.WeakSet[Emulator]] = weakref.WeakSet()


def _disown_emulators() -> None:
    """In a forked child: the parent still owns and closes the emulators the child inherited,
    so the child must neither close nor free them."""
    _Forking.in_child = True
    emulators = list(_Forking.emulators)
    if not emulators:
        return
    import ctypes

    for emulator in emulators:
        emulator._finalizer.detach()
        # NOTE: the core's Emulator stops itself when freed, which here would wait forever:
        # it must outlive this process, even the teardown of its modules.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(emulator._native))


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
        if _Forking.in_child:
            raise LambdaRieError(_FORKED)
        functions = list(functions)
        for function in functions:
            _check_values(function)
        if isinstance(max_environments, int) and not 0 <= max_environments <= _U32_MAX:
            raise LambdaRieError(f"max_environments: {max_environments} is out of range")
        if not _Forking.hooked:
            os.register_at_fork(after_in_child=_disown_emulators)
            _Forking.hooked = True
        self._native = _core.Emulator(
            functions,
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
        self._closing = threading.Lock()
        # NOTE: an emulator that is never closed is stopped when collected or at exit.
        self._finalizer = weakref.finalize(self, self._native.close)
        _Forking.emulators.add(self)

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
        result = self._serving().invoke(name, _encode(event), _client_context(client_context))
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

        pending = self._serving().submit(name, _encode(event), _client_context(client_context))
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
        return self._serving().invoke_event(name, _encode(event))

    def metrics(self) -> dict[str, float]:
        """The metrics of the `/_lambda-rie/metrics` endpoint as `name:label:...` -> value,
        e.g. `lambda_rie_invocations_total:orders:success`; after `close()`, the final ones."""
        return self._serving().metrics()

    def close(self) -> None:
        """Stop every execution environment, the Invoke API and the emulator's threads; returns
        once they are stopped, also while another thread is closing the emulator."""
        finalizer = self.__dict__.get("_finalizer")
        # NOTE: in a forked child the parent still owns the emulator (and may hold the lock).
        if finalizer is None or _Forking.in_child:
            return
        # NOTE: a finalizer runs once: a second call returns at once, while the first may
        # still be stopping the emulator.
        with self._closing:
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

    def _serving(self) -> _core.Emulator:
        """The core emulator, unless this is a forked child, where using it would hang."""
        if _Forking.in_child:
            raise LambdaRieError(_FORKED)
        return self._native

    def _observe(self, observer: InvokeObserver) -> None:
        """Call `observer` with every answered invocation (used by the pytest plugin)."""
        self._observers.append(observer)

    def _answered(self, name: str, result: InvokeResult) -> InvokeResult:
        for observer in self._observers:
            observer(name, result)
        return result
