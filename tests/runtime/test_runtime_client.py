"""`lambda_rie._core.RuntimeClient` against a fake Runtime API."""

from __future__ import annotations

import socket
import threading

import pytest
from runtime_harness import FakeRuntimeApi

from lambda_rie._core import RuntimeClient


def test_next_returns_event_and_headers(fake_api: FakeRuntimeApi) -> None:
    client = RuntimeClient(fake_api.address)
    fake_api.push(b'{"k": 1}', request_id="req-1", Lambda_Runtime_Invocation_Id="inv-1")
    body, headers = client.next()
    assert body == b'{"k": 1}'
    assert headers["lambda-runtime-aws-request-id"] == "req-1"
    assert headers["lambda-runtime-invocation-id"] == "inv-1"
    assert headers["content-type"] == "application/json"


def test_posts_echo_invocation_id_over_one_connection(fake_api: FakeRuntimeApi) -> None:
    client = RuntimeClient(fake_api.address)
    for index in range(5):
        fake_api.push(request_id=f"req-{index}", Lambda_Runtime_Invocation_Id=f"inv-{index}")
        client.next()
        status = client.post_response(f"req-{index}", b"[1]", "application/json", f"inv-{index}")
        assert status == 202
        post = fake_api.posts.get(timeout=5)
        assert post.path == f"/2018-06-01/runtime/invocation/req-{index}/response"
        assert post.headers["lambda-runtime-invocation-id"] == f"inv-{index}"
        assert post.body == b"[1]"
    assert fake_api.connections == 1


def test_post_error_and_init_error_headers(fake_api: FakeRuntimeApi) -> None:
    client = RuntimeClient(fake_api.address)
    assert client.post_init_error(b'{"errorType": "X"}', "Runtime.ImportModuleError") == 202
    post = fake_api.posts.get(timeout=5)
    assert post.path == "/2018-06-01/runtime/init/error"
    assert post.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert client.post_error("req-9", b"{}", "ValueError", '{"cause": 1}') == 202
    post = fake_api.posts.get(timeout=5)
    assert post.path == "/2018-06-01/runtime/invocation/req-9/error"
    assert post.headers["lambda-runtime-function-xray-error-cause"] == '{"cause": 1}'


def test_large_bodies_both_ways(fake_api: FakeRuntimeApi) -> None:
    client = RuntimeClient(fake_api.address)
    big = b"x" * (5 * 1024 * 1024)
    fake_api.push(big, request_id="big")
    body, _ = client.next()
    assert body == big
    assert client.post_response("big", big, "application/unknown") == 202
    assert fake_api.posts.get(timeout=5).body == big


def _one_shot_server(reply: bytes) -> tuple[str, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{listener.getsockname()[1]}"

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, listener:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return address, thread


def test_chunked_reply() -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        b"Lambda-Runtime-Aws-Request-Id: c\r\n\r\n"
        b'4\r\n{"a"\r\n4\r\n: 1}\r\n0\r\n\r\n'
    )
    address, thread = _one_shot_server(reply)
    body, headers = RuntimeClient(address).next()
    thread.join(timeout=5)
    assert body == b'{"a": 1}'
    assert headers["lambda-runtime-aws-request-id"] == "c"


def test_non_200_next_raises() -> None:
    address, thread = _one_shot_server(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(RuntimeError, match="Http Response code: 500"):
        RuntimeClient(address).next()
    thread.join(timeout=5)


def test_connection_refused_is_oserror() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(OSError, match="Runtime API request failed"):
        RuntimeClient(f"127.0.0.1:{port}").next()
