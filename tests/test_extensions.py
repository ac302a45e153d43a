"""The Extensions API (docs/reference.md §3, as AWS documents it): external extensions started from
an extensions directory, INVOKE and SHUTDOWN events, the post-invoke wait, init failures caused by
extensions, internal extensions, and AWS's answers to misuse.

The extension `agents/journal-agent` reports every step on its stdout as `EXT <json>` lines (an
extension's output lands in the function's log, as on AWS); the tests read them off the
emulator's stdout. Ordering is proven with timestamps the processes report, never with timings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness import (
    FUNCTIONS,
    UUID,
    Emulator,
    EmulatorFactory,
    clean_env,
    free_port,
    request,
)

EXTENSIONS = FUNCTIONS / "extensions"
CODE = EXTENSIONS / "code"
AGENTS = EXTENSIONS / "agents"
EXT_API = "/2020-01-01/extension"
# NOTE: a bound, not an expectation: a reap or a SHUTDOWN takes well under a second.
EVENT_DEADLINE_S = 10.0


def start(
    factory: EmulatorFactory,
    *args: str,
    extensions: Path = AGENTS,
    handler: str = "app.handler",
    **env: str,
) -> Emulator:
    return factory(
        ["--extensions-dir", str(extensions), *args, handler],
        cwd=CODE,
        env=clean_env(env),
    )


def ext_lines(emulator: Emulator, kind: str | None = None) -> list[dict[str, Any]]:
    """The agent's `EXT` records so far, optionally of one kind."""
    records = [json.loads(line[4:]) for line in emulator.stdout.lines() if line.startswith("EXT {")]
    return [r for r in records if kind is None or r["kind"] == kind]


def events(emulator: Emulator) -> list[dict[str, Any]]:
    return [r["event"] for r in ext_lines(emulator, "event")]


def test_external_extension_gets_one_invoke_per_invocation(
    emulator_factory: EmulatorFactory,
) -> None:
    # NOTE: one environment: right after an answer it is busy until the agent is back in
    # event/next (AWS's post-invoke phase), so an immediate next invoke would start another.
    emulator = start(emulator_factory, "--reserved-concurrency", "1", "--on-throttle", "queue")
    answers = [emulator.invoke({}) for _ in range(3)]
    request_ids = [a.header("x-amzn-RequestId") for a in answers]
    for answer in answers:
        assert answer.status == 200, answer.body
    emulator.stdout.wait_for(rf'"requestId": "{request_ids[-1]}"')
    registered = ext_lines(emulator, "registered")
    assert len(registered) == 1
    assert registered[0]["status"] == 200
    assert re.fullmatch(UUID, registered[0]["id"])
    assert registered[0]["body"] == {
        "functionName": "test_function",
        "functionVersion": "$LATEST",
        "handler": "app.handler",
    }
    invokes = [e for e in events(emulator) if e["eventType"] == "INVOKE"]
    assert [e["requestId"] for e in invokes] == request_ids
    for event in invokes:
        assert event["invokedFunctionArn"].endswith(":function:test_function")
        assert event["tracing"]["type"] == "X-Amzn-Trace-Id"
        assert event["deadlineMs"] > 0
    assert all(r["event_id"] for r in ext_lines(emulator, "event"))


def test_next_invocation_waits_until_the_extension_comes_back(
    emulator_factory: EmulatorFactory,
) -> None:
    # One environment, invocations queue for it; the agent spends 0.5 s on each INVOKE.
    emulator = start(
        emulator_factory, "--reserved-concurrency", "1", "--on-throttle", "queue", EXT_DELAY="0.5"
    )
    first = emulator.invoke({}).json()
    second = emulator.invoke({}).json()
    emulator.stdout.wait_for(rf'"requestId": "{second["request_id"]}"')
    nexts = [r["t"] for r in ext_lines(emulator, "next")]
    # The agent's second event/next (after the first INVOKE) came before the second handler ran,
    # and after the first handler ended: the environment waited for the extension.
    assert len(nexts) >= 2
    assert first["end"] < nexts[1] <= second["start"]


