"""lambda-rie: a fast, faithful emulator of the AWS Lambda runtime interface.

Imports are lazy (PEP 562) so that the built-in runtime, which lives in this package, pays
nothing at cold start for parts of the package it does not use (not even `typing`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lambda_rie._core import (
        InvalidRequestContentError,
        InvokeResult,
        LambdaRieError,
        RequestTooLargeError,
        ResourceNotFoundError,
        TooManyRequestsError,
        __version__,
    )
    from lambda_rie.api import Emulator, Function

__all__ = [
    "Emulator",
    "Function",
    "InvalidRequestContentError",
    "InvokeResult",
    "LambdaRieError",
    "RequestTooLargeError",
    "ResourceNotFoundError",
    "TooManyRequestsError",
    "__version__",
]

# Which submodule defines each public name.
_HOMES = {
    "Emulator": "lambda_rie.api",
    "Function": "lambda_rie.api",
    "InvokeResult": "lambda_rie._core",
    "LambdaRieError": "lambda_rie._core",
    "ResourceNotFoundError": "lambda_rie._core",
    "TooManyRequestsError": "lambda_rie._core",
    "RequestTooLargeError": "lambda_rie._core",
    "InvalidRequestContentError": "lambda_rie._core",
    "__version__": "lambda_rie._core",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lambda_rie' has no attribute {name!r}")
    value = getattr(__import__(home, fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
