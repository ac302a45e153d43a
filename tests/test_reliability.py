"""What a hostile or stuck peer must not do to lambda-rie: spin it on accept errors when it is out
of file descriptors, make it buffer a newline-free log line without bound, stall it through a
stdout nobody reads, hold it (or its shutdown) with half-sent requests, or grow its memory with
queued `Event` invocations.

Every bound here is a liveness or resource bound (10x or more of what a run takes), not a speed
assert; CPU and peak memory are read from `/proc/PID/stat` and `/proc/PID/status` of the
emulator process (for `python -m lambda_rie`, the Python process that runs the core).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import lambda_rie
from harness import (
    FUNCTIONS,
    HTTP_TIMEOUT_S,
    INVOKE_PATH,
    ROOT,
    Emulator,
    EmulatorFactory,
    Response,
    clean_env,
    stress_size,
)
from test_scheduler import metrics

CODE = FUNCTIONS / "reliability"
HANDLER = "reliability.handler"
EVENT = {"X-Amz-Invocation-Type": "Event"}
DROPPED = "lambda_rie_log_lines_dropped_total"
# NOTE: CloudWatch's limit on one log event: AWS splits longer lines into pieces of this size.
LINE_LIMIT = 256 * 1024
MIB = 1024 * 1024
# NOTE: an Event payload just under AWS's 1 MB limit (the JSON wrapper takes a few bytes).
PAD = 1_000_000
# NOTE: bounds, not expectations. An idle emulator uses no CPU; 50 MB of log takes well under
# a second to pass through; the runtimes under test print or sleep for a few seconds at most.
CPU_SHARE_BOUND = 0.10
ANSWER_AFTER_RESPONSE_S = 2.0
LIVENESS_S = 10.0
SHUTDOWN_BOUND_S = 1.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` so far (fields 14 and 15 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The peak resident set size of `pid` (VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def scrape(emulator: Emulator, name: str) -> float:
    """One label-less sample of the metrics endpoint."""
    for line in metrics(emulator).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} sample")


def event_of(n: int, **fields: Any) -> bytes:
    """A ~1 MB Event payload numbered `n`."""
    return json.dumps({"n": n, **fields, "pad": "p" * PAD}).encode()


def offer(emulator: Emulator, payloads: Sequence[bytes], threads: int = 4) -> list[Response]:
    """Send every payload as an `Event` invoke from `threads` clients; answers in order."""
    answers: list[Any] = [None] * len(payloads)

    def client(first: int) -> None:
        for n in range(first, len(payloads), threads):
            try:
                answers[n] = emulator.invoke(payloads[n], EVENT)
            except OSError as exc:  # reported below
                answers[n] = exc

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(HTTP_TIMEOUT_S * 2)
    assert all(isinstance(a, Response) for a in answers), [
        a for a in answers if not isinstance(a, Response)
    ][:3]
    return answers


def wait_for(what: str, condition: Any, deadline_s: float = LIVENESS_S) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"{what}: not within {deadline_s} s"
        time.sleep(0.05)


def connect(emulator: Emulator) -> socket.socket:
    return socket.create_connection((emulator.host, emulator.port), timeout=LIVENESS_S)


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the emulator closed `sock` (EOF or reset); waits up to the socket's timeout."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# -- out of file descriptors ----------------------------------------------------------------


def test_out_of_file_descriptors_the_accept_loop_backs_off_and_recovers(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory([HANDLER], cwd=CODE, prefix=["prlimit", "--nofile=128", "--"])
    assert emulator.invoke({}).status == 200
    idle = [connect(emulator) for _ in range(200)]
    try:
        time.sleep(0.5)  # every descriptor is taken by now; the rest wait in the backlog
        before, started = cpu_seconds(emulator.pid), time.monotonic()
        time.sleep(2.0)
        share = (cpu_seconds(emulator.pid) - before) / (time.monotonic() - started)
        assert share < CPU_SHARE_BOUND, f"the emulator used {share:.0%} of a CPU while idle"
    finally:
        for sock in idle:
            sock.close()
    answer = emulator.invoke({}, timeout=LIVENESS_S)
    assert answer.status == 200, answer.body
    errors = [line for line in emulator.stderr_text().splitlines() if "Too many open files" in line]
    assert len(errors) == 1, errors


def open_files_limit(pid: int) -> tuple[int, int]:
    """The soft and hard limits of open files of process `pid`."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open files limit for {pid}")


