"""Function URLs: a function called over plain HTTP. The request becomes AWS's payload 2.0
event and the result becomes the HTTP response, under `/lambda-url/<function>/` and the host
name `<function>.lambda-url.<region>.localhost` on the Invoke API's port, and at the root of
`--http-port`. AWS's shapes: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
(request payload, response format, "Lambda infers the response format")."""

from __future__ import annotations

import base64
import json
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import FUNCTIONS, Emulator, EmulatorFactory, Response, request

HANDLERS = FUNCTIONS / "function_url"

#: The bodies of the `shaped` answers whose framing headers lie (`FRAMING` of the handlers).
FRAMING_BODIES = {
    "short-length": b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged",
    "long-length": b"a body shorter than it says",
    "gzip": b"not gzipped",
}
#: A bound on each read of a raw answer: a wrong length fails the test instead of hanging it.
RAW_TIMEOUT_S = 10.0
#: A trace the front end starts: `Root=1-<epoch seconds, 8 hex>-<24 hex>`.
TRACE_ROOT = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}")


def assert_front_end_headers(answer: Response, forwarded_for: str, port: int) -> str:
    """Check the headers the front end added to the payload 2.0 event `answer` echoes (the
    client at 127.0.0.1, plain HTTP to `port`, a new trace the invocation continues); the
    event's trace header."""
    assert answer.status == 200, answer.body
    event = answer.json()
    headers = event["headers"]
    assert headers["x-forwarded-for"] == forwarded_for
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == str(port)
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    trace: str = headers["x-amzn-trace-id"]
    assert TRACE_ROOT.fullmatch(trace), trace
    # The invocation continues that trace: the function's _X_AMZN_TRACE_ID has its root.
    assert (answer.header("x-trace") or "").startswith(f"{trace};Parent="), answer.headers
    return trace


#: A trace a client sends (X-Ray's header).
GIVEN_TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
#: The access key the signed requests name.
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


def sigv4(url: str, method: str = "GET") -> dict[str, str]:
    """The headers of a request signed with SigV4 for Lambda, as an SDK signs it."""
    signing = AWSRequest(method=method, url=url)
    SigV4Auth(Credentials(ACCESS_KEY, "secret"), "lambda", "us-east-1").add_auth(signing)
    return {k: v for k, v in signing.headers.items() if k.lower() != "host"}


@dataclass
class RawAnswer:
    """One HTTP/1.1 answer read off a socket by its own framing."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name.lower()]


def read_answer(reader: BinaryIO) -> RawAnswer:
    """The next answer on a connection: its head, then the body its framing says."""
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: list[tuple[str, str]] = []
    while (line := reader.readline().strip()) != b"":
        name, _, value = line.decode().partition(":")
        headers.append((name.strip().lower(), value.strip()))
    answer = RawAnswer(int(status_line.split()[1]), headers, b"")
    if answer.header("transfer-encoding") == ["chunked"]:
        while size := int(reader.readline().strip(), 16):
            answer.body += reader.read(size)
            assert reader.readline() == b"\r\n"
        assert reader.readline() == b"\r\n"
    else:
        (length,) = answer.header("content-length")
        answer.body = reader.read(int(length))
    return answer


def pipelined(host: str, port: int, paths: list[str]) -> tuple[list[RawAnswer], bytes]:
    """GET each path, all sent at once on one keep-alive connection: one answer per request,
    read by its framing, and whatever the server sent after them (nothing, when each answer's
    framing is its body's)."""
    with socket.create_connection((host, port), timeout=RAW_TIMEOUT_S) as sock:
        sock.sendall(
            b"".join(f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode() for p in paths)
        )
        with sock.makefile("rb") as reader:
            answers = [read_answer(reader) for _ in paths]
            # The server closes an idle connection its client has stopped writing to.
            sock.shutdown(socket.SHUT_WR)
            rest = reader.read()
    return answers, rest


def assert_framed_by_the_server(answers: list[RawAnswer], rest: bytes, shapes: list[str]) -> None:
    """Each answer carries its own body whole, with the length of that body."""
    assert rest == b"", rest
    assert [(a.status, a.body) for a in answers] == [(200, FRAMING_BODIES[s]) for s in shapes]
    for answer in answers:
        assert answer.header("content-length") == [str(len(answer.body))], answer.headers
        assert answer.header("transfer-encoding") == [], answer.headers
        assert answer.header("connection") == [], answer.headers


def served(
    factory: EmulatorFactory, directory: Path, *extra: str, url: str = "true", wait: bool = True
) -> Emulator:
    config = directory / "lambda-rie.toml"
    config.write_text(
        f"""
[defaults]
code_dir = "{HANDLERS}"
timeout = 2

[functions.echo]
handler = "app.echo"
url = {url}

[functions.shaped]
handler = "app.shaped"
url = {url}

[functions.private]
handler = "app.echo"
"""
    )
    return factory(["--config", str(config), *extra], wait=wait)


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory, tmp_path: Path) -> Emulator:
    return served(emulator_factory, tmp_path)


