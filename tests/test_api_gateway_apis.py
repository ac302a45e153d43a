"""What SAM's `AWS::Serverless::Api` and `AWS::Serverless::HttpApi` resources give their routes
(docs/reference.md §15), checked against AWS's documentation:

- header names keep the client's case in payload 1.0 events
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html);
- stage variables and stage names
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/stage-variables.html);
- binary media types of a REST API
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html,
  .../lambda-proxy-binary-media.html);
- Lambda authorizers: REST TOKEN and REQUEST
  (.../api-gateway-lambda-authorizer-input.html, .../api-gateway-lambda-authorizer-output.html)
  and HTTP API simple responses (.../http-api-lambda-authorizer.html); the answers as AWS's
  troubleshooting articles give them
  (https://repost.aws/knowledge-center/api-gateway-403-error-lambda-authorizer).
"""

from __future__ import annotations

import base64
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from harness import FUNCTIONS, EmulatorFactory, Response, request

HANDLERS = FUNCTIONS / "api_gateway"

TEMPLATE = f"""
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: {HANDLERS}
    Timeout: 5
Resources:
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Variables:
        table: items-dev
      BinaryMediaTypes: ['application~1octet-stream', 'image/*']
      Auth:
        Authorizers:
          TokenAuth:
            FunctionArn: !GetAtt TokenAuthorizer.Arn
          RequestAuth:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt RequestAuthorizer.Arn
            Identity:
              Headers: [X-Key]
              QueryStrings: [user]
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageVariables:
        mode: test
      Auth:
        Authorizers:
          Simple:
            FunctionArn: !GetAtt SimpleAuthorizer.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
      Events:
        Open:
          Type: Api
          Properties: {{RestApiId: !Ref Rest, Path: /open, Method: ANY}}
        Token:
          Type: Api
          Properties:
            RestApiId: !Ref Rest
            Path: /token/{{id}}
            Method: GET
            Auth: {{Authorizer: TokenAuth}}
        Request:
          Type: Api
          Properties:
            RestApiId: !Ref Rest
            Path: /request
            Method: GET
            Auth: {{Authorizer: RequestAuth}}
        Implicit:
          Type: Api
          Properties: {{Path: /implicit, Method: GET}}
        Plain:
          Type: HttpApi
          Properties: {{ApiId: !Ref Http, Path: /http, Method: GET}}
        Guarded:
          Type: HttpApi
          Properties:
            ApiId: !Ref Http
            Path: /guarded
            Method: GET
            Auth: {{Authorizer: Simple}}
  Binary:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.binary
      Events:
        Bytes:
          Type: Api
          Properties: {{RestApiId: !Ref Rest, Path: /binary, Method: POST}}
  TokenAuthorizer:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.token_authorizer}}
  RequestAuthorizer:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.request_authorizer}}
  SimpleAuthorizer:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.simple_authorizer}}
"""

# Bytes that are not UTF-8.
NOT_UTF8 = b"\xff\xfe\x00\x80binary\xc3"


class Api:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        return request(self.host, self.port, method, path, **kwargs)


@pytest.fixture
def api(emulator_factory: EmulatorFactory, tmp_path: Path) -> Api:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    emulator = emulator_factory(["--http-port", "0", "--template", str(path)])
    line = emulator.stderr.wait_for(r"API Gateway routes \((\d+)\) on http://([\d.]+):(\d+)/")
    assert line.group(1) == "7"
    return Api(line.group(2), int(line.group(3)))


def raw_get(api: Api, head: bytes) -> tuple[int, Any]:
    """Send `head` as it is on a raw socket; the status and the JSON body."""
    with socket.create_connection((api.host, api.port), timeout=10) as s:
        s.sendall(head)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, json.loads(body)


def test_payload_1_0_keeps_the_clients_header_case(api: Api) -> None:
    status, event = raw_get(
        api,
        b"GET /open HTTP/1.1\r\nHost: localhost\r\nX-Custom-Header: one\r\n"
        b"x-custom-header: two\r\nx-lower: low\r\nConnection: close\r\n\r\n",
    )
    assert status == 200
    assert event["headers"]["X-Custom-Header"] == "one"
    assert event["multiValueHeaders"]["X-Custom-Header"] == ["one"]
    assert event["multiValueHeaders"]["x-custom-header"] == ["two"]
    assert event["headers"]["x-lower"] == "low"
    assert event["headers"]["Host"] == "localhost"
    assert event["headers"]["Connection"] == "close"
    # Payload 2.0 names are lower-case, as AWS's are.
    _, event = raw_get(
        api, b"GET /http HTTP/1.1\r\nHost: h\r\nX-Custom-Header: v\r\nConnection: close\r\n\r\n"
    )
    assert event["headers"]["x-custom-header"] == "v"


def test_stage_names_and_variables_reach_the_event(api: Api) -> None:
    event = api.call("GET", "/open").json()
    assert event["stageVariables"] == {"table": "items-dev"}
    assert event["requestContext"]["stage"] == "dev"
    # The implicit API: stage Prod, no variables (null, as AWS).
    event = api.call("GET", "/implicit").json()
    assert (event["stageVariables"], event["requestContext"]["stage"]) == (None, "Prod")
    event = api.call("GET", "/http").json()
    assert event["stageVariables"] == {"mode": "test"}
    assert event["requestContext"]["stage"] == "$default"


