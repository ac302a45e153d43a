"""The invoke loop: wait on `/next`, run the handler, post its result or its error.

`serve` is the one loop of every runtime process: the runtime itself, each worker of
`AWS_LAMBDA_MAX_CONCURRENCY`, and each environment restored from a SnapStart template.
"""

from __future__ import annotations

import os

from lambda_rie._core import put_trace_id
from lambda_rie.runtime import errors, logs, payload, reporting
from lambda_rie.runtime.context import LambdaContext
from lambda_rie.runtime.handler import is_async
from lambda_rie.runtime.sinks import StandardLogSink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from lambda_rie._core import RuntimeClient
    from lambda_rie.runtime.async_loop import AsyncRunner


def serve(client: RuntimeClient, handler: Callable[[Any, Any], Any], worker: bool = False) -> None:
    """Answer invocations with the initialised `handler` until SIGTERM.

    An `async def` handler gets the environment's event loop now (asyncio is imported for it
    only); a worker logs a refused post and carries on.
    """
    runner = None
    if is_async(handler):
        from lambda_rie.runtime.async_loop import AsyncRunner

        runner = AsyncRunner()
    Invoker(client, handler, runner, tolerant=worker).serve_forever()


class Invoker:
    """Runs one handler for every invocation of this environment."""

    def __init__(
        self,
        client: RuntimeClient,
        handler: Callable[[Any, Any], Any],
        runner: Optional[AsyncRunner],
        tolerant: bool = False,
    ) -> None:
        self.client = client
        self.handler = handler
        self.runner = runner
        # NOTE: with several workers (AWS_LAMBDA_MAX_CONCURRENCY) a refused post is logged and
        # the worker carries on, as awslambdaric does.
        self.tolerant = tolerant
        self.sink = logs.current_sink() or StandardLogSink()

    def serve_forever(self) -> None:
        """Serve invocations until SIGTERM (the client raises `SystemExit(0)`)."""
        while True:
            self.serve_one()

    def serve_one(self) -> None:
        """Wait for one invocation and answer it."""
        event, headers, decoded = self.client.next_event()
        get = headers.get
        request_id = get("lambda-runtime-aws-request-id") or ""
        tenant_id = get("lambda-runtime-aws-tenant-id")
        logs.invocation.request_id = request_id
        logs.invocation.tenant_id = tenant_id
        trace_id = get("lambda-runtime-trace-id")
        if trace_id is not None:
            set_trace_id(trace_id)
        else:
            os.environ.pop(TRACE_ID_VARIABLE, None)
        invocation_id = get("lambda-runtime-invocation-id")
        streamed = False
        first: Optional[bytes] = None
        try:
            context = LambdaContext(
                request_id,
                _json_header(get("lambda-runtime-client-context"), "Client Context"),
                _json_header(get("lambda-runtime-cognito-identity"), "Cognito Identity"),
                int(get("lambda-runtime-deadline-ms") or 0),
                get("lambda-runtime-invoked-function-arn"),
                tenant_id,
            )
            if not decoded:
                event = payload.decode_event(event, get("content-type"), native_declined=True)
            result = self.handler(event, context)
            if self.runner is not None or _is_awaitable(result):
                result = self._await(result)
            # NOTE: a dict, the usual result, costs no call.
            if type(result) is not dict and _is_generator(result):
                from lambda_rie.runtime import streaming

                first = streaming.first_chunk(result, self._await)
                streamed = True
            else:
                response, content_type = payload.stage_result(self.client, result)
        except errors.FaultError as fault:
            error = errors.make_error(fault.message, fault.error_type, fault.trace, request_id)
            self._post_error(
                request_id, error, errors.fault_xray_cause(fault.message), invocation_id
            )
            return
        except Exception as exc:
            error = errors.error_from_exception(exc, request_id)
            self._post_error(request_id, error, errors.xray_cause(exc), invocation_id)
            return
        if streamed:
            self._stream(request_id, invocation_id, result, first)
            return
        if response is None:
            status = self.client.post_staged_response(request_id, invocation_id)
        else:
            status = self.client.post_response(request_id, response, content_type, invocation_id)
        if status != 202:
            self._refused("response", status)

    def _await(self, result: Any) -> Any:
        if not _is_awaitable(result):
            return result
        if self.runner is None:
            from lambda_rie.runtime.async_loop import AsyncRunner

            self.runner = AsyncRunner()
        return self.runner.run(result)

    def _stream(
        self, request_id: str, invocation_id: Optional[str], result: Any, first: Optional[bytes]
    ) -> None:
        """Stream a generator's chunks (its first already taken); an error midway is logged
        and sent in the trailers."""
        from lambda_rie.runtime import streaming

        status = streaming.send(
            self.client,
            request_id,
            invocation_id,
            result,
            first=first,
            run=self._await,
            log_error=lambda failure: reporting.log_error(failure, self.sink),
        )
        if status != 202:
            self._refused("response", status)

    def _post_error(
        self, request_id: str, error: errors.ErrorResult, cause: str, invocation_id: Optional[str]
    ) -> None:
        reporting.log_error(error, self.sink)
        body = errors.to_json(error).encode("utf-8")
        status = self.client.post_error(request_id, body, error["errorType"], cause, invocation_id)
        if status != 202:
            self._refused("error", status)

    def _refused(self, what: str, status: int) -> None:
        message = f"Runtime API refused the invocation {what}: HTTP {status}"
        if self.tolerant:
            import logging

            logging.warning(f"{message}: This won't kill the Runtime loop")
        else:
            reporting.report_exit(message)


TRACE_ID_VARIABLE = "_X_AMZN_TRACE_ID"
_TRACE_ID_KEY = os.fsencode(TRACE_ID_VARIABLE)
# NOTE: CPython's bytes mapping behind os.environ (POSIX), updated beside the C environment.
_ENVIRON_DATA = getattr(os.environ, "_data", None)


def set_trace_id(trace_id: str) -> None:
    """`os.environ["_X_AMZN_TRACE_ID"] = trace_id`, in bounded memory.

    `os.environ` assignment goes through glibc's `setenv`, which keeps every distinct value for
    the life of the process (about 150 bytes per invocation, and a slower lookup each time):
    the C environment's entry is rewritten in place instead, and `os.environ`'s mapping is
    updated beside it. Anything unusual takes the plain assignment.
    """
    if isinstance(_ENVIRON_DATA, dict):
        try:
            value = os.fsencode(trace_id)
            put_trace_id(trace_id)
        except (ValueError, UnicodeError):
            pass
        else:
            _ENVIRON_DATA[_TRACE_ID_KEY] = value
            return
    os.environ[TRACE_ID_VARIABLE] = trace_id


def _is_awaitable(value: Any) -> bool:
    return hasattr(type(value), "__await__")


def _is_generator(value: Any) -> bool:
    """A generator or an async generator (streamed); no plain iterator, no container."""
    kind = type(value)
    return hasattr(kind, "__anext__") or (hasattr(kind, "__next__") and hasattr(kind, "throw"))


def _json_header(value: Optional[str], name: str) -> Any:
    if not value:
        return None
    try:
        return payload.loads(value)
    except Exception as exc:
        raise errors.FaultError(
            errors.LAMBDA_CONTEXT_UNMARSHAL_ERROR, f"Unable to parse {name} JSON: {exc}"
        ) from None
