"""The function URL configuration API through boto3 (Create/Get/Update/Delete/
ListFunctionUrlConfig(s)) with AWS's shapes and errors, URLs that serve as configured, and
CORS: preflights answered by the URL and the configured headers on responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from control_plane_support import (
    ARN_PREFIX,
    TIMESTAMP,
    client,
    create,
    error_of,
    python_zip,
    state_args,
    zip_bytes,
)
from harness import FUNCTIONS, Emulator, EmulatorFactory

# A handler that sets CORS headers of its own, which a configured URL replaces.
CORS_HANDLER = (
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'body': 'ok', 'headers': {\n"
    "        'Access-Control-Allow-Origin': 'https://function.example',\n"
    "        'Access-Control-Expose-Headers': 'x-function',\n"
    "        'X-Kept': 'yes'}}\n"
)
PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}
CORS = {
    "AllowCredentials": True,
    "AllowHeaders": ["content-type", "x-custom"],
    "AllowMethods": ["GET", "POST"],
    "AllowOrigins": ["https://app.example"],
    "ExposeHeaders": ["x-request-id"],
    "MaxAge": 600,
}


def url_of(emu: Emulator, name: str) -> str:
    return f"http://{name}.lambda-url.us-east-1.localhost:{emu.port}/"


def call(emu: Emulator, name: str, method: str = "GET", **headers: str) -> Any:
    return emu.request(method, f"/lambda-url/{name}/hello", headers=headers)


def failure(call_api: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call_api()
    return error_of(raised.value)


def test_create_get_update_list_delete_with_aws_shapes(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "web")
    created = lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    created.pop("ResponseMetadata")
    assert TIMESTAMP.match(created.pop("CreationTime"))
    assert created == {
        "FunctionUrl": url_of(emu, "web"),
        "FunctionArn": ARN_PREFIX + "web",
        "AuthType": "NONE",
    }
    got = lam.get_function_url_config(FunctionName="web")
    got.pop("ResponseMetadata")
    assert TIMESTAMP.match(got.pop("CreationTime"))
    assert TIMESTAMP.match(got.pop("LastModifiedTime"))
    assert got == {
        "FunctionUrl": url_of(emu, "web"),
        "FunctionArn": ARN_PREFIX + "web",
        "AuthType": "NONE",
        "InvokeMode": "BUFFERED",
    }
    updated = lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM", Cors=CORS)
    assert (updated["AuthType"], updated["Cors"]) == ("AWS_IAM", CORS)
    assert TIMESTAMP.match(updated["LastModifiedTime"])
    listed = lam.list_function_url_configs(FunctionName="web")
    assert [(c["FunctionArn"], c["AuthType"], c["Cors"]) for c in listed["FunctionUrlConfigs"]] == [
        (ARN_PREFIX + "web", "AWS_IAM", CORS)
    ]
    assert "NextMarker" not in listed
    deleted = lam.delete_function_url_config(FunctionName="web")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"] == []


def test_errors_are_awss(emulator_factory: EmulatorFactory, state_dir: Path) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "web")
    lam.create_function_url_config(FunctionName="web", AuthType="NONE", InvokeMode="BUFFERED")
    assert failure(lambda: lam.create_function_url_config(FunctionName="web", AuthType="NONE")) == (
        409,
        "ResourceConflictException",
        f"Failed to create function url config for [functionArn = {ARN_PREFIX}web]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function",
    )
    missing = (404, "ResourceNotFoundException", "Function does not exist")
    no_config = (404, "ResourceNotFoundException", "The resource you requested does not exist.")
    assert failure(
        lambda: lam.create_function_url_config(FunctionName="nope", AuthType="NONE")
    ) == (missing)
    assert failure(lambda: lam.update_function_url_config(FunctionName="nope")) == missing
    assert failure(lambda: lam.list_function_url_configs(FunctionName="nope")) == missing
    assert failure(lambda: lam.get_function_url_config(FunctionName="nope")) == no_config
    assert failure(lambda: lam.delete_function_url_config(FunctionName="nope")) == no_config
    create(lam, "bare")
    assert failure(lambda: lam.get_function_url_config(FunctionName="bare")) == no_config
    assert failure(lambda: lam.update_function_url_config(FunctionName="bare")) == no_config
    assert failure(lambda: lam.delete_function_url_config(FunctionName="bare")) == no_config
    assert (
        failure(
            lambda: lam.create_function_url_config(
                FunctionName="web", Qualifier="nope", AuthType="NONE"
            )
        )
        == missing
    )
    for qualifier in ("1", "$LATEST"):
        assert failure(
            lambda q=qualifier: lam.get_function_url_config(FunctionName="web", Qualifier=q)
        ) == (
            400,
            "ValidationException",
            f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "((?!^\\d+$)^[0-9a-zA-Z-_]+$)",
        )
    assert failure(
        lambda: lam.update_function_url_config(FunctionName="web", InvokeMode="FAST")
    ) == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'FAST' at 'invokeMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]",
    )
    assert failure(
        lambda: lam.update_function_url_config(FunctionName="web", Cors={"MaxAge": 86401})
    ) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '86401' at 'cors.maxAge' failed to satisfy "
        "constraint: Member must have value less than or equal to 86400",
    )


def test_alias_urls_are_alias_qualified_and_go_with_their_alias(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "web")
    lam.publish_version(FunctionName="web")
    lam.create_alias(FunctionName="web", Name="live", FunctionVersion="1")
    created = lam.create_function_url_config(
        FunctionName="web", Qualifier="live", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    assert created["FunctionArn"] == ARN_PREFIX + "web:live"
    assert created["InvokeMode"] == "RESPONSE_STREAM"
    got = lam.get_function_url_config(FunctionName="web:live")
    assert (got["FunctionArn"], got["InvokeMode"]) == (ARN_PREFIX + "web:live", "RESPONSE_STREAM")
    listed = lam.list_function_url_configs(FunctionName="web", MaxItems=1)["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [ARN_PREFIX + "web:live"]
    lam.delete_alias(FunctionName="web", Name="live")
    assert lam.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"] == []


def test_an_alias_url_runs_the_alias_with_its_own_configuration(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    # NOTE: a generous timeout: cold starts on a loaded machine stay out of the answers.
    create(lam, "web", zip_file=python_zip("v1"), Timeout=30)
    lam.publish_version(FunctionName="web")
    lam.update_function_code(FunctionName="web", ZipFile=python_zip("v2"))
    lam.publish_version(FunctionName="web")
    lam.create_alias(
        FunctionName="web",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    created = lam.create_function_url_config(
        FunctionName="web", Qualifier="live", AuthType="NONE", Cors=CORS
    )
    assert created["FunctionUrl"] == url_of(emu, "web--live")
    # $LATEST has no URL of its own.
    assert call(emu, "web").status == 403
    answers = [call(emu, "web--live") for _ in range(40)]
    assert {a.status for a in answers} == {200}
    # Weighted routing, as Invoke of `web:live`: both versions ran (each 1 in 2).
    assert {(a.json()["version"], a.json()["tag"]) for a in answers} == {("1", "v1"), ("2", "v2")}
    context = answers[0].json()["event"]["requestContext"]
    assert (context["apiId"], context["domainPrefix"]) == ("web--live", "web--live")
    assert context["domainName"] == "web--live.lambda-url.us-east-1.localhost"
    by_host = emu.request(
        "GET", "/x", headers={"Host": f"web--live.lambda-url.us-east-1.localhost:{emu.port}"}
    )
    assert (by_host.status, by_host.json()["event"]["rawPath"]) == (200, "/x")
    # The alias's CORS: a preflight answered by the URL.
    preflight = call(emu, "web--live", "OPTIONS", **PREFLIGHT)
    assert preflight.header("Access-Control-Allow-Origin") == "https://app.example"
    lam.update_function_url_config(FunctionName="web", Qualifier="live", AuthType="AWS_IAM")
    forbidden = call(emu, "web--live")
    assert (forbidden.status, forbidden.body) == (403, b'{"Message":"Forbidden"}')
    lam.delete_function_url_config(FunctionName="web", Qualifier="live")
    gone = call(emu, "web--live")
    assert (gone.status, gone.body) == (403, b'{"Message":null}')
    lam.create_function_url_config(FunctionName="web", Qualifier="live", AuthType="NONE")
    assert call(emu, "web--live").status == 200
    lam.delete_alias(FunctionName="web", Name="live")
    gone = call(emu, "web--live")
    assert (gone.status, gone.body) == (403, b'{"Message":null}')
    assert gone.header("x-amzn-ErrorType") == "AccessDeniedException"


def test_a_response_stream_url_of_the_api_streams(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    source = "def handler(event, context):\n    yield {'statusCode': 202}\n    yield 'streamed'\n"
    create(lam, "web", zip_file=zip_bytes({"app.py": source}), Timeout=30)
    lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    # BUFFERED: the collected stream, prelude included, is the body of a 200.
    buffered = call(emu, "web")
    assert (buffered.status, buffered.body) == (200, b'{"statusCode":202}' + bytes(8) + b"streamed")
    lam.update_function_url_config(FunctionName="web", InvokeMode="RESPONSE_STREAM")
    streamed = call(emu, "web")
    assert (streamed.status, streamed.body) == (202, b"streamed")
    assert streamed.header("Transfer-Encoding") == "chunked"


def test_the_url_serves_after_create_and_stops_after_delete(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "web")
    before = call(emu, "web")
    assert (before.status, before.body) == (403, b'{"Message":null}')
    lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    served = call(emu, "web")
    assert served.status == 200, served.body
    assert served.json()["event"]["rawPath"] == "/hello"
    by_host = emu.request(
        "GET", "/x", headers={"Host": f"web.lambda-url.us-east-1.localhost:{emu.port}"}
    )
    assert by_host.json()["event"]["rawPath"] == "/x"
    lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM")
    assert call(emu, "web").status == 403
    lam.delete_function_url_config(FunctionName="web")
    gone = call(emu, "web")
    assert (gone.status, gone.body) == (403, b'{"Message":null}')
    assert gone.header("x-amzn-ErrorType") == "AccessDeniedException"


def test_the_configuration_survives_a_restart(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir))
    lam = client(first)
    create(lam, "web")
    lam.create_function_url_config(FunctionName="web", AuthType="NONE", Cors=CORS)
    before = lam.get_function_url_config(FunctionName="web")
    assert first.stop() == 0

    second = emulator_factory(state_args(state_dir))
    lam = client(second)
    after = lam.get_function_url_config(FunctionName="web")
    keys = ("AuthType", "Cors", "CreationTime", "LastModifiedTime", "InvokeMode")
    assert [after[k] for k in keys] == [before[k] for k in keys]
    assert call(second, "web").status == 200
    assert call(second, "web", "OPTIONS", **PREFLIGHT).header("Access-Control-Max-Age") == "600"


def test_cors_preflights_and_response_headers(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "web", zip_bytes({"app.py": CORS_HANDLER}))
    lam.create_function_url_config(FunctionName="web", AuthType="NONE", Cors=CORS)
    preflight = call(emu, "web", "OPTIONS", **PREFLIGHT)
    assert (preflight.status, preflight.body) == (200, b"")
    assert {
        k: preflight.header(k)
        for k in (
            "Access-Control-Allow-Origin",
            "Access-Control-Allow-Methods",
            "Access-Control-Allow-Headers",
            "Access-Control-Max-Age",
            "Access-Control-Allow-Credentials",
        )
    } == {
        "Access-Control-Allow-Origin": "https://app.example",
        "Access-Control-Allow-Methods": "GET,POST",
        "Access-Control-Allow-Headers": "content-type,x-custom",
        "Access-Control-Max-Age": "600",
        "Access-Control-Allow-Credentials": "true",
    }
    stranger = call(emu, "web", "OPTIONS", **{**PREFLIGHT, "Origin": "https://evil.example"})
    assert stranger.status == 200
    assert stranger.header("Access-Control-Allow-Origin") is None
    answer = call(emu, "web", Origin="https://app.example")
    assert (answer.status, answer.body, answer.header("X-Kept")) == (200, b"ok", "yes")
    assert answer.header("Access-Control-Allow-Origin") == "https://app.example"
    assert answer.header("Access-Control-Expose-Headers") == "x-request-id"
    assert answer.header("Access-Control-Allow-Credentials") == "true"
    lam.update_function_url_config(FunctionName="web", Cors={"AllowOrigins": ["*"]})
    star = call(emu, "web", Origin="https://any.example")
    assert star.header("Access-Control-Allow-Origin") == "*"
    assert star.header("Access-Control-Expose-Headers") is None


def test_a_config_file_url_with_cors_answers_preflights_and_the_api(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    config = tmp_path / "lambda-rie.toml"
    config.write_text(
        f"""
