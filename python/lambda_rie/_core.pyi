"""Type stubs of the native extension `lambda_rie._core`."""

from collections.abc import Sequence
from typing import Any, Optional, final

from typing_extensions import disjoint_base

__version__: str

class LambdaRieError(Exception):
    """Base class of every lambda-rie error."""

class ResourceNotFoundError(LambdaRieError):
    """No function answers to the name or ARN (AWS's `ResourceNotFoundException`)."""

class TooManyRequestsError(LambdaRieError):
    """No execution environment is free (AWS's `TooManyRequestsException`)."""

class RequestTooLargeError(LambdaRieError):
    """The event is over the invoke payload limit (AWS's `RequestEntityTooLargeException`)."""

class InvalidRequestContentError(LambdaRieError):
    """The event or client context is not valid JSON (AWS's `InvalidRequestContentException`)."""

def cli_main(argv: list[str], python: str, version: str) -> int: ...

# The built-in runtime's `_X_AMZN_TRACE_ID` in the C environment, one entry rewritten in place.
def put_trace_id(value: str) -> None: ...

@final
class RuntimeClient:
    """Keep-alive HTTP/1.1 client of the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`)."""

    def __new__(cls, address: str) -> RuntimeClient: ...
    def next(self) -> tuple[bytes, dict[str, str]]: ...
    def next_event(self) -> tuple[Any, dict[str, str], bool]: ...
    def post_response(
        self,
        request_id: str,
        body: bytes,
        content_type: str,
        invocation_id: str | None = None,
    ) -> int: ...
    def stage_json_response(self, value: object) -> bool: ...
    def post_staged_response(self, request_id: str, invocation_id: str | None = None) -> int: ...
    def start_stream(
        self,
        request_id: str,
        content_type: str,
        invocation_id: str | None = None,
    ) -> ResponseStream: ...
    def post_error(
        self,
        request_id: str,
        body: bytes,
        error_type: str,
        xray_cause: str | None = None,
        invocation_id: str | None = None,
    ) -> int: ...
    def post_init_error(self, body: bytes, error_type: str) -> int: ...
    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        error_type: str | None = None,
    ) -> tuple[int, bytes]: ...
    @staticmethod
    def json_loads(data: bytes) -> Any: ...
    @staticmethod
    def json_dumps(value: object) -> bytes | None: ...

@final
class ResponseStream:
    """A streamed result being written to the Runtime API (`RuntimeClient.start_stream`)."""

    def write(self, data: bytes) -> None: ...
    def finish(self, error: tuple[str, bytes] | None = None) -> int: ...

@disjoint_base
class InvokeResult:
    """The answer to one invocation, with the figures of its REPORT line."""

    def __new__(
        cls,
        *,
        status_code: int,
        payload: bytes,
        function_error: Optional[str] = None,
        log_tail: str = "",
        request_id: str = "",
        cold_start: bool = False,
        init_duration_ms: Optional[float] = None,
        duration_ms: float = 0.0,
        max_memory_used_mb: int = 0,
    ) -> InvokeResult: ...
    @property
    def status_code(self) -> int:
        """200 for a synchronous invocation (also when the function failed)."""
    @property
    def payload(self) -> bytes:
        """Exactly the bytes the function returned (or the error JSON when it failed)."""
    @property
    def function_error(self) -> Optional[str]:
        """`"Unhandled"` when the function failed (error, timeout, crash), else `None`."""
    @property
    def log_tail(self) -> str:
        """This invocation's log lines, START to REPORT (the last 4 KB at most)."""
    @property
    def request_id(self) -> str:
        """The request id (`context.aws_request_id`)."""
    @property
    def cold_start(self) -> bool:
        """Whether a new runtime process was started for this invocation."""
    @property
    def init_duration_ms(self) -> Optional[float]:
        """Init duration of a cold start; `None` on a warm start."""
    @property
    def duration_ms(self) -> float:
        """Invocation duration, as in REPORT."""
    @property
    def max_memory_used_mb(self) -> int:
        """Peak memory of the execution environment, as in REPORT."""
    def json(self) -> Any:
        """The payload decoded from JSON."""
    def __getnewargs_ex__(self) -> tuple[tuple[()], dict[str, Any]]: ...

def function_defaults() -> dict[str, int]:
    """The core's defaults of every optional `Function` argument, by argument name."""

@final
class Emulator:
    """A running emulator serving `Function`s, with its Invoke API on `endpoint_url`."""

    def __new__(
        cls,
        functions: Sequence[object],
        address: str,
        *,
        file: str | None = None,
        max_environments: int | None = None,
        on_throttle: str | None = None,
        region: str | None = None,
        account_id: str | None = None,
        log_level: str | None = None,
        run_as: str | None = None,
        state_dir: str | None = None,
    ) -> Emulator: ...
    @property
    def endpoint_url(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def functions(self) -> list[dict[str, Any]]: ...
    def invoke(
        self, name: str, payload: bytes, client_context: str | None = None
    ) -> InvokeResult: ...
    def submit(
        self, name: str, payload: bytes, client_context: str | None = None
    ) -> PendingInvocation: ...
    def invoke_event(self, name: str, payload: bytes) -> str: ...
    def metrics(self) -> dict[str, float]: ...
    def close(self) -> None: ...

@final
class PendingInvocation:
    """An invocation started by `Emulator.submit`."""

    def fileno(self) -> int: ...
    def result(self) -> InvokeResult | None: ...