def test_shutdown_spindown_when_reaped(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory, "--idle-timeout", "1")
    assert emulator.invoke({}).status == 200
    emulator.stdout.wait_for(r'"kind": "bye"', EVENT_DEADLINE_S)
    shutdown = [e for e in events(emulator) if e["eventType"] == "SHUTDOWN"]
    assert len(shutdown) == 1
    assert shutdown[0]["shutdownReason"] == "spindown"
    assert shutdown[0]["deadlineMs"] > 0


def test_shutdown_spindown_when_the_emulator_stops(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory)
    assert emulator.invoke({}).status == 200
    assert emulator.stop() == 0
    shutdown = [e for e in events(emulator) if e["eventType"] == "SHUTDOWN"]
    assert [e["shutdownReason"] for e in shutdown] == ["spindown"]
    assert ext_lines(emulator, "bye")


def test_shutdown_timeout_when_the_function_times_out(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory, "--timeout", "1")
    answer = emulator.invoke({"sleep": 3})
    assert answer.json()["errorType"] == "Sandbox.Timedout"
    emulator.stdout.wait_for(r'"shutdownReason": "timeout"', EVENT_DEADLINE_S)
    # The environment was reset: the next invocation starts extensions and runtime anew.
    assert emulator.invoke({}).status == 200
    assert len(ext_lines(emulator, "registered")) == 2


def test_extension_crash_fails_init(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory, extensions=EXTENSIONS / "crashing")
    answer = emulator.invoke({})
    assert answer.status == 200
    assert answer.header("X-Amz-Function-Error") == "Unhandled"
    body = answer.json()
    rid = answer.header("x-amzn-RequestId")
    assert body == {
        "errorType": "Extension.Crash",
        "errorMessage": f"RequestId: {rid} Error: extension broken-agent exited: exit status 3",
    }
    emulator.stdout.wait_for(r"Status: error\tError Type: Extension.Crash")
    assert "broken-agent: giving up" in emulator.stdout.lines()


