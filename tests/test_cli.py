"""The command line (docs/reference.md §1): argument rule, bad input, HANDLER mode, passthrough."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness import (
    EXAMPLES,
    FUNCTIONS,
    PYTHON,
    EmulatorFactory,
    clean_env,
    free_port,
)

LOOPBACK = [
    "--runtime-interface-emulator-address",
    "127.0.0.1:0",
    "--runtime-api-address",
    "127.0.0.1:0",
]
RUN_DEADLINE_S = 20.0
BOOTSTRAPS = [Path("/var/task/bootstrap"), Path("/opt/bootstrap"), Path("/var/runtime/bootstrap")]


def run(
    face: list[str], args: list[str], cwd: Path = FUNCTIONS, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run lambda-rie to completion (bad input must not start serving)."""
    return subprocess.run(
        [*face, *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
        check=False,
    )


def test_help_prints_usage_and_exits_0(face: list[str]) -> None:
    done = run(face, ["--help"])
    assert done.returncode == 0, done.stderr
    assert "--runtime-interface-emulator-address" in done.stdout
    assert "--max-environments" in done.stdout


def test_python_dash_m_is_the_same_cli() -> None:
    done = subprocess.run(
        [PYTHON, "-m", "lambda_rie", "--help"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--runtime-interface-emulator-address" in done.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--no-such-flag", "app.handler"], "--no-such-flag"),
        (
            ["--runtime-interface-emulator-address", "not-an-address", "app.handler"],
            "--runtime-interface-emulator-address",
        ),
        (["--runtime-api-address", "localhost", "app.handler"], "--runtime-api-address"),
        (["--timeout", "1.5", "app.handler"], "--timeout"),
        (["--timeout", "ten", "app.handler"], "--timeout"),
        (["--timeout", "0", "app.handler"], "--timeout"),
        (["--timeout", "901", "app.handler"], "--timeout"),
        (["--memory", "64", "app.handler"], "--memory"),
        (["--memory", "10241", "app.handler"], "--memory"),
        (["--memory", "lots", "app.handler"], "--memory"),
    ],
    ids=[
        "unknown-flag",
        "bad-emulator-address",
        "bad-runtime-api-address",
        "fractional-timeout",
        "word-timeout",
        "timeout-below-range",
        "timeout-above-range",
        "memory-below-range",
        "memory-above-range",
        "word-memory",
    ],
)
def test_bad_input_exits_2_with_one_line(face: list[str], args: list[str], named: str) -> None:
    # Loopback addresses unless the address is what is under test.
    defaults = [] if args[0] == "--runtime-interface-emulator-address" else LOOPBACK[:2]
    if args[0] != "--runtime-api-address":
        defaults += LOOPBACK[2:]
    done = run(face, [*defaults, *args])
    assert done.returncode == 2, (done.stdout, done.stderr)
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, done.stderr
    assert named in message


NAME_RULE = "1 to 64 letters, digits, hyphens or underscores"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout"], "--timeout needs a value"),
        (["--timeout", "app.handler"], "--timeout needs a value"),
        (["--timeout", "--memory", "512", "app.handler"], "--timeout needs a value"),
        (["--timeout=", "app.handler"], "--timeout needs a value"),
        (["--timeout", "0", "app.handler"], "--timeout: 0 is out of range (1-900)"),
        (
            ["--function-name", "../../etc/passwd", "app.handler"],
            f'--function-name: "../../etc/passwd" is not a valid function name: {NAME_RULE}',
        ),
        (
            ["--max-environments", "8", "--provisioned-concurrency", "1000", "app.handler"],
            "--provisioned-concurrency: 1000 is more than --max-environments (8)",
        ),
        (
            ["--reserved-concurrency", "2", "--provisioned-concurrency", "3", "app.handler"],
            "--provisioned-concurrency: 3 is more than --reserved-concurrency (2)",
        ),
        (
            ["--code-dir", "/no/such/dir", "app.handler"],
            "--code-dir: /no/such/dir is not a directory",
        ),
    ],
    ids=[
        "timeout-last",
        "timeout-before-handler",
        "timeout-before-flag",
        "timeout-empty",
        "timeout-zero",
        "function-name-path",
        "provisioned-over-max-environments",
        "provisioned-over-reserved",
        "missing-code-dir",
    ],
)
def test_function_options_are_refused_before_serving(
    face: list[str], args: list[str], message: str
) -> None:
    done = run(face, [*LOOPBACK, *args])
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip() == f"lambda-rie: {message}"