def test_a_request_becomes_the_payload_2_0_event(emulator: Emulator) -> None:
    answer = emulator.request(
        "POST",
        "/lambda-url/echo/my/path?p1=v1&p1=v2&p2=a%20b",
        body=b"Hello from client!",
        headers={"Content-Type": "text/plain", "Cookie": "c1=a; c2=b", "User-Agent": "agent"},
    )
    assert answer.status == 200, answer.body
    assert answer.header("x-echo") == "yes"
    event = answer.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == "p1=v1&p1=v2&p2=a%20b"
    assert event["queryStringParameters"] == {"p1": "v1,v2", "p2": "a b"}
    assert event["cookies"] == ["c1=a", "c2=b"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["content-type"] == "text/plain"
    assert event["body"] == "Hello from client!"
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/my/path",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "agent",
    }
    assert context["accountId"] == "anonymous"
    assert context["domainName"] == "echo.lambda-url.us-east-1.localhost"
    assert context["requestId"] == answer.header("x-amzn-RequestId")
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])
    # One access log line per request.
    line = emulator.stderr.wait_for(r"URL POST /my/path 200 [\d.]+ ms function=echo").string
    assert f"request_id={context['requestId']}" in line


def test_binary_bodies_arrive_base64(emulator: Emulator) -> None:
    body = bytes(range(256))
    answer = emulator.request(
        "PUT",
        "/lambda-url/echo/",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    event = answer.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body
    assert "queryStringParameters" not in event


def test_the_host_name_reaches_the_url(emulator: Emulator) -> None:
    answer = emulator.request(
        "GET", "/x?y=1", headers={"Host": f"echo.lambda-url.us-east-1.localhost:{emulator.port}"}
    )
    assert answer.status == 200, answer.body
    assert answer.json()["rawPath"] == "/x"


@pytest.mark.parametrize(
    ("shape", "body"),
    [
        ("string", b"hello"),
        ("list", b'["hello",3,true]'),
        ("object", b'{"hello":"world"}'),
    ],
)
def test_results_without_a_status_code_are_the_body_of_a_200(
    emulator: Emulator, shape: str, body: bytes
) -> None:
    answer = emulator.request("GET", f"/lambda-url/shaped/?shape={shape}")
    assert (answer.status, answer.body) == (200, body)
    assert answer.header("Content-Type") == "application/json"


def test_a_status_code_result_says_status_headers_cookies_and_body(emulator: Emulator) -> None:
    answer = emulator.request("GET", "/lambda-url/shaped/?shape=teapot")
    assert answer.status == 418
    assert answer.body == b"short and stout"
    assert answer.header("Content-Type") == "text/plain"
    assert answer.header("X-Tea") == "pot"
    assert answer.headers.get_all("Set-Cookie") == ["a=1", "b=2; Path=/"]


def test_base64_results_are_sent_as_bytes(emulator: Emulator) -> None:
    answer = emulator.request("GET", "/lambda-url/shaped/?shape=binary")
    assert answer.status == 200
    assert answer.body == bytes(range(256))
    assert answer.header("Content-Type") == "application/octet-stream"


@pytest.mark.parametrize("shape", ["error", "slow", "bad-status", "informational"])
def test_failures_are_502_internal_server_error(emulator: Emulator, shape: str) -> None:
    answer = emulator.request("GET", f"/lambda-url/shaped/?shape={shape}", timeout=30)
    assert (answer.status, answer.body) == (502, b"Internal Server Error")
    # The function's environment serves the next request.
    assert emulator.request("GET", "/lambda-url/shaped/").json() == {"hello": "world"}


@pytest.mark.parametrize("function", ["private", "nope"])
def test_a_function_without_a_url_is_403_as_aws_answers_unknown_urls(
    emulator: Emulator, function: str
) -> None:
    answer = emulator.request("GET", f"/lambda-url/{function}/")
    assert answer.status == 403
    assert answer.json() == {"Message": None}
    assert answer.header("x-amzn-ErrorType") == "AccessDeniedException"


def test_a_body_over_6_mb_is_413(emulator: Emulator) -> None:
    answer = emulator.request("POST", "/lambda-url/echo/", body=b"x" * (6 * 1024 * 1024 + 1))
    assert answer.status == 413
    assert emulator.request("GET", "/lambda-url/echo/").status == 200


def test_an_event_over_6_mb_is_413_and_the_function_is_not_invoked(emulator: Emulator) -> None:
    # 5 MB of bytes is under the 6 MB a request may carry, but its base64 event is ~6.7 MB.
    body = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    answer = emulator.request(
        "POST",
        "/lambda-url/echo/big",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert (answer.status, answer.body) == (413, b"Request Entity Too Large")
    emulator.stderr.wait_for(r"URL POST /big 413 [\d.]+ ms function=echo request_id=")
    # The next request is the first the function runs.
    after = emulator.request("GET", "/lambda-url/echo/")
    assert after.status == 200, after.body
    first = f"START RequestId: {after.header('x-amzn-RequestId')} Version: $LATEST"
    emulator.stdout.wait_for(f"^{re.escape(first)}$")
    starts = [line for line in emulator.stdout.lines() if line.startswith("START RequestId: ")]
    assert starts == [first]


def test_the_function_cannot_set_the_framing_of_its_answer(emulator: Emulator) -> None:
    # A Content-Length too short would make the rest of the body a second (forged) answer on a
    # keep-alive connection; one too long would keep the client waiting for bytes never sent.
    shapes = ["short-length", "long-length", "gzip", "short-length"]
    answers, rest = pipelined(
        emulator.host, emulator.port, [f"/lambda-url/shaped/?shape={s}" for s in shapes]
    )
    assert_framed_by_the_server(answers, rest, shapes)
    assert all(a.header("x-amzn-RequestId") for a in answers)


def test_the_front_end_says_who_called_how_and_starts_a_trace(emulator: Emulator) -> None:
    # The client's own X-Forwarded-Proto and -Port are replaced by how it reached the listener.
    answer = emulator.request(
        "GET",
        "/lambda-url/echo/",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
    )
    trace = assert_front_end_headers(answer, "127.0.0.1", emulator.port)
    # Each request starts its own.
    assert (
        emulator.request("GET", "/lambda-url/echo/").json()["headers"]["x-amzn-trace-id"] != trace
    )


def test_a_forwarded_chain_is_appended_to_and_a_given_trace_is_kept(emulator: Emulator) -> None:
    answer = emulator.request(
        "GET",
        "/lambda-url/echo/",
        headers={"X-Forwarded-For": "1.2.3.4, 5.6.7.8", "X-Amzn-Trace-Id": GIVEN_TRACE},
    )
    assert answer.status == 200, answer.body
    event = answer.json()
    assert event["headers"]["x-forwarded-for"] == "1.2.3.4, 5.6.7.8, 127.0.0.1"
    source_ip = event["requestContext"]["http"]["sourceIp"]
    assert event["headers"]["x-forwarded-for"].split(", ")[-1] == source_ip
    assert event["headers"]["x-amzn-trace-id"] == GIVEN_TRACE
    assert answer.header("x-trace") == GIVEN_TRACE


@pytest.mark.parametrize(
    ("shape", "headers"),
    [
        ("scalar-headers", {"X-Count": "3", "X-On": "true", "Content-Type": "text/plain"}),
        ("untyped", {}),
    ],
)
def test_number_and_boolean_header_values_are_text_and_null_is_no_header(
    emulator: Emulator, shape: str, headers: dict[str, str]
) -> None:
    answer = emulator.request("GET", f"/lambda-url/shaped/?shape={shape}")
    assert answer.status == 200, answer.body
    for name, value in headers.items():
        assert answer.header(name) == value, answer.headers
    assert answer.header("X-Gone") is None
    if not headers:
        # A content type named null is no content type, not the JSON one by default.
        assert answer.header("Content-Type") is None, answer.headers


@pytest.mark.parametrize("shape", ["list-header", "object-header"])
def test_a_list_or_object_header_value_is_a_502(emulator: Emulator, shape: str) -> None:
    answer = emulator.request("GET", f"/lambda-url/shaped/?shape={shape}")
    assert (answer.status, answer.body) == (502, b"Internal Server Error")
    emulator.stderr.wait_for(r"the function's result is not a response: header X-\w+ is not")


def test_aws_iam_urls_need_a_signed_request(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = served(emulator_factory, tmp_path, url='{ auth_type = "AWS_IAM" }')
    assert emulator.request("GET", "/lambda-url/echo/").status == 403
    signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/lambda/"
        "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "X-Amz-Date": "20261206T120000Z",
    }
    answer = emulator.request("GET", "/lambda-url/echo/", headers=signed)
    assert answer.status == 200, answer.body
    assert answer.json()["requestContext"]["accountId"] == "012345678912"


def test_an_aws_iam_event_names_the_signer(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = served(emulator_factory, tmp_path, url='{ auth_type = "AWS_IAM" }')
    url = f"http://echo.lambda-url.us-east-1.localhost:{emulator.port}/signed"
    answer = emulator.request("GET", "/lambda-url/echo/signed", headers=sigv4(url))
    assert answer.status == 200, answer.body
    context = answer.json()["requestContext"]
    assert context["authorizer"] == {
        "iam": {
            "accessKey": ACCESS_KEY,
            "accountId": "012345678912",
            "callerId": "AIDAIOSFODNN7EXAMPLE",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::012345678912:user/{ACCESS_KEY}",
            "userId": "AIDAIOSFODNN7EXAMPLE",
        }
    }


def test_a_none_event_has_no_authorizer(emulator: Emulator) -> None:
    # Signed or not, a NONE URL's caller is anonymous.
    url = f"http://echo.lambda-url.us-east-1.localhost:{emulator.port}/"
    for headers in [None, sigv4(url)]:
        context = emulator.request("GET", "/lambda-url/echo/", headers=headers).json()[
            "requestContext"
        ]
        assert "authorizer" not in context
        assert context["accountId"] == "anonymous"


def test_http_port_serves_the_function_at_the_root(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        ["--http-port", "0", "--code-dir", str(HANDLERS), "app.echo"], cwd=HANDLERS
    )
    line = emulator.stderr.wait_for(r"Function URL of (\S+) on http://([\d.]+):(\d+)/")
    answer = request(line.group(2), int(line.group(3)), "GET", "/hello?who=you")
    assert answer.status == 200, answer.body
    event = answer.json()
    assert (event["rawPath"], event["queryStringParameters"]) == ("/hello", {"who": "you"})
    # X-Forwarded-Port is the port of the listener the client connected to.
    assert event["headers"]["x-forwarded-port"] == line.group(3) != str(emulator.port)
    # The function's URL is on the Invoke API's port too.
    name = line.group(1)
    assert emulator.request("GET", f"/lambda-url/{name}/").status == 200


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('{ auth_type = "OPEN" }', 'auth_type "OPEN" is not NONE or AWS_IAM'),
        ('{ invoke_mode = "FAST" }', 'invoke_mode "FAST" is not BUFFERED or RESPONSE_STREAM'),
        ("{ cors = true }", "cors: expected a table"),
        ("{ cors = { max_age = 86401 } }", "cors.maxAge"),
        ("{ cors = { origins = [] } }", 'cors: unknown key "origins"'),
        ("{ public = true }", 'unknown key "public"'),
        ("3", "expected true, false or a table"),
    ],
)
def test_url_settings_are_checked(
    emulator_factory: EmulatorFactory, tmp_path: Path, setting: str, message: str
) -> None:
    emulator = served(emulator_factory, tmp_path, url=setting, wait=False)
    error = emulator.refused()
    assert "function echo" in error or "echo" in error, error
    assert "url" in error, error
    assert message in error, error


def test_http_port_is_checked(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(["--http-port", "http", "app.handler"], wait=False)
    assert '--http-port: "http" is not a port' in emulator.refused()


def test_events_are_json_the_function_can_read(emulator: Emulator) -> None:
    answer = emulator.request(
        "POST",
        "/lambda-url/echo/",
        body=json.dumps({"a": 1}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert json.loads(answer.json()["body"]) == {"a": 1}


def test_head_requests_and_utf8_paths_reach_the_function(emulator: Emulator) -> None:
    answer = emulator.request("HEAD", "/lambda-url/echo/")
    assert (answer.status, answer.body) == (200, b"")
    event = emulator.request("GET", "/lambda-url/echo/caf%C3%A9/%E2%82%AC").json()
    assert event["rawPath"] == "/caf%C3%A9/%E2%82%AC"
    assert event["requestContext"]["http"]["path"] == "/caf%C3%A9/%E2%82%AC"


def test_a_malformed_host_is_an_unknown_url(emulator: Emulator) -> None:
    answer = emulator.request("GET", "/", headers={"Host": ".lambda-url..localhost"})
    assert answer.status == 403
    assert answer.json() == {"Message": None}


def test_concurrent_requests_run_in_concurrent_environments(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = tmp_path / "lambda-rie.toml"
    config.write_text(
        f'[functions.sixteen]\nhandler = "app.sleepy"\ncode_dir = "{HANDLERS}"\nurl = true\n'
    )
    emulator = emulator_factory(["--config", str(config), "--max-environments", "16"])

    def sixteen_at_once() -> list[Response]:
        with ThreadPoolExecutor(16) as pool:
            return list(
                pool.map(
                    lambda _: emulator.request("GET", "/lambda-url/sixteen/", timeout=60),
                    range(16),
                )
            )

    # NOTE: the first round starts 16 environments (cold starts spread over the machine's
    # load); the second finds them warm and must run all 16 at once.
    assert [a.status for a in sixteen_at_once()] == [200] * 16
    answers = sixteen_at_once()
    assert [a.status for a in answers] == [200] * 16
    runs = [a.json() for a in answers]
    # Every handler started before any ended: all 16 ran at once.
    assert max(r["started"] for r in runs) < min(r["ended"] for r in runs)
    assert len({a.header("x-amzn-RequestId") for a in answers}) == 16


def test_past_reserved_concurrency_a_url_answers_429(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = tmp_path / "lambda-rie.toml"
    config.write_text(
        f'[functions.sleepy]\nhandler = "app.sleepy"\ncode_dir = "{HANDLERS}"\nurl = true\n'
        "reserved_concurrency = 0\n"
    )
    emulator = emulator_factory(["--config", str(config)])
    answer = emulator.request("GET", "/lambda-url/sleepy/")
    assert answer.status == 429
    assert answer.json()["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