def test_an_extension_that_never_asks_for_events_times_init_out_without_its_shutdown_wait(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = start(emulator_factory, "--timeout", "1", EXT_MODE="stall")
    answer = emulator.invoke({})
    body = answer.json()
    assert body["errorType"] == "Sandbox.Timedout"
    # The suppressed init's timeout is the function's: its shutdown grace is not part of it.
    assert re.search(r"Task timed out after 1\.0\d seconds$", body["errorMessage"]), body
    # Init's 10 s limit, then the suppressed init's 1 s, each reported without the 2 s the
    # stalled extension was given to exit.
    emulator.stdout.wait_for(r"^INIT_REPORT .*\tPhase: invoke")
    phases = {
        m.group(2): float(m.group(1))
        for line in emulator.stdout.lines()
        if (m := re.match(r"INIT_REPORT Init Duration: ([\d.]+) ms\tPhase: (\w+)", line))
    }
    assert 10_000 <= phases["init"] < 11_000, phases
    assert 1_000 <= phases["invoke"] < 1_900, phases


def test_extension_init_error_fails_init(emulator_factory: EmulatorFactory) -> None:
    emulator = start(emulator_factory, EXT_MODE="init_error")
    answer = emulator.invoke({})
    body = answer.json()
    assert body["errorType"] == "Extension.InitError"
    assert "journal-agent reported Extension.ConfigInvalid" in body["errorMessage"]
    assert [r["status"] for r in ext_lines(emulator, "init_error")][:1] == [202]


def test_misuse_answers_match_aws(emulator_factory: EmulatorFactory) -> None:
    port = free_port()
    emulator = start(emulator_factory, "--runtime-api-address", f"127.0.0.1:{port}")
    assert emulator.invoke({}).status == 200  # init is over

    def call(method: str, path: str, body: bytes = b"{}", **headers: str) -> tuple[int, Any]:
        answer = request("127.0.0.1", port, method, EXT_API + path, body=body, headers=headers)
        return answer.status, answer.json()

    agent_id = ext_lines(emulator, "registered")[0]["id"]
    unknown = "01234567-89ab-cdef-0123-456789abcdef"
    events_body = json.dumps({"events": ["INVOKE"]}).encode()
    assert call("POST", "/register", events_body) == (
        403,
        {"errorMessage": "Empty extension name", "errorType": "Extension.InvalidExtensionName"},
    )
    assert call("POST", "/register", events_body, **{"Lambda-Extension-Name": "late"}) == (
        403,
        {
            "errorMessage": "Extension registration closed already",
            "errorType": "Extension.RegistrationClosed",
        },
    )
    assert call("GET", "/event/next", b"") == (
        403,
        {
            "errorMessage": "Missing Lambda-Extension-Identifier header",
            "errorType": "Extension.MissingExtensionIdentifier",
        },
    )
    assert call("GET", "/event/next", b"", **{"Lambda-Extension-Identifier": "nope"}) == (
        403,
        {
            "errorMessage": "Invalid Lambda-Extension-Identifier",
            "errorType": "Extension.InvalidExtensionIdentifier",
        },
    )
    assert call("GET", "/event/next", b"", **{"Lambda-Extension-Identifier": unknown}) == (
        403,
        {
            "errorMessage": f"Unknown extension {unknown}",
            "errorType": "Extension.UnknownExtensionIdentifier",
        },
    )
    assert call("POST", "/init/error", **{"Lambda-Extension-Identifier": agent_id}) == (
        403,
        {
            "errorMessage": f"State transition from Ready to InitError failed for extension "
            f"{agent_id}. Error: State transition is not allowed",
            "errorType": "Extension.InvalidExtensionState",
        },
    )
    status, _ = call("PUT", "/register")
    assert status == 405
    # The misuse changed nothing: the function still runs and the agent still gets INVOKE.
    answer = emulator.invoke({})
    assert answer.status == 200
    emulator.stdout.wait_for(rf'"requestId": "{answer.header("x-amzn-RequestId")}"')


def test_internal_extensions_register_during_init(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        ["--reserved-concurrency", "1", "--on-throttle", "queue", "internal.handler"], cwd=CODE
    )
    first = emulator.invoke({})
    assert first.status == 200, first.body
    answers = {(a["name"], a["status"]): a["body"] for a in first.json()["answers"]}
    assert answers[("inner-0", 200)] == {
        "functionName": "test_function",
        "functionVersion": "$LATEST",
        "handler": "internal.handler",
    }
    assert answers[("inner-0", 403)] == {
        "errorMessage": "Extension with this name already registered",
        "errorType": "Extension.InvalidExtensionState",
    }
    assert answers[("inner-shutdown", 403)]["errorType"] == "Extension.InvalidEventType"
    assert answers[("inner-odd", 403)] == {
        "errorMessage": "RESTART: unknown event type",
        "errorType": "Extension.InvalidEventType",
    }
    assert answers[("inner-10", 403)] == {
        "errorMessage": "Extension limit (10) reached",
        "errorType": "Extension.TooManyExtensions",
    }
    # inner-0 subscribed to INVOKE: it saw the first invocation before the second one ran.
    second = emulator.invoke({}).json()
    assert ["inner-0", first.header("x-amzn-RequestId")] in second["seen"]


@pytest.mark.parametrize("flag", ["--layer", "--extensions-dir"])
def test_missing_paths_are_usage_errors(emulator_factory: EmulatorFactory, flag: str) -> None:
    emulator = emulator_factory([flag, str(EXTENSIONS / "nope"), "app.handler"], wait=False)
    assert emulator.process.wait(timeout=10) == 2
    emulator.stderr.wait_for(rf"^lambda-rie: {flag}: .*nope")
