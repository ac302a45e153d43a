"""API Gateway routes from a SAM template, served on `--http-port` as `sam local start-api`
serves them: `HttpApi` events get payload 2.0 and `Api` (REST) events payload 1.0, as AWS
documents them (https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-develop-integrations-lambda.html, payload format structure; and .../set-up-lambda-
proxy-integrations.html, input and output formats of a Lambda proxy integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import FUNCTIONS, Emulator, EmulatorFactory, Response, request
from test_function_url import (
    GIVEN_TRACE,
    assert_framed_by_the_server,
    assert_front_end_headers,
    pipelined,
)

HANDLERS = FUNCTIONS / "function_url"

TEMPLATE = f"""
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: {HANDLERS}
    Timeout: 2
Resources:
  Items:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
      Events:
        One:
          Type: HttpApi
          Properties:
            Path: /items/{{id}}
            Method: get
        Files:
          Type: HttpApi
          Properties:
            Path: /files/{{path+}}
            Method: ANY
  Shaped:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.shaped
      Events:
        Catch:
          Type: HttpApi
  Legacy:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.rest
      Events:
        Get:
          Type: Api
          Properties:
            Path: /legacy/{{name}}
            Method: GET
"""


class Api:
    def __init__(self, emulator: Emulator, host: str, port: int) -> None:
        self.emulator = emulator
        self.host, self.port = host, port

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        return request(self.host, self.port, method, path, **kwargs)


def serve(factory: EmulatorFactory, directory: Path, template: str = TEMPLATE) -> Api:
    path = directory / "template.yaml"
    path.write_text(template)
    emulator = factory(["--http-port", "0", "--template", str(path)])
    line = emulator.stderr.wait_for(r"API Gateway routes \((\d+)\) on http://([\d.]+):(\d+)/")
    assert line.group(1) == "4"
    return Api(emulator, line.group(2), int(line.group(3)))


@pytest.fixture
def api(emulator_factory: EmulatorFactory, tmp_path: Path) -> Api:
    return serve(emulator_factory, tmp_path)


def test_an_http_api_route_gets_payload_2_0_with_its_route_key(api: Api) -> None:
    answer = api.call("GET", "/items/42?x=1", headers={"User-Agent": "agent"})
    assert answer.status == 200, answer.body
    event = answer.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["requestContext"]["routeKey"] == "GET /items/{id}"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["requestId"] == answer.header("apigw-requestid")
    api.emulator.stderr.wait_for(r"API GET /items/42 200 [\d.]+ ms function=Items request_id=")


def test_greedy_paths_any_method_and_the_default_route(api: Api) -> None:
    event = api.call("DELETE", "/files/a/b.txt").json()
    assert (event["routeKey"], event["pathParameters"]) == (
        "ANY /files/{path+}",
        {"path": "a/b.txt"},
    )
    # What no route matches goes to the $default route.
    answer = api.call("POST", "/items/42")
    assert (answer.status, answer.json()) == (200, {"hello": "world"})
    assert api.call("GET", "/anything?shape=string").body == b"hello"


def test_a_rest_api_route_gets_payload_1_0(api: Api) -> None:
    answer = api.call("GET", "/legacy/ada?tag=a&tag=b", headers={"X-Twice": "1"})
    assert answer.status == 200, answer.body
    assert answer.headers.get_all("X-Many") == ["a", "b"]
    event = answer.json()
    assert event["version"] == "1.0"
    assert event["resource"] == "/legacy/{name}"
    assert event["path"] == "/legacy/ada"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"name": "ada"}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    # Header names keep the client's case in payload 1.0, as AWS's do.
    assert event["multiValueHeaders"]["X-Twice"] == ["1"]
    assert event["headers"]["X-Twice"] == "1"
    assert event["body"] is None
    assert event["requestContext"]["stage"] == "Prod"
    assert event["requestContext"]["resourcePath"] == "/legacy/{name}"


def test_a_rest_result_without_status_code_is_a_502(api: Api) -> None:
    answer = api.call("GET", "/legacy/ada?shape=bare")
    assert (answer.status, answer.json()) == (502, {"message": "Internal server error"})


@pytest.mark.parametrize(
    ("shape", "status", "message"),
    [("error", 502, "Internal Server Error"), ("slow", 504, "Service Unavailable")],
)
def test_failed_functions_get_api_gateway_answers(
    api: Api, shape: str, status: int, message: str
) -> None:
    answer = api.call("GET", f"/x?shape={shape}", timeout=30)
    assert (answer.status, answer.json()) == (status, {"message": message})


def test_no_route_is_404_not_found(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    template = TEMPLATE.replace("        Catch:\n          Type: HttpApi\n", "")
    template = template.replace("      Events:\n  Legacy:", "  Legacy:")
    path = tmp_path / "template.yaml"
    path.write_text(template.replace("Handler: app.shaped\n", "Handler: app.shaped\n"))
    emulator = emulator_factory(["--http-port", "0", "--template", str(path)])
    line = emulator.stderr.wait_for(r"API Gateway routes \((\d+)\) on http://([\d.]+):(\d+)/")
    answer = request(line.group(2), int(line.group(3)), "GET", "/nowhere")
    assert (answer.status, answer.json()) == (404, {"message": "Not Found"})
    answer = request(line.group(2), int(line.group(3)), "POST", "/legacy/ada")
    assert answer.status == 404


def test_routes_without_http_port_are_named_in_a_warning(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    emulator = emulator_factory(["--template", str(path)])
    emulator.stderr.wait_for(r"4 API Gateway routes are not served: give --http-port PORT")


def test_an_api_event_needs_path_and_method(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace("            Method: GET\n", ""))
    emulator = emulator_factory(["--template", str(path)], wait=False)
    error = emulator.refused()
    assert "Legacy" in error, error
    assert "Events.Get.Properties.Path" in error, error
    assert "an Api event needs a Path and a Method" in error, error


def test_event_bodies_reach_the_function(api: Api) -> None:
    answer = api.call(
        "PUT",
        "/items/7",
        body=json.dumps({"a": 1}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 200
    assert answer.json() == {"hello": "world"}
    event = api.call(
        "GET", "/items/7", body=b'{"a": 1}', headers={"Content-Type": "application/json"}
    ).json()
    assert json.loads(event["body"]) == {"a": 1}


@pytest.mark.parametrize(
    "size", [10 * 1024 * 1024 + 1, 7 * 1024 * 1024], ids=["over-10mb", "event-over-6mb"]
)
def test_a_body_api_gateway_or_lambda_cannot_take_is_413(api: Api, size: int) -> None:
    answer = api.call("PUT", "/items/7", body=b"x" * size, timeout=30)
    assert (answer.status, answer.json()) == (413, {"message": "Request Entity Too Large"})
    # The listener stays up and the route answers the next request.
    assert api.call("GET", "/items/7").status == 200


#: The template with the `Api` event of `Legacy` as an `HttpApi` event of payload 1.0.
HTTP_V1_TEMPLATE = TEMPLATE.replace(
    "          Type: Api\n          Properties:\n",
    '          Type: HttpApi\n          Properties:\n            PayloadFormatVersion: "1.0"\n',
)


@pytest.mark.parametrize(
    ("template", "path"),
    [
        (TEMPLATE, "/anything"),
        (HTTP_V1_TEMPLATE, "/legacy/ada"),
        (TEMPLATE, "/legacy/ada"),
    ],
    ids=["http-api-2.0", "http-api-1.0", "rest-api"],
)
def test_the_function_cannot_set_the_framing_of_its_answer(
    emulator_factory: EmulatorFactory, tmp_path: Path, template: str, path: str
) -> None:
    # A wrong Content-Length or Transfer-Encoding (in `headers` and, in 1.0, in
    # `multiValueHeaders`) is the server's to set: it must neither split an answer in two on a
    # keep-alive connection nor keep the client waiting.
    assert HTTP_V1_TEMPLATE != TEMPLATE
    api = serve(emulator_factory, tmp_path, template)
    shapes = ["short-length", "long-length", "gzip", "short-length"]
    answers, rest = pipelined(api.host, api.port, [f"{path}?shape={s}" for s in shapes])
    assert_framed_by_the_server(answers, rest, shapes)
    assert all(a.header("apigw-requestid") for a in answers)


@pytest.mark.parametrize(
    ("path", "message"),
    [("/anything", "Internal Server Error"), ("/legacy/ada", "Internal server error")],
    ids=["http-api", "rest-api"],
)
def test_an_informational_status_code_is_a_502(api: Api, path: str, message: str) -> None:
    answer = api.call("GET", f"{path}?shape=informational")
    assert (answer.status, answer.json()) == (502, {"message": message})


def test_a_throttled_route_is_429_rate_exceeded(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    template = TEMPLATE.replace(
        "      Handler: app.echo\n",
        "      Handler: app.echo\n      ReservedConcurrentExecutions: 0\n",
    )
    api = serve(emulator_factory, tmp_path, template)
    answer = api.call("GET", "/items/1")
    assert (answer.status, answer.json()) == (429, {"message": "Rate exceeded"})


def test_a_rest_result_needs_a_string_body_and_has_no_cookies(api: Api) -> None:
    malformed = api.call("GET", "/legacy/ada?shape=object-body")
    assert (malformed.status, malformed.json()) == (502, {"message": "Internal server error"})
    answer = api.call("GET", "/legacy/ada?shape=cookies")
    assert (answer.status, answer.body) == (200, b"no cookies in 1.0")
    assert answer.header("Set-Cookie") is None


def test_an_http_api_event_has_the_forwarding_and_trace_headers(api: Api) -> None:
    answer = api.call("GET", "/items/1", headers={"X-Forwarded-For": "1.2.3.4"})
    assert_front_end_headers(answer, "1.2.3.4, 127.0.0.1", api.port)


def test_a_rest_event_has_the_forwarding_and_trace_headers_as_api_gateway_spells_them(
    api: Api,
) -> None:
    answer = api.call("GET", "/legacy/ada", headers={"x-amzn-trace-id": GIVEN_TRACE})
    assert answer.status == 200, answer.body
    event = answer.json()
    added = {
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Port": str(api.port),
        "X-Amzn-Trace-Id": GIVEN_TRACE,
    }
    for name, value in added.items():
        assert event["headers"][name] == value, event["headers"]
        assert event["multiValueHeaders"][name] == [value], event["multiValueHeaders"]
    assert "x-amzn-trace-id" not in event["headers"]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    # A trace the client sent is the one the invocation continues.
    assert answer.header("x-trace") == GIVEN_TRACE


@pytest.mark.parametrize("path", ["/anything", "/legacy/ada"], ids=["http-api", "rest-api"])
def test_number_and_boolean_header_values_are_text_and_null_is_no_header(
    api: Api, path: str
) -> None:
    answer = api.call("GET", f"{path}?shape=scalar-headers")
    assert (answer.status, answer.body) == (200, b"scalars")
    assert (answer.header("X-Count"), answer.header("X-On")) == ("3", "true")
    assert answer.header("X-Gone") is None
    untyped = api.call("GET", f"{path}?shape=untyped")
    assert (untyped.status, untyped.body) == (200, b"no type")
    assert untyped.header("Content-Type") is None, untyped.headers


@pytest.mark.parametrize(
    ("path", "message"),
    [("/anything", "Internal Server Error"), ("/legacy/ada", "Internal server error")],
    ids=["http-api", "rest-api"],
)
@pytest.mark.parametrize("shape", ["list-header", "object-header"])
def test_a_list_or_object_header_value_is_a_malformed_answer(
    api: Api, path: str, message: str, shape: str
) -> None:
    answer = api.call("GET", f"{path}?shape={shape}")
    assert (answer.status, answer.json()) == (502, {"message": message})
