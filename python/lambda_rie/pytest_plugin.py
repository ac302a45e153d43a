"""pytest fixtures that run Lambda functions under lambda-rie (registered as a `pytest11` plugin).

- `lambda_emulator`: a fresh `Emulator` per test, serving the functions of the test's
  `@pytest.mark.lambda_function(name, handler=..., ...)` markers (the arguments of `Function`).
- `lambda_emulator_session`: one `Emulator` for the whole session, serving the functions of
  `--lambda-rie-config PATH`, else of `lambda-rie.toml` or `template.yaml` in the rootdir.
- `lambda_client`: a boto3 Lambda client bound to the test's emulator (the marked one when the
  test has markers, else the session one), with dummy credentials and no retries.

When a test fails, its report gets a "lambda-rie log tails" section with the log of every
invocation the test made (through `invoke`, `ainvoke` or `lambda_client`).
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pytest

if TYPE_CHECKING:
    from lambda_rie.api import Emulator, Function, InvokeResult

#: The marker that configures `lambda_emulator`.
MARKER = "lambda_function"
#: Config files the session fixture looks for in the rootdir, in this order.
SESSION_CONFIGS = ("lambda-rie.toml", "template.yaml", "template.yml")
#: Invocations shown in a failure report (the last ones).
SHOWN_INVOCATIONS = 20
#: Added to the longest function timeout for boto3's read timeout.
READ_TIMEOUT_MARGIN_S = 30

# (function, request id, log tail) of one invocation.
_Invocation = tuple[str, str, str]
_INVOCATIONS = pytest.StashKey[list[_Invocation]]()


class _Recorder:
    """Collects the invocations made while a test runs, into that test's stash."""

    def __init__(self) -> None:
        self._current: Optional[list[_Invocation]] = None

    def begin(self, item: pytest.Item) -> None:
        self._current = item.stash.setdefault(_INVOCATIONS, [])

    def end(self) -> None:
        self._current = None

    def record(self, function: str, request_id: str, log_tail: str) -> None:
        if self._current is not None:
            self._current.append((function, request_id, log_tail))

    def observe(self, function: str, result: InvokeResult) -> None:
        self.record(function, result.request_id, result.log_tail)