[functions.echo]
code_dir = "{FUNCTIONS / "function_url"}"
handler = "app.echo"
url = {{ auth_type = "NONE", cors = {{ allow_origins = ["https://app.example"], \
allow_methods = ["POST"], max_age = 30 }} }}
"""
    )
    emu = emulator_factory(["--config", str(config)])
    preflight = call(emu, "echo", "OPTIONS", **PREFLIGHT)
    assert preflight.status == 200
    assert preflight.header("Access-Control-Allow-Origin") == "https://app.example"
    assert preflight.header("Access-Control-Allow-Methods") == "POST"
    assert preflight.header("Access-Control-Max-Age") == "30"
    assert preflight.header("Access-Control-Allow-Credentials") is None
    answer = call(emu, "echo", "POST", Origin="https://app.example")
    assert answer.status == 200
    assert json.loads(answer.body)["requestContext"]["http"]["method"] == "POST"
    assert answer.header("Access-Control-Allow-Origin") == "https://app.example"
    lam = client(emu)
    got = lam.get_function_url_config(FunctionName="echo")
    assert (got["FunctionUrl"], got["AuthType"], got["Cors"]) == (
        url_of(emu, "echo"),
        "NONE",
        {"AllowMethods": ["POST"], "AllowOrigins": ["https://app.example"], "MaxAge": 30},
    )
    assert failure(lambda: lam.delete_function_url_config(FunctionName="echo"))[:2] == (
        409,
        "ResourceConflictException",
    )