def test_an_environment_variable_is_named_when_its_value_is_refused(face: list[str]) -> None:
    done = run(face, [*LOOPBACK, "app.handler"], env=clean_env({"AWS_LAMBDA_FUNCTION_NAME": "a/b"}))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip() == (
        f'lambda-rie: AWS_LAMBDA_FUNCTION_NAME: "a/b" is not a valid function name: {NAME_RULE}'
    )


def test_missing_bootstrap_exits_2(face: list[str], tmp_path: Path) -> None:
    if any(path.exists() for path in BOOTSTRAPS):
        pytest.skip("this machine has a bootstrap in a standard place")
    done = run(face, LOOPBACK, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, done.stderr
    assert "bootstrap" in message


def test_command_file_that_is_not_executable_exits_2(face: list[str], tmp_path: Path) -> None:
    script = tmp_path / "not_executable.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    done = run(face, [*LOOPBACK, str(script)], cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, done.stderr
    assert "not_executable.sh" in message


@pytest.mark.parametrize(
    "runtime", [[], ["--runtime", "awslambdaric"]], ids=["default", "awslambdaric"]
)
def test_handler_mode_serves_the_example(
    emulator_factory: EmulatorFactory, runtime: list[str]
) -> None:
    # What `make serve` runs, on loopback ephemeral ports.
    emulator = emulator_factory([*runtime, "--code-dir", str(EXAMPLES / "hello"), "app.handler"])
    answer = emulator.invoke({"name": "Lambda"})
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["message"] == "Hello, Lambda!"
    assert body["event"] == {"name": "Lambda"}
    assert body["request_id"] == answer.header("x-amzn-RequestId")


def test_passthrough_execs_the_command(face: list[str]) -> None:
    # With AWS_LAMBDA_RUNTIME_API set (as on AWS), lambda-rie becomes the runtime: same pid,
    # same environment, the runtime's exit code.
    program = (
        "import json, os, sys; "
        "print(json.dumps({'pid': os.getpid(), 'api': os.environ['AWS_LAMBDA_RUNTIME_API']})); "
        "sys.exit(7)"
    )
    process = subprocess.Popen(
        [*face, "--", PYTHON, "-c", program],
        cwd=FUNCTIONS,
        env=clean_env({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1"}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=RUN_DEADLINE_S)
    finally:
        process.kill()
    assert process.returncode == 7, stderr
    assert json.loads(stdout) == {"pid": process.pid, "api": "127.0.0.1:1"}
    assert "Invoke API listening" not in stderr


class FakeRuntimeApi(BaseHTTPRequestHandler):
    """Just enough of AWS's Runtime API for one invocation."""

    protocol_version = "HTTP/1.1"
    server: FakeLambda

    def log_message(self, *_args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.answer(404, b"{}")
            return
        if self.server.handed_out.is_set():
            # One invocation only: park the runtime until the test is over.
            self.server.finished.wait(RUN_DEADLINE_S)
            self.answer(500, b"{}")
            return
        self.server.handed_out.set()
        self.answer(
            200,
            json.dumps({"action": "context"}).encode(),
            {
                "Lambda-Runtime-Aws-Request-Id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
                "Lambda-Runtime-Deadline-Ms": "9999999999999",
                "Lambda-Runtime-Invoked-Function-Arn": (
                    "arn:aws:lambda:us-east-2:123456789012:function:real"
                ),
                "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793",
            },
        )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.posts.append((self.path, body))
        self.answer(202, b'{"status":"OK"}')
        self.server.answered.set()

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class FakeLambda(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), FakeRuntimeApi)
        self.handed_out = threading.Event()
        self.answered = threading.Event()
        self.finished = threading.Event()
        self.posts: list[tuple[str, bytes]] = []


@pytest.fixture
def fake_lambda() -> Iterator[FakeLambda]:
    server = FakeLambda()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.finished.set()
        server.shutdown()
        server.server_close()
        thread.join(RUN_DEADLINE_S)


def test_passthrough_runs_the_handler_against_real_lambda(
    face: list[str], fake_lambda: FakeLambda
) -> None:
    host, port = fake_lambda.server_address[:2]
    process = subprocess.Popen(
        [*face, "app.handler"],
        cwd=FUNCTIONS,
        env=clean_env({"AWS_LAMBDA_RUNTIME_API": f"{host}:{port}"}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answered = fake_lambda.answered.wait(RUN_DEADLINE_S)
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=RUN_DEADLINE_S)
    assert answered, stderr.decode(errors="replace")
    path, body = fake_lambda.posts[0]
    assert path == "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response"
    context = json.loads(body)
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-2:123456789012:function:real"
    # exec, not a child: the handler runs in the process that was started.
    assert context["pid"] == process.pid