_RECORDER = pytest.StashKey[_Recorder]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--lambda-rie-config PATH`."""
    group = parser.getgroup("lambda-rie")
    group.addoption(
        "--lambda-rie-config",
        metavar="PATH",
        default=None,
        help="lambda-rie.toml or SAM template served by lambda_emulator_session "
        f"(default: the first of {', '.join(SESSION_CONFIGS)} in the rootdir)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the `lambda_function` marker; set up the recorder of invocations."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name, *, handler=None, command=None, code_dir='.', ...): a function served "
        "by the lambda_emulator fixture (the arguments of lambda_rie.Function)",
    )
    config.stash[_RECORDER] = _Recorder()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: Optional[pytest.Item]
) -> Generator[None, object, object]:
    """Attribute the invocations made while `item` runs (setup to teardown) to `item`."""
    recorder = item.config.stash[_RECORDER]
    recorder.begin(item)
    try:
        return (yield)
    finally:
        recorder.end()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the log tails of the test's invocations to the report of a failed phase."""
    report = yield
    invocations = item.stash.get(_INVOCATIONS, [])
    if report.failed and invocations:
        report.sections.append(("lambda-rie log tails", _format(invocations)))
    return report


def _format(invocations: list[_Invocation]) -> str:
    shown = invocations[-SHOWN_INVOCATIONS:]
    parts = []
    if len(shown) < len(invocations):
        parts.append(f"(the last {len(shown)} of {len(invocations)} invocations)")
    for function, request_id, log_tail in shown:
        parts.append(f"{function} ({request_id}):\n{log_tail.rstrip()}")
    return "\n\n".join(parts)


def _marked_functions(item: pytest.Item) -> list[Function]:
    """One `Function` per marker name; the marker closest to the test wins."""
    from lambda_rie.api import Function

    functions: dict[str, Function] = {}
    for mark in item.iter_markers(MARKER):
        function = Function(*mark.args, **mark.kwargs)
        functions.setdefault(function.name, function)
    return list(functions.values())


def _session_config(config: pytest.Config) -> Path:
    option: Optional[str] = config.getoption("lambda_rie_config")
    if option is not None:
        path = Path(option)
        return path if path.is_absolute() else config.invocation_params.dir / path
    for name in SESSION_CONFIGS:
        if (config.rootpath / name).is_file():
            return config.rootpath / name
    pytest.fail(
        f"lambda_emulator_session: no {' or '.join(SESSION_CONFIGS)} in {config.rootpath}; "
        "give one with --lambda-rie-config PATH",
        pytrace=False,
    )


@pytest.fixture
def lambda_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An `Emulator` serving the functions of this test's `lambda_function` markers."""
    from lambda_rie.api import Emulator

    functions = _marked_functions(request.node)
    if not functions:
        pytest.fail(
            f"lambda_emulator needs @pytest.mark.{MARKER}(name, handler=...) on the test",
            pytrace=False,
        )
    with Emulator(functions) as emulator:
        emulator._observe(request.config.stash[_RECORDER].observe)
        yield emulator


@pytest.fixture(scope="session")
def lambda_emulator_session(pytestconfig: pytest.Config) -> Iterator[Emulator]:
    """One `Emulator` for the session, serving the functions of the session's config file."""
    from lambda_rie.api import Emulator

    with Emulator(config=_session_config(pytestconfig)) as emulator:
        emulator._observe(pytestconfig.stash[_RECORDER].observe)
        yield emulator


@pytest.fixture
def lambda_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A boto3 Lambda client of the test's emulator: dummy credentials, one attempt per call."""
    boto3 = pytest.importorskip("boto3", reason="lambda_client needs boto3")
    config_class = pytest.importorskip("botocore.config").Config

    marked = any(True for _ in request.node.iter_markers(MARKER))
    emulator: Emulator = request.getfixturevalue(
        "lambda_emulator" if marked else "lambda_emulator_session"
    )
    longest = max((f.timeout for f in emulator.functions), default=0)
    client = boto3.client(
        "lambda",
        endpoint_url=emulator.endpoint_url,
        region_name=emulator.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=config_class(
            retries={"total_max_attempts": 1},
            read_timeout=longest + READ_TIMEOUT_MARGIN_S,
        ),
    )
    bodies = _record_log_tails(client, request.config.stash[_RECORDER])
    try:
        yield client
    finally:
        # NOTE: an unread `Payload` keeps its connection checked out of the pool, where
        # `client.close()` does not reach it (a ResourceWarning later).
        for body in bodies:
            body.close()
        client.close()


def _record_log_tails(client: Any, recorder: _Recorder) -> list[Any]:
    """Ask for each synchronous invocation's log tail, record it, and hide it again from
    callers that did not ask for it; returns the list the response bodies are collected in."""
    bodies: list[Any] = []

    def ask(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["lambda_rie_function"] = str(params.get("FunctionName", ""))
        sync = params.get("InvocationType", "RequestResponse") == "RequestResponse"
        if sync and "LogType" not in params:
            params["LogType"] = "Tail"
            context["lambda_rie_hide_tail"] = True

    def record(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if parsed.get("Payload") is not None:
            bodies.append(parsed["Payload"])
        tail = parsed.get("LogResult")
        if tail:
            request_id = parsed.get("ResponseMetadata", {}).get("RequestId", "")
            text = base64.b64decode(tail).decode("utf-8", "replace")
            recorder.record(context.get("lambda_rie_function", ""), request_id, text)
        if context.get("lambda_rie_hide_tail"):
            parsed.pop("LogResult", None)

    client.meta.events.register("before-parameter-build.lambda.Invoke", ask)
    client.meta.events.register("after-call.lambda.Invoke", record)
    return bodies
