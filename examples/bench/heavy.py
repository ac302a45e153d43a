"""A benchmark handler with a heavy import: boto3 and botocore load at init, as in most functions.

Its init duration shows what a typical SDK-using function pays on a cold start.
"""

from __future__ import annotations

from typing import Any

import boto3

# Read at init, as functions that log or report their SDK version do.
SDK_VERSION = boto3.__version__


def handler(event: Any, context: Any) -> Any:
    """Return the event unchanged, like `echo.handler`, after init imported boto3."""
    return event
