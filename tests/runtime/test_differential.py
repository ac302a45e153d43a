"""Differential test: the built-in runtime against awslambdaric 4.2.2, handler by handler.

Each case runs under both runtimes, first against a fake Runtime API (what each runtime posts,
byte for byte where docs/reference.md §8 asks for it) and then under lambda-rie (what a caller of
the Invoke API sees). Payloads compare as JSON values; errorType, errorMessage, stackTrace,
X-Amz-Function-Error and log lines compare exactly, once timestamps and request ids are masked.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest
from runtime_harness import AWSLAMBDARIC, OURS, FakeRuntimeApi, RuntimeProcess, mask

JSON_LOGS = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
CLIENT_CONTEXT = {
    "custom": {"tenant": "acme", "n": 1},
    "env": {"platform": "Android", "locale": "fr_FR"},
    "client": {"installation_id": "inst-1", "app_title": "Shop", "app_package_name": "com.shop"},
}


@dataclass
class Case:
    name: str
    handler: str
    event: Any = field(default_factory=dict)
    body: Optional[bytes] = None
    content_type: str = "application/json"
    client_context: Optional[dict[str, Any]] = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def payload(self) -> bytes:
        return self.body if self.body is not None else json.dumps(self.event).encode()


CASES = [
    Case(
        "echo-every-json-type",
        "echo.handler",
        {"s": "x", "i": -7, "f": 2.5, "t": True, "f2": False, "n": None, "l": [1, [2]], "o": {}},
    ),
    Case("echo-unicode", "echo.handler", {"text": "héllo ☃ 😀 \u2028 \u0000"}),
    Case("echo-null-event", "echo.handler", None),
    Case("returns-none", "returns_values.none"),
    Case("returns-bytes", "returns_values.raw_bytes"),
    Case("returns-decimal", "returns_values.decimals"),
    Case("returns-unicode", "returns_values.unicode"),
    Case("returns-scalars", "returns_values.scalars"),
    Case("returns-string", "returns_values.string"),
    Case("returns-named-tuple-and-keys", "returns_values.named_tuple"),
    Case("large-nested-payload", "nested.handler", {"depth": 60, "width": 3000}),
    Case("deeply-nested-payload", "nested.handler", {"depth": 700, "width": 1}),
    Case("lists-past-the-recursion-limit", "nested.handler", {"depth": 3000, "lists": True}),
    Case("custom-exception-class", "errors_corpus.custom", {"qty": 0}),
    Case("empty-message", "errors_corpus.empty_message"),
    Case("unicode-error-message", "errors_corpus.unicode_message"),
    Case("key-error", "errors_corpus.key_error"),
    Case("nested-package-handler", "pkg/sub/mod.fn", {"a": 1}),
    Case("nested-package-error", "pkg/sub/mod.boom"),
    Case("import-error", "import_error.handler"),
    Case("syntax-error", "syntax_error.handler"),
    Case("missing-handler", "echo.missing"),
    Case("raises-at-import", "raises_at_import.handler"),
    Case("built-in-module-name", "sys.handler"),
    Case("malformed-handler-string", "nodots"),
    Case("non-serialisable-result", "returns_values.a_set"),
    Case(
        "json-sent-as-text-plain", "event_type.handler", body=b'{"a": 1}', content_type="text/plain"
    ),
    Case("client-context", "context_info.handler", client_context=CLIENT_CONTEXT),
    Case("context-and-remaining-time", "context_info.handler"),
    Case("sys-exit-in-handler", "errors_corpus.exits"),
    Case("logging-text", "logs_corpus.handler"),
    Case("logging-text-debug-level", "logs_corpus.handler", env={"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}),
    Case("logging-json", "logs_corpus.handler", env=JSON_LOGS),
    Case(
        "logging-json-default-level", "logs_corpus.handler", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    ),
    Case("handler-error-json-logs", "errors_corpus.custom", env=JSON_LOGS),
    Case("init-error-json-logs", "raises_at_import.handler", env=JSON_LOGS),
]

_PLATFORM_LINE = re.compile(r"^(START|END|REPORT|INIT_START|INIT_REPORT|RequestId:) ")


def log_lines(output: str) -> list[str]:
    # NOTE: split on "\n" only: an unhandled-error line joins its traceback with "\r".
    lines = output.replace("\r\n", "\n").split("\n")
    return [mask(line) for line in lines if line and not _PLATFORM_LINE.match(line)]


def masked(value: Any) -> Any:
    if isinstance(value, bytes):
        return value
    return json.loads(mask(json.dumps(value)))


def decoded(payload: bytes, content_type: Optional[str]) -> Any:
    if content_type == "application/json":
        return json.loads(payload)
    return payload


# ---------------------------------------------------------------------------------------------
# Against a fake Runtime API: what each runtime posts


def run_on_fake_api(command: list[str], case: Case) -> dict[str, Any]:
    api = FakeRuntimeApi()
    process = RuntimeProcess(command, case.handler, api, **case.env)
    headers = {}
    if case.client_context is not None:
        headers["Lambda_Runtime_Client_Context"] = json.dumps(case.client_context)
    try:
        api.push(case.payload, content_type=case.content_type, request_id="req-1", **headers)
        post = None
        while post is None and process.proc.poll() is None:
            try:
                post = api.posts.get(timeout=0.05)
            except Exception:
                continue
        if post is None and not api.posts.empty():
            post = api.posts.get()
        if post is not None and post.kind == "error" and "init" in post.path:
            process.proc.wait(timeout=10)
        output = process.finish()
    finally:
        api.close()
    result: dict[str, Any] = {"log": log_lines(output), "exit": None}
    if post is None:
        result["exit"] = process.proc.returncode
        return result
    result["kind"] = post.path.replace("req-1", "<id>")
    if post.kind == "response":
        result["content_type"] = post.headers.get("content-type")
        result["payload"] = decoded(post.body, result["content_type"])
    else:
        result["error"] = post.json()
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_same_posts_as_awslambdaric(case: Case) -> None:
    theirs = run_on_fake_api(AWSLAMBDARIC, case)
    ours = run_on_fake_api(OURS, case)
    assert ours == theirs


# ---------------------------------------------------------------------------------------------
# Under lambda-rie: what the caller sees


def run_on_emulator(start: Any, command: list[str], case: Case) -> dict[str, Any]:
    emulator = start(case.handler, command=command, **case.env)
    headers = {"Content-Type": case.content_type}
    if case.client_context is not None:
        encoded = base64.b64encode(json.dumps(case.client_context).encode()).decode()
        headers["X-Amz-Client-Context"] = encoded
    status, response_headers, payload = emulator.invoke(case.payload, headers)
    response_headers = {k.lower(): v for k, v in response_headers.items()}
    content_type = response_headers.get("content-type")
    emulator.close()
    return {
        "status": status,
        "function_error": response_headers.get("x-amz-function-error"),
        # Request ids differ from run to run; they appear in error payloads.
        "payload": masked(decoded(payload, content_type)),
        # NOTE: stdout and stderr reach lambda-rie through two pipes, so their relative order
        # is not deterministic; the lines are compared as a multiset.
        "log": sorted(log_lines(emulator.output())),
    }


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_same_invoke_results_under_lambda_rie(case: Case, emulator: Any) -> None:
    theirs = run_on_emulator(emulator, AWSLAMBDARIC, case)
    ours = run_on_emulator(emulator, OURS, case)
    assert ours == theirs


# ---------------------------------------------------------------------------------------------
# The allowed differences of docs/reference.md §8


def test_nan_result_is_a_marshal_error(fake_api: FakeRuntimeApi, start_runtime: Any) -> None:
    start_runtime("returns_values.nan")
    post = fake_api.invoke()
    assert post.kind == "error"
    error = post.json()
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"].startswith("Unable to marshal response: Out of range float")
    assert error["stackTrace"] == []


def test_bad_json_event_is_an_unmarshal_error(fake_api: FakeRuntimeApi, start_runtime: Any) -> None:
    start_runtime("echo.handler")
    post = fake_api.invoke(b'{"a": ', request_id="req-2")
    assert post.json() == {
        "errorMessage": "Unable to unmarshal input: Expecting value: line 1 column 7 (char 6)",
        "errorType": "Runtime.UnmarshalError",
        "requestId": "req-2",
        "stackTrace": [],
    }
