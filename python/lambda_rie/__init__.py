"""lambda-rie: a fast, faithful emulator of the AWS Lambda runtime interface.

Imports are lazy (PEP 562) so that the built-in runtime, which lives in this package, pays
nothing at cold start for parts of the package it does not use (not even `typing`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["LambdaRieError", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from lambda_rie._core import __version__

        return __version__
    if name == "LambdaRieError":
        from lambda_rie._core import LambdaRieError

        return LambdaRieError
    raise AttributeError(f"module 'lambda_rie' has no attribute {name!r}")
