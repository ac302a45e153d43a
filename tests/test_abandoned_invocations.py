"""A client that hangs up mid-invoke: as on AWS, the invocation still runs to its end and is
logged, and its environment serves the next invocations (it is never lost to the pool)."""

from __future__ import annotations

import json
import socket
import time

import pytest

from harness import Emulator, EmulatorFactory, awslambdaric


def hang_up_after(emulator: Emulator, event: dict[str, object], seconds: float) -> None:
    """Send one invoke request, wait `seconds`, close the connection without reading."""
    body = json.dumps(event).encode()
    head = (
        "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\n"
        f"Host: {emulator.host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as sock:
        sock.sendall(head + body)
        time.sleep(seconds)


@pytest.mark.parametrize("start", ["cold", "warm"])
def test_an_abandoned_invocation_runs_to_its_end_and_frees_its_environment(
    emulator_factory: EmulatorFactory, start: str
) -> None:
    emulator = emulator_factory(
        ["--max-environments", "1", "--timeout", "5", *awslambdaric("app.handler")]
    )
    if start == "warm":
        assert emulator.invoke({"warm": "up"}).status == 200
    hang_up_after(emulator, {"action": "sleep", "seconds": 1}, 0.2)
    # The abandoned invocation is billed and logged as any other.
    report = emulator.stdout.wait_for(r"^REPORT RequestId: (\S+)\tDuration: 1\d{3}\.\d\d ms")
    abandoned = report.group(1)
    lines = emulator.stdout.lines()
    assert f"START RequestId: {abandoned} Version: $LATEST" in lines
    assert f"END RequestId: {abandoned}" in lines
    # Its environment (the only one allowed) serves every later invocation.
    answers = [emulator.invoke({"n": n}, timeout=10) for n in range(20)]
    assert [a.status for a in answers] == [200] * 20
    assert [a.json() for a in answers] == [{"n": n} for n in range(20)]


def test_an_invocation_sent_whole_runs_even_if_its_client_closes_at_once(
    emulator_factory: EmulatorFactory,
) -> None:
    # NOTE: a large request and the end of the client's stream: the emulator reads the body's
    # last bytes and the end of the stream together, before the invocation starts. Received
    # whole, it runs, as on AWS. One at a time, so that none is throttled.
    emulator = emulator_factory(["--timeout", "5", *awslambdaric("app.handler")])

    def reports() -> int:
        return sum(line.startswith("REPORT RequestId: ") for line in emulator.stdout.lines())

    padding = "x" * 1_000_000
    for n in range(10):
        hang_up_after(emulator, {"n": n, "padding": padding}, 0)
        deadline = time.monotonic() + 30
        while reports() <= n:
            assert time.monotonic() < deadline, f"invocation {n} did not run"
            time.sleep(0.02)
    assert emulator.invoke({"n": 10}).json() == {"n": 10}
    # NOTE: the REPORT line follows the answer.
    deadline = time.monotonic() + 10
    while reports() < 11:
        assert time.monotonic() < deadline, f"{reports()} REPORT lines"
        time.sleep(0.02)
    time.sleep(0.2)
    assert reports() == 11
