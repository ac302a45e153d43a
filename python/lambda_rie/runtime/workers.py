"""`AWS_LAMBDA_MAX_CONCURRENCY=N`: N worker processes, each running init and its own `/next`
loop, as awslambdaric 4.x does for Lambda Managed Instances.
"""

from __future__ import annotations

import os
import sys

from lambda_rie.runtime import logs
from lambda_rie.runtime.forked import run_then_exit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

# Where AWS hands out per-worker log streams (a Unix socket), if anywhere.
_LOG_SOCKET_ENV = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"


def run_workers(count: int, worker: Callable[[], None]) -> None:
    """Fork `count` processes that each run `worker` (init, then the invoke loop) and wait for
    all of them; SIGTERM is passed on to them."""
    _announce(count)
    socket_path = os.environ.get(_LOG_SOCKET_ENV)
    children: list[int] = []
    # NOTE: installed before the first fork: a SIGTERM that arrives while workers start (they
    # answer invocations at once) must reach them, not end this process by the default action.
    _forward_sigterm(children)
    for _ in range(max(1, count)):
        pid = os.fork()
        if pid == 0:
            import signal

            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _run_worker(worker, socket_path)
        children.append(pid)
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue


def _run_worker(worker: Callable[[], None], socket_path: str | None) -> None:
    def body() -> None:
        if socket_path:
            _redirect_output(socket_path)
        worker()

    run_then_exit(body)


def _redirect_output(socket_path: str) -> None:
    import socket

    for fd in (sys.stdout.fileno(), sys.stderr.fileno()):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(socket_path)
            os.dup2(connection.fileno(), fd)


def _announce(count: int) -> None:
    """The worker pool's debug event, visible with `AWS_LAMBDA_LOG_LEVEL=DEBUG`."""
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    if level not in ("DEBUG", "TRACE"):
        return
    import logging

    logs.setup_streams()
    logs.setup()
    root = logging.getLogger()
    event: dict[str, Any] = {
        "event": "runtime_worker_pool_initializing",
        "workerCount": count,
        "executionEnvironmentMaxConcurrency": count,
    }
    root.debug(event)
    root.handlers.clear()


def _forward_sigterm(children: list[int]) -> None:
    import contextlib
    import signal

    def forward(signum: int, frame: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
