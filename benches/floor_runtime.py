"""The least any Python runtime does for a JSON handler: a reference for the start-up bench,
not a runtime to use. It imports the handler, connects once, and loops on `/next`: the event is
decoded with `json`, the result encoded with it, and HTTP/1.1 is spoken with the C socket
module (no `socket`, `http` or `urllib` imports). No context, no error handling, no logs: what
remains of a cold start under it is the interpreter's start, the handler's import and one
exchange with the Runtime API, which every runtime pays. Run as
`python floor_runtime.py MODULE.FUNCTION` in the handler's directory.
"""

from __future__ import annotations

import _socket
import json
import os
import sys

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"


def read_response(conn: _socket.socket, pending: bytes) -> tuple[dict[bytes, bytes], bytes, bytes]:
    """(headers with lower-case names, body, bytes read past it) of one HTTP response."""
    while b"\r\n\r\n" not in pending:
        pending += conn.recv(65536)
    head, _, rest = pending.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        rest += conn.recv(65536)
    return headers, rest[:length], rest[length:]


def main() -> None:
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    module, _, name = sys.argv[1].rpartition(".")
    sys.path.insert(0, os.getcwd())
    handler = getattr(__import__(module), name)
    conn = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    conn.connect((host, int(port)))
    pending = b""
    while True:
        conn.sendall(NEXT)
        headers, body, pending = read_response(conn, pending)
        request_id = headers[b"lambda-runtime-aws-request-id"].decode()
        result = json.dumps(handler(json.loads(body), None)).encode()
        post = (
            f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
            f"Host: runtime\r\nContent-Length: {len(result)}\r\n\r\n"
        ).encode()
        conn.sendall(post + result)
        _, _, pending = read_response(conn, pending)


if __name__ == "__main__":
    main()
