"""A keep-alive Invoke API client: one HTTP/1.1 connection, one invocation at a time."""

from __future__ import annotations

import contextlib
import http.client
import time
from dataclasses import dataclass
from typing import Optional

HTTP_TIMEOUT_S = 930.0  # the longest function timeout (900 s) and a margin


@dataclass(frozen=True)
class Answer:
    """One invocation as the client saw it."""

    #: The function answered 200 without `X-Amz-Function-Error`.
    ok: bool
    #: Request sent to answer read, in milliseconds.
    round_trip_ms: float
    request_id: Optional[str]
    #: The HTTP status, None when the connection broke.
    status: Optional[int] = None
    #: What went wrong, for the error summary (status and error type, or the exception).
    problem: Optional[str] = None


class Invoker:
    """Sends the same event to one function over a kept-alive connection."""

    def __init__(self, host: str, port: int, path: str, event: bytes) -> None:
        self._host = host
        self._port = port
        self._path = path
        self._event = event
        self._headers = {"Content-Type": "application/json"}
        self._conn: Optional[http.client.HTTPConnection] = None

    def invoke(self) -> Answer:
        """One synchronous (RequestResponse) invocation; a broken connection is reopened."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=HTTP_TIMEOUT_S)
        started = time.perf_counter_ns()
        try:
            self._conn.request("POST", self._path, body=self._event, headers=self._headers)
            response = self._conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            elapsed = (time.perf_counter_ns() - started) / 1e6
            return Answer(False, elapsed, None, problem=f"{type(exc).__name__}: {exc}")
        elapsed = (time.perf_counter_ns() - started) / 1e6
        request_id = response.getheader("X-Amzn-RequestId")
        function_error = response.getheader("X-Amz-Function-Error")
        if response.status == 200 and function_error is None:
            return Answer(True, elapsed, request_id, response.status)
        problem = f"HTTP {response.status}" + (f" ({function_error})" if function_error else "")
        return Answer(False, elapsed, request_id, response.status, f"{problem}: {body[:200]!r}")

    def close(self) -> None:
        """Close the connection (the next invoke opens a new one)."""
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None
