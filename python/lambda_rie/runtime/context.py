"""The `context` object handed to a handler, attribute for attribute as awslambdaric builds it."""

from __future__ import annotations

import os
import sys
import time

from lambda_rie.runtime import logs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# Fields of clientContext.w3c that LambdaContext.w3c() exposes.
_W3C_FIELDS = ("traceparent", "tracestate", "baggage")


class _Record:
    """A fixed set of optional fields read from a JSON object."""

    __slots__: tuple[str, ...] = ()
    # Field order of awslambdaric's repr.
    _fields: tuple[str, ...] = ()

    def __init__(self, fields: Optional[dict[str, Any]] = None) -> None:
        fields = fields if isinstance(fields, dict) else {}
        for name in self._fields:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        inner = ",".join(f"{name}={getattr(self, name)}" for name in self._fields)
        return f"{self.__class__.__name__}([{inner}])"


class CognitoIdentity(_Record):
    """`context.identity`: the Amazon Cognito identity of a mobile caller."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")
    _fields = __slots__
    cognito_identity_id: Optional[str]
    cognito_identity_pool_id: Optional[str]


class Client(_Record):
    """`context.client_context.client`: the calling mobile application."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )
    _fields = (
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    )
    installation_id: Optional[str]
    app_title: Optional[str]
    app_version_name: Optional[str]
    app_version_code: Optional[str]
    app_package_name: Optional[str]


class ClientContext(_Record):
    """`context.client_context`: what the caller passed in `X-Amz-Client-Context`."""

    __slots__ = ("client", "custom", "env")
    _fields = ("custom", "env", "client")
    custom: Any
    env: Any
    client: Optional[Client]


class _EnvironmentFacts:
    """The function's facts from the environment, read once per process."""

    cached: Optional[_EnvironmentFacts] = None

    @classmethod
    def current(cls) -> _EnvironmentFacts:
        """The facts, read on first use."""
        if cls.cached is None:
            cls.cached = cls()
        return cls.cached

    def __init__(self) -> None:
        environ = os.environ
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")


class LambdaContext:
    """Information about the invocation, the function and the execution environment."""

    def __init__(  # noqa: PLR0917 (awslambdaric's positional signature)
        self,
        invoke_id: str,
        client_context: Optional[dict[str, Any]],
        cognito_identity: Optional[dict[str, Any]],
        epoch_deadline_time_in_ms: int,
        invoked_function_arn: Optional[str] = None,
        tenant_id: Optional[str] = None,
    ) -> None:
        facts = _EnvironmentFacts.current()
        self.aws_request_id = invoke_id
        self.log_group_name = facts.log_group_name
        self.log_stream_name = facts.log_stream_name
        self.function_name = facts.function_name
        self.memory_limit_in_mb = facts.memory_limit_in_mb
        self.function_version = facts.function_version
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self._w3c_fields = _pop_w3c(client_context)
        self.client_context: Optional[ClientContext] = None
        if client_context is not None:
            self.client_context = ClientContext(client_context)
            client: Any = self.client_context.client
            self.client_context.client = None if client is None else Client(client)
        self.identity = CognitoIdentity()
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out (0 once past the deadline)."""
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def w3c(self) -> dict[str, str]:
        """The W3C trace context (`traceparent`, `tracestate`, `baggage`) of the invocation."""
        return dict(self._w3c_fields)

    def log(self, msg: Any) -> None:
        """Write `msg` to the function's log as it is (no newline added)."""
        sink = logs.current_sink()
        if sink is not None:
            sink.log(str(msg))
        else:
            sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


def _pop_w3c(client_context: Any) -> dict[str, str]:
    """Take `w3c` out of the client context, keeping its allow-listed string fields."""
    if not isinstance(client_context, dict) or "w3c" not in client_context:
        return {}
    raw = client_context.pop("w3c")
    if not isinstance(raw, dict):
        return {}
    return {key: raw[key] for key in _W3C_FIELDS if isinstance(raw.get(key), str)}