def test_a_function_holding_runtime_api_connections_does_not_lock_clients_out(
    emulator_factory: EmulatorFactory,
) -> None:
    # A shell's usual limits, smaller: the emulator takes its hard limit, as Go programs do.
    emulator = emulator_factory([HANDLER], cwd=CODE, prefix=["prlimit", "--nofile=256:4096", "--"])
    assert open_files_limit(emulator.pid) == (4096, 4096)
    held = emulator.invoke({"action": "hold", "count": 1000}, timeout=LIVENESS_S)
    assert held.status == 200, held.body
    # The function keeps its thousand connections (its own limit is 1024); clients still get in.
    answer = emulator.invoke({}, timeout=LIVENESS_S)
    assert answer.status == 200, answer.body
    assert answer.json()["action"] == "echo"


# -- a log line without a newline ------------------------------------------------------------


def test_a_50_mb_line_without_newline_is_split_into_256_kb_lines_in_bounded_memory(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory([HANDLER], cwd=CODE)
    assert emulator.invoke({}).status == 200
    size = 50_000_000
    started = time.monotonic()
    answer = emulator.invoke({"action": "write", "bytes": size})
    answered, elapsed = time.time(), time.monotonic() - started
    assert answer.status == 200, answer.body
    lag = answered - answer.json()["done"]
    assert lag < ANSWER_AFTER_RESPONSE_S, f"answered {lag:.1f} s after the function returned"
    assert elapsed < LIVENESS_S, f"a 50 MB log line took {elapsed:.1f} s to pass"
    assert peak_rss_mb(emulator.pid) < 64, f"peak RSS {peak_rss_mb(emulator.pid):.0f} MB"
    request_id = answer.header("x-amzn-requestid")
    emulator.stdout.wait_for(f"^REPORT RequestId: {request_id}")
    pieces = [line for line in emulator.stdout.lines() if line.startswith("x")]
    assert max(len(p) for p in pieces) == LINE_LIMIT
    if scrape(emulator, DROPPED) == 0:
        assert sum(len(p) for p in pieces) == size
        assert len(pieces) == -(-size // LINE_LIMIT)


# -- a stdout nobody reads -------------------------------------------------------------------


@pytest.fixture
def unread_stdout() -> Iterator[list[str]]:
    """A prefix that points lambda-rie's stdout at a pipe this test never reads."""
    read_end, write_end = os.pipe()
    path = f"/proc/{os.getpid()}/fd/{write_end}"
    try:
        yield ["sh", "-c", f'exec "$@" > {path}', "sh"]
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_stdout_nobody_reads_drops_log_lines_but_never_stalls_invokes(
    emulator_factory: EmulatorFactory, unread_stdout: list[str]
) -> None:
    emulator = emulator_factory(["--timeout", "1", HANDLER], cwd=CODE, prefix=unread_stdout)
    for n in range(20):
        answer = emulator.invoke({"action": "lines", "bytes": 2 * MIB}, timeout=LIVENESS_S)
        assert answer.status == 200, (n, answer.body)
    started = time.monotonic()
    answer = emulator.invoke({"action": "sleep", "seconds": 30}, timeout=LIVENESS_S)
    elapsed = time.monotonic() - started
    assert answer.status == 200
    assert answer.header("x-amz-function-error") == "Unhandled"
    assert answer.json()["errorType"] == "Sandbox.Timedout"
    assert elapsed < 1 + LIVENESS_S / 2, f"a 1 s timeout answered after {elapsed:.1f} s"
    # 40 MB of lines went to a pipe that holds 64 KiB: most were dropped, and counted.
    assert scrape(emulator, DROPPED) > 20_000
    warnings = [line for line in emulator.stderr_text().splitlines() if DROPPED in line]
    assert len(warnings) == 1, warnings


def test_the_python_api_reads_the_dropped_lines_counter() -> None:
    with lambda_rie.Emulator([lambda_rie.Function("f", handler=HANDLER, code_dir=CODE)]) as emu:
        assert (
            json.loads(emu.invoke("f", {"action": "lines", "bytes": 4096}).payload)["action"]
            == "lines"
        )
        assert emu.metrics()[DROPPED] == 0


def test_function_logs_of_lambda_rie_invoke_still_go_to_stderr(face: list[str]) -> None:
    done = subprocess.run(
        [*face, "invoke", HANDLER, "--event", "-"],
        input=json.dumps({"action": "lines", "bytes": 64 * 1024}).encode(),
        cwd=CODE,
        env=clean_env(),
        capture_output=True,
        timeout=LIVENESS_S * 3,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["action"] == "lines"
    err = done.stderr.decode()
    assert err.count("y" * 1023 + "\n") == 64
    assert err.index("START RequestId:") < err.index("y" * 1023) < err.index("END RequestId:")


# -- half-sent requests ----------------------------------------------------------------------


def test_a_half_sent_request_does_not_hold_the_shutdown(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(["--shutdown-timeout", "10", HANDLER], cwd=CODE)
    assert emulator.invoke({}).status == 200
    slow = connect(emulator)
    try:
        slow.sendall(b"POST /2015-03-31/functions/func")
        time.sleep(0.3)
        started = time.monotonic()
        emulator.process.send_signal(signal.SIGTERM)
        code = emulator.process.wait(LIVENESS_S + 5)
        took = time.monotonic() - started
    finally:
        slow.close()
    assert code == 0, emulator.stderr_text()
    assert took < SHUTDOWN_BOUND_S, f"SIGTERM took {took:.1f} s with a half-sent request open"


HEADER_TIMEOUT_ENV = {"LAMBDA_RIE_HEADER_READ_TIMEOUT_MS": "500"}


def test_headers_sent_too_slowly_are_cut_after_the_header_read_timeout(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory([HANDLER], cwd=CODE, env=clean_env(HEADER_TIMEOUT_ENV))
    trickle = connect(emulator)
    stop = threading.Event()

    def send_slowly() -> None:
        try:
            trickle.sendall(f"POST {INVOKE_PATH} HTTP/1.1\r\n".encode())
            while not stop.wait(0.2):
                trickle.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass  # cut by the emulator

    sender = threading.Thread(target=send_slowly, daemon=True)
    started = time.monotonic()
    sender.start()
    try:
        assert closed_by_peer(trickle), "the emulator answered a request it never fully got"
        took = time.monotonic() - started
    except TimeoutError:
        took = float("inf")
    finally:
        stop.set()
        sender.join(LIVENESS_S)
        trickle.close()
    assert took < LIVENESS_S / 2, "headers trickling in were never cut"
    assert emulator.invoke({}).status == 200


def test_the_header_read_timeout_cuts_neither_idle_connections_nor_long_invocations(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory([HANDLER], cwd=CODE, env=clean_env(HEADER_TIMEOUT_ENV))
    client = http.client.HTTPConnection(emulator.host, emulator.port, timeout=LIVENESS_S)
    try:
        for event in ({}, {"action": "sleep", "seconds": 1.5}, {}):
            # The runtime's keep-alive connection is idle while the handler sleeps, and its
            # /next waits for longer than the header timeout between invocations.
            client.request("POST", INVOKE_PATH, body=json.dumps(event))
            answer = client.getresponse()
            body = answer.read()
            assert answer.status == 200, body
            assert answer.getheader("x-amz-function-error") is None, body
            time.sleep(1.0)  # the client's own keep-alive connection idles too
    finally:
        client.close()


@pytest.mark.parametrize(
    "path", [INVOKE_PATH, "/2015-03-31/functions"], ids=["invoke", "control-plane"]
)
def test_a_body_that_stops_arriving_is_answered_408_after_the_header_read_timeout(
    emulator_factory: EmulatorFactory, path: str
) -> None:
    emulator = emulator_factory([HANDLER], cwd=CODE, env=clean_env(HEADER_TIMEOUT_ENV))
    stalled = connect(emulator)
    started = time.monotonic()
    try:
        stalled.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".encode())
        stalled.sendall(b'{"half": ')
        answer = b""
        while chunk := stalled.recv(65536):
            answer += chunk
        took = time.monotonic() - started
    finally:
        stalled.close()
    head = answer.partition(b"\r\n\r\n")[0].decode().lower()
    assert head.startswith("http/1.1 408"), answer[:300]
    assert "x-amzn-errortype: requesttimeoutexception" in head
    assert took < LIVENESS_S / 2, f"a stalled body held its connection {took:.1f} s"
    assert "START RequestId" not in emulator.stdout_text(), "a half-received event was run"
    assert emulator.invoke({}).status == 200


def read_answer(sock: socket.socket) -> tuple[str, bytes]:
    """One HTTP answer from `sock`: its head (lower-cased) and its body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed after {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    text = head.decode().lower()
    length = next(
        int(line.split(":", 1)[1])
        for line in text.splitlines()
        if line.startswith("content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-answer"
        body += chunk
    return text, body


@pytest.mark.parametrize(
    ("function", "header", "status"),
    [("nope", "", 404), ("function", "X-Amz-Invocation-Type: Sometimes\r\n", 400)],
    ids=["unknown-function", "bad-header"],
)
def test_an_invoke_refused_before_its_body_arrives_keeps_its_connection(
    emulator_factory: EmulatorFactory, function: str, header: str, status: int
) -> None:
    emulator = emulator_factory([HANDLER], cwd=CODE)
    sock = connect(emulator)
    try:
        # The head first, the body a little later (as urllib3 sends them), twice on one socket.
        for _ in range(2):
            head = (
                f"POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: x\r\n"
                f"{header}Content-Length: 2\r\n\r\n"
            )
            sock.sendall(head.encode())
            time.sleep(0.05)
            sock.sendall(b"{}")
            answer, _ = read_answer(sock)
            assert answer.startswith(f"http/1.1 {status}"), answer
            assert "connection: close" not in answer
        sock.sendall(
            f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode()
        )
        answer, _ = read_answer(sock)
        assert answer.startswith("http/1.1 200"), answer
    finally:
        sock.close()


# -- the Event queue -------------------------------------------------------------------------


# NOTE: one environment, and a stop that does not wait for the events it holds.
HOLD_ONE_ENVIRONMENT = ["--reserved-concurrency", "1", "--shutdown-timeout", "0"]
THROTTLED = {
    "Reason": "ConcurrentInvocationLimitExceeded",
    "Type": "User",
    "message": "Rate Exceeded.",
}


def test_event_invokes_past_the_queue_bound_get_429(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(
        ["--async-queue-bytes", str(4 * MIB), *HOLD_ONE_ENVIRONMENT, HANDLER], cwd=CODE
    )
    payloads = [event_of(n, action="sleep", seconds=20) for n in range(8)]
    answers = offer(emulator, payloads, threads=1)
    assert [a.status for a in answers] == [202] * 4 + [429] * 4
    for refused in answers[4:]:
        assert refused.header("x-amzn-ErrorType") == "TooManyRequestsException"
        assert refused.json() == THROTTLED


@pytest.mark.stress
def test_offered_events_past_the_bound_leave_memory_bounded(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(
        ["--async-queue-bytes", str(8 * MIB), *HOLD_ONE_ENVIRONMENT, HANDLER], cwd=CODE
    )
    count = stress_size(small=150, full=400)
    answers = offer(emulator, [event_of(n, action="sleep", seconds=20) for n in range(count)])
    statuses = [a.status for a in answers]
    assert set(statuses) == {202, 429}
    assert statuses.count(202) <= 8
    assert peak_rss_mb(emulator.pid) < 64, f"peak RSS {peak_rss_mb(emulator.pid):.0f} MB"


@pytest.fixture
def counter() -> Iterator[Path]:
    """A file the function appends to, outside `/tmp` (environments have their own)."""
    path = ROOT / "target" / "test-scratch" / f"ran-{uuid.uuid4().hex}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.stress
def test_with_async_state_events_past_the_bound_spill_to_the_file_and_all_run(
    emulator_factory: EmulatorFactory, tmp_path: Path, counter: Path
) -> None:
    state = tmp_path / "queued.jsonl"
    emulator = emulator_factory(
        [
            "--async-queue-bytes",
            str(4 * MIB),
            "--async-state",
            str(state),
            "--reserved-concurrency",
            "1",
            HANDLER,
        ],
        cwd=CODE,
        env=clean_env({"RELIABILITY_COUNT_FILE": str(counter)}),
    )
    count = stress_size(small=60, full=400)
    # The first event holds the only environment while the others arrive and spill.
    payloads = [event_of(n, action="count", seconds=5 if n == 0 else 0) for n in range(count)]
    answers = offer(emulator, payloads, threads=1)
    assert [a.status for a in answers] == [202] * count
    assert state.stat().st_size > 0, "nothing spilled to the state file"
    ids = [a.header("x-amzn-requestid") for a in answers]

    def ran() -> list[str]:
        if not counter.exists():
            return []
        return [line for line in counter.read_text().splitlines() if line.endswith(tuple(ids))]

    wait_for(f"{count} events run", lambda: len(ran()) >= count, LIVENESS_S * 6)
    assert [line.split() for line in ran()] == [[str(n), i] for n, i in enumerate(ids)]
    assert peak_rss_mb(emulator.pid) < 64, f"peak RSS {peak_rss_mb(emulator.pid):.0f} MB"
