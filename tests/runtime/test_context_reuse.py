"""Execution-context reuse: module globals, the event loop and open connections live as long as
the environment; a new environment starts from fresh globals.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from runtime_harness import OURS, FakeRuntimeApi, RuntimeProcess

WARM_INVOCATIONS = 100


class CountingServer:
    """A keep-alive HTTP server that counts the TCP connections it accepts."""

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                with server.lock:
                    server.connections += 1
                super().setup()

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = b"pong"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.lock = threading.Lock()
        self.connections = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ping"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def counting_server():
    server = CountingServer()
    yield server
    server.close()


def _invoke_fake(api: FakeRuntimeApi, event: Any = None) -> Any:
    post = api.invoke(json.dumps(event if event is not None else {}).encode())
    assert post.kind == "response", post.body
    return post.json()


def _invoke_emulator(emulator: Any, event: Any = None) -> Any:
    status, headers, payload = emulator.invoke(json.dumps(event or {}).encode())
    assert status == 200
    assert "X-Amz-Function-Error" not in headers, payload
    return json.loads(payload)


def test_module_counter_counts_warm_invocations(fake_api: FakeRuntimeApi, start_runtime) -> None:
    start_runtime("counter.handler")
    counts = [_invoke_fake(fake_api)["count"] for _ in range(WARM_INVOCATIONS)]
    assert counts == list(range(1, WARM_INVOCATIONS + 1))


def test_new_environment_starts_from_fresh_globals(fake_api: FakeRuntimeApi, start_runtime) -> None:
    first = start_runtime("counter.handler")
    assert [_invoke_fake(fake_api)["count"] for _ in range(3)] == [1, 2, 3]
    first.finish()
    # NOTE: a new environment has its own Runtime API, as under lambda-rie; on the old one a
    # `/next` of the stopped runtime may still be waiting and would take the event.
    second_api = FakeRuntimeApi()
    second = RuntimeProcess(OURS, "counter.handler", second_api)
    try:
        assert _invoke_fake(second_api)["count"] == 1
    finally:
        second.finish()
        second_api.close()


def test_async_handler_keeps_one_loop(fake_api: FakeRuntimeApi, start_runtime) -> None:
    start_runtime("async_handler.handler")
    loops = {_invoke_fake(fake_api)["loop"] for _ in range(WARM_INVOCATIONS)}
    assert len(loops) == 1


def test_async_handler_error_shows_user_frames(fake_api: FakeRuntimeApi, start_runtime) -> None:
    start_runtime("async_handler.fails")
    post = fake_api.invoke()
    error = post.json()
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "async failure")
    assert len(error["stackTrace"]) == 1
    assert 'async_handler.py", line 11, in fails' in error["stackTrace"][0]


def test_aiohttp_session_reuses_one_connection(
    fake_api: FakeRuntimeApi, start_runtime, counting_server: CountingServer
) -> None:
    start_runtime("aiohttp_client.handler")
    for _ in range(WARM_INVOCATIONS):
        result = _invoke_fake(fake_api, {"url": counting_server.url})
        assert result == {"status": 200, "body": "pong"}
    assert counting_server.connections == 1


# Under lambda-rie ------------------------------------------------------------------------------


def test_counter_under_lambda_rie(emulator) -> None:
    running = emulator("counter.handler")
    counts = [_invoke_emulator(running)["count"] for _ in range(WARM_INVOCATIONS)]
    assert counts == list(range(1, WARM_INVOCATIONS + 1))


def test_async_loop_under_lambda_rie(emulator) -> None:
    running = emulator("async_handler.handler")
    loops = {_invoke_emulator(running)["loop"] for _ in range(WARM_INVOCATIONS)}
    assert len(loops) == 1


def test_aiohttp_under_lambda_rie(emulator, counting_server: CountingServer) -> None:
    running = emulator("aiohttp_client.handler")
    for _ in range(WARM_INVOCATIONS):
        assert _invoke_emulator(running, {"url": counting_server.url})["body"] == "pong"
    assert counting_server.connections == 1
