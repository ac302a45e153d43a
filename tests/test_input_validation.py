"""What AWS refuses at its front, refused the same way: malformed function identifiers,
invalid UTF-8 and over-deep JSON are 400s of the service, never a function error."""

from __future__ import annotations

import json

import pytest

from harness import Emulator

IDENTIFIER_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)


def validation_message(value: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
        f"constraint: {constraint}"
    )


@pytest.mark.parametrize(
    ("path_name", "value"),
    [
        ("..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"),
        ("bad%00name", "bad\x00name"),
        ("has%20space", "has space"),
        ("a:b:c", "a:b:c"),
    ],
)
def test_malformed_function_identifiers_are_validation_errors(
    echo_emulator: Emulator, path_name: str, value: str
) -> None:
    answer = echo_emulator.invoke({}, function=path_name)
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "ValidationException"
    assert answer.json() == {
        "Type": "User",
        "message": validation_message(
            value, f"Member must satisfy regular expression pattern: {IDENTIFIER_PATTERN}"
        ),
    }


def test_bare_names_over_64_characters_are_validation_errors(echo_emulator: Emulator) -> None:
    name = "f" * 65
    answer = echo_emulator.invoke({}, function=name)
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "ValidationException"
    assert answer.json()["message"] == validation_message(
        name, "Member must have length less than or equal to 64"
    )
    # 64 characters is a well-formed name that names no function: AWS's 404.
    assert echo_emulator.invoke({}, function="f" * 64).status == 404


@pytest.mark.parametrize(
    ("query", "value", "constraint"),
    [
        ("", "", "Member must have length greater than or equal to 1"),
        ("a%2Fb", "a/b", "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"),
        ("q" * 129, "q" * 129, "Member must have length less than or equal to 128"),
    ],
    ids=["empty", "slash", "too-long"],
)
def test_malformed_qualifiers_are_validation_errors(
    echo_emulator: Emulator, query: str, value: str, constraint: str
) -> None:
    path = f"/2015-03-31/functions/function/invocations?Qualifier={query}"
    answer = echo_emulator.request("POST", path, b"{}")
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "ValidationException"
    assert answer.json()["message"] == (
        f"1 validation error detected: Value '{value}' at 'qualifier' failed to satisfy "
        f"constraint: {constraint}"
    )


def test_a_qualifier_in_the_name_and_a_different_one_beside_it_are_refused(
    echo_emulator: Emulator,
) -> None:
    path = "/2015-03-31/functions/function:$LATEST/invocations?Qualifier=7"
    answer = echo_emulator.request("POST", path, b"{}")
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "InvalidParameterValueException"
    assert answer.json()["message"] == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )
    # The same qualifier twice is one qualifier.
    path = "/2015-03-31/functions/function:$LATEST/invocations?Qualifier=$LATEST"
    agreed = echo_emulator.request("POST", path, b'{"n": 1}')
    assert agreed.status == 200
    assert agreed.json() == {"n": 1}
    assert agreed.header("X-Amz-Executed-Version") == "$LATEST"


def test_the_describe_operations_validate_the_identifier_too(echo_emulator: Emulator) -> None:
    answer = echo_emulator.request("GET", "/2015-03-31/functions/..%2Fx/configuration")
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "ValidationException"


def test_invalid_utf8_inside_a_json_string_is_refused_at_the_front(
    echo_emulator: Emulator,
) -> None:
    answer = echo_emulator.invoke(b'{"name": "caf\xe9"}')
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "InvalidRequestContentException"
    assert answer.json()["message"].startswith(
        "Could not parse request body into json: Invalid UTF-8"
    )
    # The environment never saw it and serves the next invocation as usual.
    assert echo_emulator.invoke({"ok": True}).json() == {"ok": True}


def test_json_nested_deeper_than_aws_accepts_is_refused_at_the_front(
    echo_emulator: Emulator,
) -> None:
    too_deep = b"[" * 1001 + b"]" * 1001
    answer = echo_emulator.invoke(too_deep)
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "InvalidRequestContentException"
    assert answer.json()["message"] == (
        "Could not parse request body into json: Document nesting depth (1001) exceeds "
        "the maximum allowed (1000)"
    )
    # Deep but within the limit reaches the function.
    deep = {"a": [[[[{"b": 1}]]]]}
    assert echo_emulator.invoke(json.dumps(deep).encode()).json() == deep
