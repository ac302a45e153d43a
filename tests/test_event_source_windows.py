"""Tumbling windows of a Kinesis mapping against a real moto server: records grouped by the
window of their arrival, the function's state handed from one invocation of a window to the
next, a final invocation that closes each window, and an answer without state that fails.

NOTE: one face (the native binary), as in test_event_source_streams.py.
"""

from __future__ import annotations

import calendar
import time
from pathlib import Path
from typing import Any

from aws_support import FUNCTIONS, MotoServer, read_batches, records_log, wait_for
from harness import Emulator, EmulatorFactory, lambda_client
from test_event_source_streams import new_stream, put
from test_scheduler import metrics

WIDTH_S = 2


def serve(
    factory: EmulatorFactory, moto: MotoServer, log: Path, *flags: str, state: bool = True
) -> tuple[Emulator, Any]:
    env = {"RECORDS_LOG": str(log)} | ({} if state else {"NO_STATE": "1"})
    emu = factory([*flags, "--code-dir", str(FUNCTIONS), "app.tumbling"], env=moto.env(env))
    return emu, lambda_client(emu.url)


def discarded(emu: Emulator, uuid: str) -> float:
    """Records the mapping gave up, from the metrics."""
    return sum(
        value
        for (name, labels), value in metrics(emu).samples.items()
        if name == "lambda_rie_event_source_discarded_total" and ("uuid", uuid) in labels
    )


def parse_time(text: str) -> float:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def finals(log: Path) -> list[dict[str, Any]]:
    return [c for c in read_batches(log) if c["isFinalInvokeForWindow"]]


def all_closed(log: Path, records: int) -> bool:
    """`records` delivered and the last invocation a final one (every window closed)."""
    calls = read_batches(log)
    delivered = sum(len(c["records"]) for c in calls)
    return delivered >= records and bool(calls) and calls[-1]["isFinalInvokeForWindow"] is True


def test_records_are_grouped_by_window_with_state_and_a_final_invocation(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, log)
    arn = new_stream(moto, "windows", 1)
    created = lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        TumblingWindowInSeconds=WIDTH_S,
    )
    assert created["TumblingWindowInSeconds"] == WIDTH_S
    put(moto, "windows", [("k", {"n": n}) for n in range(6)])
    wait_for(lambda: len(finals(log)) >= 1, 30, "the first window's final invocation")
    put(moto, "windows", [("k", {"n": n}) for n in range(6, 9)])
    wait_for(lambda: all_closed(log, 9), 30, "every record delivered and every window closed")

    calls = read_batches(log)
    windows: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        assert call["shardId"] == "shardId-000000000000"
        assert call["eventSourceARN"] == arn
        assert call["isWindowTerminatedEarly"] is False
        start, end = parse_time(call["window"]["start"]), parse_time(call["window"]["end"])
        assert end - start == WIDTH_S, call["window"]
        assert start % WIDTH_S == 0, call["window"]
        for r in call["records"]:
            assert start <= r["kinesis"]["approximateArrivalTimestamp"] < end, "its window"
        windows.setdefault(call["window"]["start"], []).append(call)
    delivered = sum(len(c["records"]) for c in calls)
    assert delivered == 9, "each record once"
    for window_start, in_window in windows.items():
        *batches, last = in_window
        assert [c["isFinalInvokeForWindow"] for c in in_window] == [False] * len(batches) + [True]
        assert last["records"] == [], "the final invocation carries no records"
        assert batches, f"the window {window_start} had records"
        assert batches[0]["state"] == {}, "a window starts with a fresh state"
        seen = 0
        for call in batches:
            assert call["state"] == ({"count": seen} if seen else {}), "the state handed on"
            seen += len(call["records"])
        assert last["state"] == {"count": seen}, "the final invocation has the window's state"
    assert lam.get_event_source_mapping(UUID=created["UUID"])["LastProcessingResult"] == "OK"


def test_an_answer_without_state_fails_the_batch(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    emu, lam = serve(factory, moto, log, state=False)
    arn = new_stream(moto, "stateless", 1)
    uuid = lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        TumblingWindowInSeconds=WIDTH_S,
        MaximumRetryAttempts=1,
    )["UUID"]
    put(moto, "stateless", [("k", {"n": n}) for n in range(3)])
    wait_for(lambda: discarded(emu, uuid) == 3, 30, "the three records given up")

    def with_records() -> list[dict[str, Any]]:
        return [c for c in read_batches(log) if c["records"]]

    def closed() -> bool:
        windows = {c["window"]["start"] for c in with_records()}
        return windows <= {c["window"]["start"] for c in finals(log)}

    wait_for(closed, 30, "each window's final invocation")
    # NOTE: the poller may read the records in more than one batch; each is tried, retried
    # once, then given up, before the next one is read.
    calls = with_records()
    assert len(calls) % 2 == 0, calls
    for first, retry in zip(calls[::2], calls[1::2]):
        assert first["records"] == retry["records"], "tried, then retried once, then given up"
        assert [first["state"], retry["state"]] == [{}, {}]
    assert sum(len(first["records"]) for first in calls[::2]) == 3
    assert all(c["state"] == {} for c in finals(log))


def test_the_open_window_and_its_state_survive_a_restart_with_the_state_dir(
    factory: EmulatorFactory, moto: MotoServer, state_dir: Path
) -> None:
    width_s = 10
    log = records_log()
    first, lam = serve(factory, moto, log, "--state-dir", str(state_dir))
    arn = new_stream(moto, "kept-window", 1)
    lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        TumblingWindowInSeconds=width_s,
    )
    # Start right after a window opens, so that both puts and the restart fit in it.
    wait_for(lambda: time.time() % width_s < 1, width_s + 1, "a window's start")
    put(moto, "kept-window", [("k", {"n": 0}), ("k", {"n": 1})])
    wait_for(lambda: len(read_batches(log)) >= 1, 10, "the first invocation")
    time.sleep(0.5)  # the window is kept once the function has answered
    assert first.stop() == 0

    serve(factory, moto, log, "--state-dir", str(state_dir))
    put(moto, "kept-window", [("k", {"n": 2})])
    wait_for(lambda: all_closed(log, 3), 3 * width_s, "the window closed after the restart")
    calls = read_batches(log)
    assert len({c["window"]["start"] for c in calls}) == 1, "one window across the restart"
    *batches, last = calls
    seen = 0
    for call in batches:
        assert call["state"] == ({"count": seen} if seen else {}), "the state kept and handed on"
        seen += len(call["records"])
    assert seen == 3, "each record once"
    assert last["state"] == {"count": 3}
