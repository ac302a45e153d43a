"""Shared pieces of the latency, start-up, memory and ratio benchmarks: events of exact sizes, the
echo emulator, a kept-alive Python client, `wrk` with a Lua script, CPU time and RSS from `/proc`,
start-up rounds, AWS's emulator beside lambda-rie, the in-process floor.
"""

from __future__ import annotations

import compileall
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import orjson

import lambda_rie
from harness import (
    FACES,
    INSTALLED_COMMAND,
    INVOKE_PATH,
    ROOT,
    START_DEADLINE_S,
    UUID,
    Emulator,
    EmulatorFactory,
    clean_env,
    free_port,
)

BENCH_HANDLERS = ROOT / "examples" / "bench"
NATIVE = FACES["native"]
#: The Python runtimes lambda-rie can serve a HANDLER with (`--runtime`).
RUNTIMES = ("builtin", "awslambdaric")
#: The lambda-rie that is launched: the cargo build, and the command `pip install` puts on PATH.
COMMANDS = {"built": NATIVE, "installed": [str(INSTALLED_COMMAND)]}


def started_command(factory: EmulatorFactory) -> str:
    """Which of COMMANDS the factory launches."""
    return next(name for name, argv in COMMANDS.items() if argv == factory.face)


#: Event sizes of the round-trip benchmarks; 6 MB is the largest synchronous request AWS takes.
SIZES = {"128B": 128, "64KB": 64 * 1024, "1MB": 1024 * 1024, "6MB": 6 * 1024 * 1024}
HTTP_TIMEOUT_S = 60.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PREFIX = '{"data":"'
_SUFFIX = '"}'


def event_of(size: int) -> bytes:
    """A JSON event of exactly `size` bytes."""
    padding = size - len(_PREFIX) - len(_SUFFIX)
    return (_PREFIX + "x" * padding + _SUFFIX).encode()


def compile_handlers() -> None:
    """Write bytecode for the handlers and the built-in runtime, as an installed wheel has.

    The harness runs lambda-rie with PYTHONDONTWRITEBYTECODE (nothing is written into the
    repository by the runtimes), so without this every cold start would compile from source.
    """
    compileall.compile_dir(BENCH_HANDLERS, quiet=1)
    compileall.compile_dir(Path(lambda_rie.__file__).parent, quiet=1)


def start_emulator(
    factory: EmulatorFactory, runtime: str, handler: str = "echo.handler", *flags: str
) -> Emulator:
    """lambda-rie (native binary) serving `examples/bench/<handler>` with the `runtime`."""
    return factory(["--runtime", runtime, "--code-dir", str(BENCH_HANDLERS), *flags, handler])


class KeepAliveClient:
    """One HTTP/1.1 connection kept open for every invocation, like an SDK client's pool."""

    def __init__(self, emulator: Emulator) -> None:
        self._conn = http.client.HTTPConnection(emulator.host, emulator.port, HTTP_TIMEOUT_S)
        self._headers = {"Content-Type": "application/json"}

    def invoke(self, event: bytes) -> tuple[int, bytes]:
        """(status, body) of one synchronous invocation."""
        self._conn.request("POST", INVOKE_PATH, body=event, headers=self._headers)
        answer = self._conn.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        self._conn.close()


def echoed(status: int, body: bytes, event: bytes) -> bool:
    """The answer is the event, decoded (runtimes may write the JSON with other spacing)."""
    return status == 200 and orjson.loads(body) == orjson.loads(event)


# --- wrk ----------------------------------------------------------------------------------------

WRK_MARKER = "lambda-rie-wrk"
_WRK_SCRIPT = """\
local file = assert(io.open({body_path}, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "{marker} requests=%d duration_us=%d errors=%d status_errors=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.3f\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class WrkRun:
    """What `wrk` measured (latencies in milliseconds)."""

    requests: int
    invocations_per_s: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    def figures(self) -> dict[str, Any]:
        """The run as `extra_info` entries."""
        return {key: round(value, 4) for key, value in vars(self).items()}


def wrk_binary() -> Optional[str]:
    """The `wrk` on PATH (Debian/Ubuntu package `wrk`), or None."""
    return shutil.which("wrk")


def wrk_version(binary: str) -> str:
    """wrk's version line (it prints it with its usage and exits 1)."""
    output = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (output.stdout or output.stderr).splitlines()[0].strip()