def test_binary_media_types_base64_the_body_and_decode_the_answer(api: Api) -> None:
    answer = api.call(
        "POST",
        "/binary",
        body=NOT_UTF8,
        headers={"Content-Type": "application/octet-stream", "Accept": "image/png, */*"},
    )
    assert answer.status == 200, answer.body
    assert answer.body == NOT_UTF8
    # Without a binary Accept, API Gateway answers the base64 text as it is... unless the
    # result's own Content-Type is binary, as it is here: decoded too.
    answer = api.call(
        "POST", "/binary", body=NOT_UTF8, headers={"Content-Type": "application/octet-stream"}
    )
    assert answer.body == NOT_UTF8
    # A text body is text in the event.
    event = api.call(
        "POST", "/open", body="café".encode(), headers={"Content-Type": "text/plain"}
    ).json()
    assert (event["body"], event["isBase64Encoded"]) == ("café", False)
    event = api.call("POST", "/open", body=NOT_UTF8, headers={"Content-Type": "image/gif"}).json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == NOT_UTF8


def test_a_token_authorizer_allows_with_its_context(api: Api) -> None:
    answer = api.call("GET", "/token/42", headers={"Authorization": "allow"})
    assert answer.status == 200, answer.body
    authorizer = answer.json()["requestContext"]["authorizer"]
    assert (authorizer["principalId"], authorizer["user"], authorizer["level"]) == ("ada", "ada", 3)
    assert isinstance(authorizer["integrationLatency"], int)
    seen = json.loads(authorizer["event"])
    assert seen["type"] == "TOKEN"
    assert seen["authorizationToken"] == "allow"
    assert re.fullmatch(
        r"arn:aws:execute-api:[a-z0-9-]+:\d{12}:lambda-rie/dev/GET/token/42", seen["methodArn"]
    ), seen["methodArn"]
    assert set(seen) == {"type", "authorizationToken", "methodArn"}


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [
        (
            "deny",
            403,
            {"Message": "User is not authorized to access this resource with an explicit deny"},
        ),
        ("elsewhere", 403, {"Message": "User is not authorized to access this resource"}),
        ("unauthorized", 401, {"message": "Unauthorized"}),
        ("boom", 500, {"message": None}),
        ("nested", 500, {"message": None}),
    ],
)
def test_a_token_authorizer_refuses_as_api_gateway_does(
    api: Api, token: str, status: int, body: dict[str, Any]
) -> None:
    answer = api.call("GET", "/token/42", headers={"Authorization": token})
    assert (answer.status, answer.json()) == (status, body)
    if status == 500:
        assert answer.header("x-amzn-ErrorType") == "AuthorizerConfigurationException"


def test_a_missing_token_is_401_without_calling_the_authorizer(api: Api) -> None:
    answer = api.call("GET", "/token/42")
    assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"})


def test_a_request_authorizer_gets_the_request(api: Api) -> None:
    # Both identity sources are needed.
    answer = api.call("GET", "/request", headers={"X-Key": "allow"})
    assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"})
    answer = api.call("GET", "/request?user=ada&user=bob", headers={"X-Key": "allow"})
    assert answer.status == 200, answer.body
    seen = json.loads(answer.json()["requestContext"]["authorizer"]["event"])
    assert seen["type"] == "REQUEST"
    assert seen["methodArn"].endswith(":lambda-rie/dev/GET/request")
    assert (seen["resource"], seen["path"], seen["httpMethod"]) == ("/request", "/request", "GET")
    assert seen["headers"]["X-Key"] == "allow"
    assert seen["multiValueQueryStringParameters"] == {"user": ["ada", "bob"]}
    assert seen["stageVariables"] == {"table": "items-dev"}
    assert seen["requestContext"]["stage"] == "dev"
    assert "body" not in seen
    answer = api.call("GET", "/request?user=ada", headers={"X-Key": "deny"})
    assert answer.status == 403


def test_an_http_api_authorizer_with_simple_responses(api: Api) -> None:
    answer = api.call("GET", "/guarded?x=1", headers={"Authorization": "allow"})
    assert answer.status == 200, answer.body
    event = answer.json()
    lambda_context = event["requestContext"]["authorizer"]["lambda"]
    assert lambda_context["user"] == "ada"
    seen = json.loads(lambda_context["event"])
    assert (seen["version"], seen["type"], seen["routeKey"]) == ("2.0", "REQUEST", "GET /guarded")
    assert seen["identitySource"] == ["allow"]
    assert seen["routeArn"].endswith(":lambda-rie/$default/GET/guarded")
    assert seen["stageVariables"] == {"mode": "test"}
    answer = api.call("GET", "/guarded", headers={"Authorization": "no"})
    assert (answer.status, answer.json()) == (403, {"message": "Forbidden"})
    answer = api.call("GET", "/guarded")
    assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"})


def test_an_unknown_authorizer_name_is_refused(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace("Auth: {Authorizer: TokenAuth}", "Auth: {Authorizer: Nope}"))
    emulator = emulator_factory(["--template", str(path)], wait=False)
    error = emulator.refused()
    assert "Events.Token.Properties.Auth.Authorizer" in error, error
    assert '"Nope" is not one of the API\'s Auth.Authorizers' in error, error
