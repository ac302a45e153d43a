"""A custom runtime that speaks the Runtime API over raw sockets and misbehaves on request.

Run as the function's command (`lambda-rie --timeout 1 -- python fault_runtime.py`). Each event
is `{"n": N, "fault": KIND, "then": NEXT_FAULT}`. KIND says what this runtime does with the
invocation once it has taken it from `/next`:

- `ok`: answers `{"n": N}`;
- `error`: posts `{"errorMessage": "failed N", "errorType": "FaultError"}` to `/error`;
- `empty_error`: posts an empty `/error` with an empty `Lambda-Runtime-Function-Error-Type`;
- `sigkill` / `exit`: SIGKILLs itself / exits with status 3, without answering;
- `sigstop`: SIGSTOPs itself, past the function timeout;
- `drop`: closes the connection it took the invocation on and never answers, then asks for
  the next invocation on a new connection;
- `new_connection`: closes that connection and answers on a new one;
- `broken_response`: starts the answer, closes the connection halfway through its body, then
  answers whole on a new connection;
- `half_closed`: answers, shutting its sending side of the connection down right after the
  request (HTTP half-close), reads the 202, then goes on on a new connection.

NEXT_FAULT is what it does before its next `/next`: `partial_next` (send half a request line
and close) or `abandoned_next` (send a whole `GET /next` and close without waiting for it).
Its stdout says which invocations it took (`fault-runtime took <request id>`), so that a test
knows what happened to each.
Only the standard library is used, so that a cold start costs a bare interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Optional

HOST, _, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
NEXT = "/2018-06-01/runtime/invocation/next"
#: Printed with the request id of every invocation taken from `/next`, before anything else.
TOOK = "fault-runtime took"


def connect() -> socket.socket:
    return socket.create_connection((HOST, int(PORT)))


def request_bytes(method: str, path: str, body: bytes = b"", headers: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
    head += f"{headers}\r\n"
    return head.encode() + body


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One whole answer (status, lowercase headers, body) off a keep-alive connection."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the Runtime API closed the connection")
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the Runtime API closed the connection mid-body")
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def call(sock: socket.socket, method: str, path: str, body: bytes = b"", headers: str = "") -> int:
    sock.sendall(request_bytes(method, path, body, headers))
    status, _, _ = read_answer(sock)
    return status


def before_next(fault: Optional[str]) -> None:
    """Misbehave on a connection of its own before the real `/next`."""
    if fault is None:
        return
    with connect() as sock:
        if fault == "partial_next":
            sock.sendall(f"GET {NEXT} HTTP/1.1\r\nHo".encode())
        elif fault == "abandoned_next":
            sock.sendall(request_bytes("GET", NEXT))
        else:
            raise ValueError(fault)


def handle(sock: socket.socket, request_id: str, event: dict) -> socket.socket:
    """Do what the event says with the invocation; the connection to go on with."""
    n, fault = event["n"], event["fault"]
    response = f"/2018-06-01/runtime/invocation/{request_id}/response"
    answer = json.dumps({"n": n}).encode()
    if fault == "ok":
        call(sock, "POST", response, answer)
    elif fault == "error":
        error = json.dumps({"errorMessage": f"failed {n}", "errorType": "FaultError"}).encode()
        path = f"/2018-06-01/runtime/invocation/{request_id}/error"
        call(sock, "POST", path, error, "Lambda-Runtime-Function-Error-Type: FaultError\r\n")
    elif fault == "empty_error":
        path = f"/2018-06-01/runtime/invocation/{request_id}/error"
        call(sock, "POST", path, b"", "Lambda-Runtime-Function-Error-Type: \r\n")
    elif fault == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "exit":
        sys.stdout.flush()
        os._exit(3)
    elif fault == "sigstop":
        os.kill(os.getpid(), signal.SIGSTOP)
        raise RuntimeError("continued after the function timeout")
    elif fault == "drop":
        sock.close()
        return connect()
    elif fault == "new_connection":
        sock.close()
        sock = connect()
        call(sock, "POST", response, answer)
    elif fault == "half_closed":
        sock.sendall(request_bytes("POST", response, answer))
        sock.shutdown(socket.SHUT_WR)
        status, _, body = read_answer(sock)
        if status != 202:
            raise RuntimeError(f"a half-closed /response answered {status}: {body!r}")
        sock.close()
        return connect()
    elif fault == "broken_response":
        whole = request_bytes("POST", response, answer)
        sock.sendall(whole[: len(whole) - len(answer) // 2])
        sock.close()
        sock = connect()
        call(sock, "POST", response, answer)
    else:
        raise ValueError(fault)
    return sock


def main() -> None:
    sock = connect()
    then: Optional[str] = None
    while True:
        before_next(then)
        sock.sendall(request_bytes("GET", NEXT))
        status, headers, body = read_answer(sock)
        if status != 200:
            raise RuntimeError(f"/next answered {status}: {body!r}")
        request_id = headers["lambda-runtime-aws-request-id"]
        print(f"{TOOK} {request_id}", flush=True)
        event = json.loads(body)
        then = event.get("then")
        sock = handle(sock, request_id, event)


if __name__ == "__main__":
    main()