def run_wrk(
    binary: str,
    emulator: Emulator,
    event: bytes,
    seconds: int,
    *,
    url: Optional[str] = None,
    connections: int = 1,
) -> WrkRun:
    """POST `event` for `seconds` over `connections` kept-alive connections (one wrk thread, two
    from two connections on) to `url`, by default the Invoke API's invoke path."""
    with tempfile.TemporaryDirectory(prefix="lambda-rie-wrk-") as scratch:
        body_path = Path(scratch) / "event.json"
        body_path.write_bytes(event)
        script = Path(scratch) / "post.lua"
        script.write_text(_WRK_SCRIPT.format(body_path=_lua_string(body_path), marker=WRK_MARKER))
        threads = min(connections, 2)
        argv = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
        output = subprocess.run(
            [*argv, "-s", str(script), url or f"{emulator.url}{INVOKE_PATH}"],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    match = re.search(WRK_MARKER + r" (.*)", output)
    if match is None:
        raise AssertionError(f"wrk printed no summary:\n{output}")
    found = {key: float(value) for key, value in re.findall(r"(\w+)=([0-9.]+)", match.group(1))}
    return WrkRun(
        requests=int(found["requests"]),
        invocations_per_s=found["requests"] / (found["duration_us"] / 1e6),
        errors=int(found["errors"] + found["status_errors"]),
        p50_ms=found["p50_us"] / 1000,
        p90_ms=found["p90_us"] / 1000,
        p99_ms=found["p99_us"] / 1000,
        max_ms=found["max_us"] / 1000,
        mean_ms=found["mean_us"] / 1000,
    )


def _lua_string(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- CPU time -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # NOTE: the command name may contain spaces and parentheses; fields follow the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(emulator: Emulator) -> tuple[float, float]:
    """(lambda-rie, its runtime processes) CPU seconds so far."""
    runtimes = 0.0
    for pid in emulator.descendants():
        try:
            runtimes += cpu_seconds(pid)
        except (OSError, ValueError):
            continue  # exited in between
    return cpu_seconds(emulator.pid), runtimes


def rss_kib(pid: int) -> int:
    """Resident set size of a live process (`VmRSS` of `/proc/<pid>/status`), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"process {pid} reports no VmRSS (a kernel thread or a zombie)")


# --- start-up rounds ----------------------------------------------------------------------------

_INIT = re.compile(rf"^REPORT RequestId: ({UUID})\t.*\t(?:Init|Restore) Duration: ([0-9.]+) ms\t")
#: Starts one emulator serving a handler and returns it once it accepts invocations.
Launcher = Callable[[], Emulator]


#: The reference runtime that does the least any Python runtime does (`floor_runtime.py`).
FLOOR = "floor"
FLOOR_RUNTIME = Path(__file__).resolve().parent / "floor_runtime.py"


def lambda_rie_launcher(factory: EmulatorFactory, variant: str, handler: str) -> Launcher:
    """Starts lambda-rie with a runtime variant (`builtin`, `awslambdaric`, `builtin+snapstart`,
    or the reference `floor`, run as a custom runtime by the same interpreter)."""
    if variant == FLOOR:
        argv = ["--code-dir", str(BENCH_HANDLERS), sys.executable, str(FLOOR_RUNTIME), handler]
        return lambda: factory(argv)
    runtime, _, snapstart = variant.partition("+")
    flags = ["--snapstart"] if snapstart else []
    return lambda: start_emulator(factory, runtime, handler, *flags)


class StartUps:
    """Every round's fresh emulator and the figures of its first invocation."""

    def __init__(self, launcher: Launcher, *, reports_init: bool = True) -> None:
        self._launcher = launcher
        self._reports_init = reports_init
        self._previous: list[Emulator] = []
        self.launch_to_first_answer_ms: list[float] = []
        self.environment_cold_start_ms: list[float] = []
        self.init_duration_ms: list[float] = []
        self.correct = True

    def stop_previous(self) -> None:
        """Untimed: stop the last round's emulator and record its init duration."""
        while self._previous:
            emulator = self._previous.pop()
            try:
                if self._reports_init:
                    match = emulator.stdout.wait_for(_INIT.pattern)
                    self.init_duration_ms.append(float(match.group(2)))
            finally:
                emulator.close()

    def launch(self) -> None:
        """Start the emulator, wait for its Invoke API, invoke once: launch to first answer."""
        event = event_of(128)
        launched = time.perf_counter()
        emulator = self._launcher()
        self._previous.append(emulator)
        client = KeepAliveClient(emulator)
        try:
            arrival = time.perf_counter()
            status, body = client.invoke(event)
            answered = time.perf_counter()
        finally:
            client.close()
        self.environment_cold_start_ms.append((answered - arrival) * 1000)
        self.launch_to_first_answer_ms.append((answered - launched) * 1000)
        self.correct = self.correct and echoed(status, body, event)


def median_ms(samples: list[float]) -> Optional[float]:
    """The median, rounded to 10 µs; None without samples."""
    return round(statistics.median(samples), 2) if samples else None


# --- AWS's emulator -----------------------------------------------------------------------------

#: The variable naming AWS's emulator binary (`aws-lambda-rie`) to run beside lambda-rie.
AWS_RIE_VARIABLE = "LAMBDA_RIE_BENCH_RIE"
AWS_RIE_ABSENT = f"{AWS_RIE_VARIABLE} is not set (the path of AWS's aws-lambda-rie)"


def aws_rie_binary() -> Optional[str]:
    """The path in LAMBDA_RIE_BENCH_RIE, or None."""
    return os.environ.get(AWS_RIE_VARIABLE) or None


def start_aws_rie(binary: str, handler: str = "echo.handler") -> Emulator:
    """AWS's emulator serving `examples/bench/<handler>` with awslambdaric, started as its users
    start it (`aws-lambda-rie python -m awslambdaric HANDLER` in the code's directory) on a free
    loopback port; returned once that port accepts connections.

    Its Runtime API stays on its default address (127.0.0.1:9001), so one runs at a time.
    """
    port = free_port()
    address = ["--runtime-interface-emulator-address", f"127.0.0.1:{port}"]
    argv = [binary, *address, "python", "-m", "awslambdaric", handler]
    emulator = Emulator(argv, BENCH_HANDLERS, clean_env())
    emulator.host, emulator.port = "127.0.0.1", port
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        try:
            socket.create_connection((emulator.host, port), timeout=1.0).close()
            return emulator
        except OSError:
            # NOTE: AWS's emulator prints no line naming its address, so the port is polled.
            if emulator.process.poll() is not None or time.monotonic() > deadline:
                emulator.kill_all()
                raise AssertionError(
                    f"{argv} did not listen on 127.0.0.1:{port}:\n{emulator.stderr_text()}"
                ) from None
            time.sleep(0.001)


# --- the floor ----------------------------------------------------------------------------------


class _Context:
    """The few context fields a handler reads; the floor needs no more."""

    aws_request_id = "00000000-0000-0000-0000-000000000000"
    function_name = "floor"
    memory_limit_in_mb = "3008"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def in_process_call(handler: Callable[[Any, Any], Any], event: bytes) -> bytes:
    """What any runtime must do at least: decode the event, call the handler, encode the result."""
    return orjson.dumps(handler(orjson.loads(event), _Context()))


def measure_warm_round_trip(benchmark: Any, emulator: Emulator, event: bytes) -> bool:
    """Time warm invokes of `event` on one kept-alive connection (the cold start is left out);
    whether the last answer echoed the event."""
    conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=60)

    def invoke() -> tuple[int, bytes]:
        conn.request("POST", INVOKE_PATH, body=event)
        answer = conn.getresponse()
        return answer.status, answer.read()

    try:
        assert invoke()[0] == 200  # the cold start stays out of the figures
        status, body = benchmark(invoke)
    finally:
        conn.close()
    return status == 200 and bool(orjson.loads(body) == orjson.loads(event))
