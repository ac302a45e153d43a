"""Type stubs of the native extension `lambda_rie._core`."""

from typing import Any, final

__version__: str

class LambdaRieError(Exception): ...

def cli_main(argv: list[str], python: str, version: str) -> int: ...

@final
class RuntimeClient:
    """Keep-alive HTTP/1.1 client of the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`)."""

    def __new__(cls, address: str) -> RuntimeClient: ...
    def next(self) -> tuple[bytes, dict[str, str]]: ...
    def post_response(
        self,
        request_id: str,
        body: bytes,
        content_type: str,
        invocation_id: str | None = None,
    ) -> int: ...
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
