"""`lambda_rie._core.RuntimeClient` against a fake Runtime API."""

from __future__ import annotations

import json
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


def test_next_event_decodes_json_events(fake_api: FakeRuntimeApi) -> None:
    client = RuntimeClient(fake_api.address)
    fake_api.push(b'{"k": [1, 2.5, "\\u00e9", null, true]}', request_id="json")
    event, headers, decoded = client.next_event()
    assert (event, decoded) == ({"k": [1, 2.5, "\u00e9", None, True]}, True)
    assert headers["lambda-runtime-aws-request-id"] == "json"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"k": 1}', "text/plain"),
        (b'{"k": 1}', "application/json; charset=utf-8"),
        (b'{"big": 123456789012345678901234567890}', "application/json"),
        (b"not json", "application/json"),
    ],
)
def test_next_event_leaves_other_events_raw(
    fake_api: FakeRuntimeApi, body: bytes, content_type: str
) -> None:
    client = RuntimeClient(fake_api.address)
    fake_api.push(body, content_type=content_type)
    assert client.next_event()[::2] == (body, False)


def test_bodies_of_every_size_in_turn(fake_api: FakeRuntimeApi) -> None:
    # The receive and send buffers are reused: each body must come out whole and alone.
    client = RuntimeClient(fake_api.address)
    for size in (9 * 1024 * 1024, 10, 300 * 1024, 0, 5 * 1024 * 1024, 3):
        value = {"data": "y" * size}
        fake_api.push(json.dumps(value).encode(), request_id=f"r{size}")
        event, _, decoded = client.next_event()
        assert decoded
        assert event == value
        assert client.stage_json_response(event)
        assert client.post_staged_response(f"r{size}", "inv") == 202
        post = fake_api.posts.get(timeout=5)
        assert post.path == f"/2018-06-01/runtime/invocation/r{size}/response"
        assert post.headers["content-type"] == "application/json"
        assert post.headers["lambda-runtime-invocation-id"] == "inv"
        assert json.loads(post.body) == value
    assert fake_api.connections == 1


def test_stage_declines_what_only_the_full_rules_encode(fake_api: FakeRuntimeApi) -> None:
    client = RuntimeClient(fake_api.address)
    assert client.stage_json_response([1, 2]) is True
    assert client.stage_json_response({1: "int key"}) is False
    with pytest.raises(RuntimeError, match="no JSON response is staged"):
        client.post_staged_response("req")
    assert fake_api.posts.empty()


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


def test_chunked_json_event_is_decoded() -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        b'4\r\n{"a"\r\n5;ext=1\r\n: [1]\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n'
    )
    address, thread = _one_shot_server(reply)
    event, _, decoded = RuntimeClient(address).next_event()
    thread.join(timeout=5)
    assert (event, decoded) == ({"a": [1]}, True)


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
