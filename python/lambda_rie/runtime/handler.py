"""Loading the handler named by a handler string such as `app.handler` or `pkg/sub/mod.fn`."""

from __future__ import annotations

import gc
import sys

from lambda_rie.runtime.errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    USER_CODE_SYNTAX_ERROR,
    FaultError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    Handler = Callable[[Any, Any], Any]

#: The youngest generation's collection threshold during the init. The runtime's start and
#: the handler's imports make thousands of containers that live as long as the environment;
#: collecting after every 700 of them (CPython's default) costs 1.2 ms of the 19 ms init of a
#: handler importing `typing`, 8 ms of one importing boto3, here. Cyclic garbage made
#: meanwhile goes at the first collection after the init.
INIT_GC_THRESHOLD = 100_000

# inspect.CO_COROUTINE, without importing `inspect` (about 10 ms); stable across CPython.
_CO_COROUTINE = 0x0080


def hold_collections() -> tuple[int, int, int]:
    """Raise the youngest generation's threshold for the init; the thresholds to put back."""
    thresholds = gc.get_threshold()
    gc.set_threshold(INIT_GC_THRESHOLD, *thresholds[1:])
    return thresholds


def release_collections(thresholds: tuple[int, int, int]) -> None:
    """Put the thresholds back after the init, unless the function set its own meanwhile."""
    if gc.get_threshold()[0] != INIT_GC_THRESHOLD:
        return
    if not gc.get_freeze_count():
        # NOTE: what the init made joins the oldest generation at once, as its survivors
        # would have: collecting all of it as young first would cost what the raise saved.
        gc.freeze()
        gc.unfreeze()
    gc.set_threshold(*thresholds)


def load_handler(handler: str) -> Handler:
    """Import the handler's module and return the function; `FaultError` says why not."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError(MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {exc}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise FaultError(
                BUILT_IN_MODULE_CONFLICT,
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = _import(module_name.replace("/", "."))
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise FaultError(IMPORT_MODULE_ERROR, message) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        message = f"Syntax error in module '{module_name}': {exc}"
        raise FaultError(USER_CODE_SYNTAX_ERROR, message, trace) from None
    try:
        function: Handler = getattr(module, function_name)
    except AttributeError:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise FaultError(HANDLER_NOT_FOUND, message) from None
    return function


def _import(name: str) -> Any:
    # NOTE: importlib.import_module, not __import__, so that a failing module's stack trace
    # shows the same frames as under awslambdaric.
    import importlib

    return importlib.import_module(name)


def is_async(function: Any) -> bool:
    """True for `async def` functions (also behind methods and `functools.partial`)."""
    target = getattr(function, "func", function)
    target = getattr(target, "__func__", target)
    code = getattr(target, "__code__", None)
    if code is None:
        code = getattr(type(function).__call__, "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)
