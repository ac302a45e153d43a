"""Function URLs: a function called over plain HTTP. The request becomes AWS's payload 2.0
event and the result becomes the HTTP response, under `/lambda-url/<function>/` and the host
name `<function>.lambda-url.<region>.localhost` on the Invoke API's port, and at the root of
`--http-port`. AWS's shapes: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
(request payload, response format, "Lambda infers the response format")."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import FUNCTIONS, Emulator, EmulatorFactory, Response, request

HANDLERS = FUNCTIONS / "function_url"


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


@pytest.mark.parametrize("shape", ["error", "slow", "bad-status"])
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


def test_http_port_serves_the_function_at_the_root(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        ["--http-port", "0", "--code-dir", str(HANDLERS), "app.echo"], cwd=HANDLERS
    )
    line = emulator.stderr.wait_for(r"Function URL of (\S+) on http://([\d.]+):(\d+)/")
    answer = request(line.group(2), int(line.group(3)), "GET", "/hello?who=you")
    assert answer.status == 200, answer.body
    event = answer.json()
    assert (event["rawPath"], event["queryStringParameters"]) == ("/hello", {"who": "you"})
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
