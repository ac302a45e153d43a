"""Soak: mixed load on four functions for a while, and the emulator's resources stay flat.

The functions are those of `tests/functions/robust/lambda-rie.toml` (the built-in runtime and
awslambdaric, one with reserved concurrency, idle environments reaped after 5 s so that they
come and go during the run). Workers send successes, handler errors, timeouts, crashes, 2 MB
responses, invocations they hang up on midway, and Event invocations. Every 2 s (10 s in the
full run) the emulator's RSS, open fds, threads, child processes and cgroup directories are
sampled; after a warm-up the samples must show no growth, and once the load stops and idle
environments are reaped, the emulator must be back where it started. Every answer has the shape
of what was asked, and the metrics count every invocation exactly once.

60 s by default, 10 minutes with `LAMBDA_RIE_STRESS=full` (`make soak`). The samples are
written to `target/soak/soak-<face>.json` (the path is printed).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import re
import socket
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import (
    FACES,
    FUNCTIONS,
    ROOT,
    UUID,
    Emulator,
    EmulatorFactory,
    proc_stats,
    stress_size,
)
from test_scheduler import OUTCOMES, STATES, Metrics, metrics, wait_until

ROBUST = FUNCTIONS / "robust"
NAMES = ("alpha", "beta", "gamma", "delta")
DURATION_S = stress_size(60, 600)
# NOTE: every 2 s in the default run, so that each third of it holds several samples: the
# counts that follow the environments swing from one instant to the next.
SAMPLE_EVERY_S = stress_size(2.0, 10.0)
#: No zombie may last this long (a runtime that exited and was never reaped).
ZOMBIE_BOUND_S = 10.0
# NOTE: the functions rest in turn, one for each phase, so that the idle environments of the
# resting one are reaped (idle_timeout = 5 s) while the others run, and come back cold after.
PHASE_S = 12.0
# A bound for the reap of the function resting at the end, after the load: the idle timeout
# (5 s) and the reaper's period, twice over.
LAST_REST_GRACE_S = 15.0
WATCH_EVERY_S = 1.0
# NOTE: the first samples see environments, allocator arenas and the blocking pool grow to
# their working size; flatness is judged on what comes after.
WARM_UP_S = stress_size(20, 60)
WORKERS = 6
SEED = 7
BIG_BYTES = 2 * 1024 * 1024
TIMEOUT_S = 2  # the functions' timeout, from the config file
# What the workers send, and how often.
KINDS = {
    "success": 40,
    "error": 12,
    "timeout": 3,
    "crash": 6,
    "big": 8,
    "hang_up": 6,
    "event": 14,
}
THROTTLE_REASONS = {
    b"ReservedFunctionConcurrentInvocationLimitExceeded",
    b"ConcurrentInvocationLimitExceeded",
}
TIMED_OUT = re.compile(
    rb'\{"errorType":"Sandbox\.Timedout","errorMessage":"RequestId: (' + UUID.encode() + rb") "
    rb'Error: Task timed out after \d+\.\d{2} seconds"\}'
)
EXITED = (
    '{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {id} '
    'Error: Runtime exited with error: exit status 1"}}'
)
# NOTE: liveness bounds, 10x and more what they take: an answer within the timeout plus a cold
# start, the Event queue drained and idle environments reaped within seconds of the load.
HTTP_TIMEOUT_S = 60.0
SETTLE_DEADLINE_S = 60.0
# The blocking pool's idle threads exit after 10 s.
THREADS_DEADLINE_S = 60.0


def event(kind: str, n: int) -> dict[str, Any]:
    return {
        "success": {"action": "report", "n": n},
        "error": {"action": "fail", "n": n},
        "timeout": {"action": "hang", "seconds": TIMEOUT_S + 1, "n": n},
        "crash": {"action": "crash", "n": n},
        "big": {"action": "big", "bytes": BIG_BYTES, "n": n},
        "hang_up": {"action": "slow", "seconds": 0.5, "n": n},
        "event": {"action": "report", "n": n},
    }[kind]


@dataclass
class Tally:
    """What the workers sent and got, per function and kind, and anything wrong."""

    sent: Counter[tuple[str, str]] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    request_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def checked_outcome(kind: str, n: int, status: int, headers: Any, body: bytes) -> str:
    """The metrics outcome of a synchronous answer, once its shape is checked against `kind`."""
    where = f"invocation {n} ({kind}): {status} {body[:200]!r}"
    if status == 429:
        parsed = json.loads(body)
        assert parsed["Reason"].encode() in THROTTLE_REASONS, where
        assert (parsed["Type"], parsed["message"]) == ("User", "Rate Exceeded."), where
        assert headers.get("x-amzn-ErrorType") == "TooManyRequestsException", where
        return "throttled"
    assert status == 200, where
    request_id = headers.get("x-amzn-RequestId") or ""
    assert re.fullmatch(UUID, request_id), where
    function_error = headers.get("X-Amz-Function-Error")
    if kind in ("success", "big"):
        assert function_error is None, where
        if kind == "big":
            assert len(body) == BIG_BYTES, where
            assert body.startswith(f'"{n}:x'.encode()), where
        else:
            assert json.loads(body) == {"n": n}, where
        return "success"
    assert function_error == "Unhandled", where
    if kind == "error":
        error = json.loads(body)
        assert (error["errorType"], error["errorMessage"]) == ("ValueError", f"failed {n}"), where
        return "error"
    if kind == "timeout":
        match = TIMED_OUT.fullmatch(body)
        assert match is not None, where
        assert match.group(1).decode() == request_id, where
        return "timeout"
    assert body == EXITED.format(id=request_id).encode(), where
    return "crash"


def path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def hang_up(emulator: Emulator, name: str, n: int) -> None:
    """Send an invocation and close the connection before its answer."""
    body = json.dumps(event("hang_up", n)).encode()
    request = (
        f"POST {path(name)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((emulator.host, emulator.port), HTTP_TIMEOUT_S) as sock:
        sock.sendall(request + body)
        time.sleep(0.05)


def resting(started: float, at: float) -> str:
    """The function that gets no load in the phase of `at`."""
    return NAMES[int((at - started) // PHASE_S) % len(NAMES)]


def worker(
    emulator: Emulator, seed: int, window: tuple[float, float], numbers: Any, tally: Tally
) -> None:
    """Send random invocations until the window ends, one at a time on a keep-alive connection."""
    rng = random.Random(seed)
    started, end = window
    conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=HTTP_TIMEOUT_S)
    try:
        while time.monotonic() < end:
            kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
            rest = resting(started, time.monotonic())
            name = rng.choice([name for name in NAMES if name != rest])
            n = next(numbers)
            with tally.lock:
                tally.sent[(name, kind)] += 1
            try:
                if kind == "hang_up":
                    hang_up(emulator, name, n)
                    continue
                headers = {"X-Amz-Invocation-Type": "Event"} if kind == "event" else {}
                conn.request("POST", path(name), json.dumps(event(kind, n)).encode(), headers)
                reply = conn.getresponse()
                body = reply.read()
                if kind == "event":
                    assert (reply.status, body) == (202, b""), (n, reply.status, body[:200])
                    outcome = "queued"
                else:
                    outcome = checked_outcome(kind, n, reply.status, reply.headers, body)
                with tally.lock:
                    tally.outcomes[(name, outcome)] += 1
                    tally.request_ids.append(reply.headers.get("x-amzn-RequestId") or "")
            except (AssertionError, OSError, http.client.HTTPException, ValueError) as exc:
                with tally.lock:
                    tally.problems.append(f"{name} {kind} {n}: {exc!r}")
                conn.close()
    finally:
        conn.close()


def cgroup_dirs(pid: int) -> int:
    """How many cgroup directories named `lambda-rie-<pid>-...` exist under the emulator's own
    cgroup of each controller hierarchy."""
    prefix = f"lambda-rie-{pid}-"
    found = set()
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, relative = line.split(":", 2)
        for controller in controllers.split(","):
            if not controller or controller.startswith("name="):
                continue
            parent = Path("/sys/fs/cgroup", controller, relative.lstrip("/"))
            if parent.is_dir():
                mine = [entry for entry in parent.iterdir() if entry.name.startswith(prefix)]
                found |= {str(entry.resolve()) for entry in mine}
    return len(found)


def sample(emulator: Emulator, started: float) -> dict[str, Any]:
    """One reading of the emulator's resources."""
    pid = emulator.pid
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    below = set(emulator.descendants())
    states = [fields[0] for p, _, fields in proc_stats() if p in below]
    scrape = metrics(emulator)
    return {
        "t_s": round(time.monotonic() - started, 1),
        "rss_kb": int(status["VmRSS"].split()[0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
        "children": len(below),
        "zombies": len(zombies := emulator_zombies(pid)),
        "zombie_pids": zombies,
        "stopped": states.count("T"),
        "cgroup_dirs": cgroup_dirs(pid),
        "environments": sum(environments_by_function(emulator).values()),
        "invocations": sum(
            scrape("lambda_rie_invocations_total", name, outcome=outcome)
            for name in NAMES
            for outcome in OUTCOMES
        ),
    }


def open_fds(pid: int) -> list[str]:
    """What each of the emulator's fds points at (socket:[inode], pipe:[inode], a path)."""
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return fds


def emulator_zombies(pid: int) -> list[int]:
    """The emulator's direct children that exited and that it has not reaped yet."""
    return [p for p, _, fields in proc_stats() if int(fields[1]) == pid and fields[0] == "Z"]


def environments_by_function(emulator: Emulator) -> dict[str, float]:
    scrape = metrics(emulator)
    return {
        name: sum(scrape("lambda_rie_environments", name, state=state) for state in STATES)
        for name in NAMES
    }


def sampler(
    emulator: Emulator, started: float, end: float, into: list[dict[str, Any]], reaps: list[Any]
) -> None:
    """A sample every SAMPLE_EVERY_S; in between, watch each function's environments and note
    when a resting function's last one is reaped."""
    next_sample = started + SAMPLE_EVERY_S
    had: dict[str, bool] = dict.fromkeys(NAMES, False)
    # NOTE: the function resting when the load stops rests on afterwards: its reap (after its
    # last queued Event invocations and the idle timeout) may come after `end`, up to a bound.
    last_rest = resting(started, end - 0.001)
    while True:
        time.sleep(WATCH_EVERY_S)
        now = time.monotonic()
        rest = resting(started, now) if now < end else last_rest
        for name, count in environments_by_function(emulator).items():
            if count == 0 and had[name] and name == rest:
                reaps.append({"t_s": round(now - started, 1), "function": name})
            had[name] = count > 0
        if now >= end + 0.5 and (not had[last_rest] or now >= end + LAST_REST_GRACE_S):
            return
        if now >= next_sample and now < end + 0.5:
            into.append(sample(emulator, started))
            next_sample += SAMPLE_EVERY_S


def thirds(samples: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """`key` in the first and the last third of the samples after the warm-up."""
    after = [s[key] for s in samples if s["t_s"] >= WARM_UP_S]
    k = max(1, len(after) // 3)
    return after[:k], after[-k:]


def per_environment(samples: list[dict[str, Any]], key: str, base: float) -> list[dict[str, Any]]:
    """The samples with `key` counted per environment above `base` (when any is up)."""
    return [{**s, key: (s[key] - base) / s["environments"]} for s in samples if s["environments"]]


def write_samples(face: str, document: dict[str, Any]) -> Path:
    out = ROOT / "target" / "soak" / f"soak-{face}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1))
    print(f"soak samples: {out}")
    return out


def check_accounting(scrape: Metrics, tally: Tally) -> None:
    """Every invocation is counted exactly once, under the outcome its answer had."""
    for name in NAMES:
        sent = {kind: tally.sent[(name, kind)] for kind in KINDS}
        got = {o: tally.outcomes[(name, o)] for o in (*OUTCOMES, "queued")}
        counted = {o: scrape("lambda_rie_invocations_total", name, outcome=o) for o in OUTCOMES}
        where = f"{name}: sent {sent}, answered {got}, counted {counted}"
        assert got["queued"] == sent["event"], where
        assert scrape("lambda_rie_async_events_total", name, outcome="success") == sent["event"]
        for outcome in ("error", "timeout", "crash"):
            assert counted[outcome] == got[outcome], where
        # A hung-up invocation runs to its end (success) unless it was throttled.
        hung_up = counted["success"] + counted["throttled"] - got["success"] - got["throttled"]
        assert hung_up - sent["event"] == sent["hang_up"], where
        assert sum(counted.values()) == sum(sent.values()), where


def wait_until_back_to_start(
    emulator: Emulator, started: float, baseline: dict[str, Any], baseline_fds: list[str]
) -> None:
    """The Event queue drains, idle environments are reaped, and fds and threads go back to
    what they were at the start (the failure names the fds left open)."""
    last: list[Any] = []

    def settled() -> bool:
        now = sample(emulator, started)
        scrape = metrics(emulator)
        queued = sum(scrape("lambda_rie_async_queue_depth", name) for name in NAMES)
        last[:] = [now, queued, scrape.text]
        return queued == 0 and now["environments"] == 0 and now["children"] == 0

    try:
        wait_until("queue drained and environments reaped", settled, SETTLE_DEADLINE_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last sample, queue depth, metrics: {last}") from None

    # NOTE: +1 fd: the connection of the sampler's own metrics scrape may not be closed yet.
    def back_to_baseline() -> bool:
        now = sample(emulator, started)
        last[:] = [now, sorted(open_fds(emulator.pid))]
        return now["fds"] <= baseline["fds"] + 1 and now["threads"] <= baseline["threads"] + 2

    try:
        wait_until("fds and threads back to their start", back_to_baseline, THREADS_DEADLINE_S)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}; baseline {baseline} {baseline_fds}, last sample and fds {last}"
        ) from None


@pytest.mark.stress
@pytest.mark.timeout(DURATION_S + 300)
def test_mixed_load_leaves_the_emulator_flat(
    emulator_factory: EmulatorFactory, face: list[str]
) -> None:
    emulator = emulator_factory(["--config", str(ROBUST / "lambda-rie.toml")], cwd=ROBUST)
    started = time.monotonic()
    baseline = sample(emulator, started)
    baseline_fds = sorted(open_fds(emulator.pid))
    end = started + DURATION_S
    samples: list[dict[str, Any]] = [baseline]
    reaps: list[dict[str, Any]] = []
    tally = Tally()
    numbers = itertools.count()
    threads = [
        threading.Thread(target=worker, args=(emulator, SEED + w, (started, end), numbers, tally))
        for w in range(WORKERS)
    ]
    threads.append(threading.Thread(target=sampler, args=(emulator, started, end, samples, reaps)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DURATION_S + HTTP_TIMEOUT_S + 30)
    assert not any(thread.is_alive() for thread in threads), "a worker is still waiting"
    assert emulator.process.poll() is None, emulator.stderr_text()[-2000:]

    wait_until_back_to_start(emulator, started, baseline, baseline_fds)
    final = sample(emulator, started)
    face_name = next(name for name, argv in FACES.items() if argv == face)
    out = write_samples(
        face_name,
        {"baseline": baseline, "samples": samples[1:], "final": final, "reaps": reaps},
    )
    where = f"samples in {out}"
    # Each function that rested a whole phase after having run was reaped during its rest.
    rested = {
        resting(started, started + phase * PHASE_S)
        for phase in range(1, int(DURATION_S // PHASE_S))
    }
    assert {reap["function"] for reap in reaps} == rested, where

    assert tally.problems == [], tally.problems[:10]
    answered = sum(n for (_, o), n in tally.outcomes.items())
    assert len(tally.request_ids) == answered
    assert len(set(tally.request_ids)) == answered, "a request id was answered twice"
    check_accounting(metrics(emulator), tally)

    assert (final["cgroup_dirs"], final["zombies"], final["stopped"]) == (0, 0, 0), where
    # NOTE: a zombie is a runtime that exited and is not reaped yet: crashes and resets may
    # leave a few at one instant, more so on a loaded machine; none may last ZOMBIE_BOUND_S.
    for i, before in enumerate(samples):
        after = next((s for s in samples[i:] if s["t_s"] >= before["t_s"] + ZOMBIE_BOUND_S), None)
        if after is not None:
            lasting = set(before["zombie_pids"]) & set(after["zombie_pids"])
            assert not lasting, (f"zombies {sorted(lasting)} at {after['t_s']} s", where)
    assert all(s["stopped"] == 0 for s in samples), where
    # No growth after the warm-up: the last third of the samples against the first third.
    # NOTE: the tolerances are what the working set may legitimately swing by, well under what
    # a leak would add over the run. RSS: up to 6 workers' 2 MB responses, each held by the
    # Runtime API and the Invoke API at once, plus allocator slack: 32 MB (a leak of 2 KB per
    # invocation, at the ~100-300 invocations/s seen here, adds more within the default run).
    # Threads: the blocking pool may add a few: 8. Fds, child processes and cgroup directories
    # follow the number of environments, so they are compared per environment (2 fds for the
    # clients' connections spread over the environments, 1 process, 1 directory), and the
    # check above proves they all return to the start once the environments are reaped.
    first, last = thirds(samples, "rss_kb")
    assert statistics.median(last) <= statistics.median(first) + 32 * 1024, where
    first, last = thirds(samples, "threads")
    assert max(last) <= max(first) + 8, where
    # NOTE: medians, the last third against every sample before it: per environment, fds swing
    # by several from one instant to the next (client connections, pipes of invocations in
    # flight: 12 to 22 within one run here); a leak moves the median, a swing does not.
    for key, slack in (("fds", 2), ("children", 1), ("cgroup_dirs", 1)):
        counted = per_environment(samples, key, baseline[key])
        _, last = thirds(counted, key)
        earlier = [s[key] for s in counted if s["t_s"] >= WARM_UP_S][: -len(last)] or last
        assert statistics.median(last) <= statistics.median(earlier) + slack, (key, where)
