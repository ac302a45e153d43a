"""HTTP fronts against the plain Invoke path: requests per second and p50/p99 with `wrk`, over 1 and
8 kept-alive connections, of a 128-byte echo (`examples/bench/http_echo.py`, built-in runtime)
reached through its function URL (`/lambda-url/Echo/` on the Invoke API's port), an `HttpApi`
route of a SAM template (`POST /echo` on `--http-port`) and Invoke. One lambda-rie (the native
binary) serves all three, so the figures compare the translation of the HTTP fronts only.

`sam local start-api` is not measured: it needs Docker. A figure is the median (by requests/s)
of `WRK_RUNS` wrk runs of `WRK_SECONDS` (one run of a second under --benchmark-disable, after no
warm-up); a timed run first warms 8 environments. The table of every front is printed at the end
of the module. Without `wrk` on PATH it skips.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench_support import (
    BENCH_HANDLERS,
    NATIVE,
    WrkRun,
    compile_handlers,
    event_of,
    run_wrk,
    wrk_binary,
)
from harness import Emulator, EmulatorFactory, request

WRK_SECONDS = {"timed": 2, "smoke": 1}
#: wrk runs per figure; the run of median requests/s is kept (a shared machine is noisy).
WRK_RUNS = {"timed": 5, "smoke": 1}
CONNECTIONS = (1, 8)
FRONTS = ("function_url", "http_api", "invoke")
EVENT = event_of(128)
TEMPLATE = f"""
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {BENCH_HANDLERS}
      Handler: http_echo.handler
      Runtime: python3.12
      FunctionUrlConfig:
        AuthType: NONE
      Events:
        Echo:
          Type: HttpApi
          Properties:
            Path: /echo
            Method: POST
"""
#: Every run of the module, for the table: (front, connections) -> run.
RESULTS: dict[tuple[str, int], WrkRun] = {}


class Fronts:
    """One lambda-rie serving the echo through its three fronts."""

    def __init__(self, emulator: Emulator, http_host: str, http_port: int) -> None:
        self.emulator = emulator
        self.http = (http_host, http_port)
        self.urls = {
            "function_url": f"{emulator.url}/lambda-url/Echo/",
            "http_api": f"http://{http_host}:{http_port}/echo",
            "invoke": f"{emulator.url}/2015-03-31/functions/Echo/invocations",
        }

    def answer(self, front: str) -> tuple[int, bytes]:
        """One request's (status, body) through `front`."""
        if front == "http_api":
            host, port = self.http
            path = "/echo"
        else:
            host, port = self.emulator.host, self.emulator.port
            path = self.urls[front].split(str(port), 1)[1]
        answer = request(host, port, "POST", path, body=EVENT)
        return answer.status, answer.body


@pytest.fixture(scope="module")
def fronts(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Fronts]:
    compile_handlers()
    template = tmp_path_factory.mktemp("fronts") / "template.yaml"
    template.write_text(TEMPLATE)
    factory = EmulatorFactory(NATIVE)
    try:
        emulator = factory(["--http-port", "0", "--template", str(template)])
        line = emulator.stderr.wait_for(r"API Gateway routes \(\d+\) on http://([\d.]+):(\d+)/")
        yield Fronts(emulator, line.group(1), int(line.group(2)))
    finally:
        factory.close()
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    if RESULTS and capture is not None:
        with capture.global_and_fixture_disabled():
            print_table()


def print_table() -> None:
    lines = [
        "",
        f"{'front':<14}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}",
    ]
    for (front, connections), run in sorted(RESULTS.items()):
        lines.append(
            f"{front:<14}{connections:>6}{run.invocations_per_s:>10.0f}"
            f"{run.p50_ms:>9.3f}{run.p99_ms:>9.3f}{run.errors:>8}"
        )
    print("\n".join(lines))


@pytest.mark.parametrize("connections", CONNECTIONS)
@pytest.mark.parametrize("front", FRONTS)
def test_requests_per_second(
    benchmark: BenchmarkFixture, fronts: Fronts, front: str, connections: int
) -> None:
    binary = wrk_binary()
    if binary is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    status, body = fronts.answer(front)
    # The function URL and the HTTP API send the echoed body; Invoke sends the event back.
    assert (status, body) == (200, EVENT), (status, body[:200])
    mode = "smoke" if benchmark.disabled else "timed"
    url = fronts.urls[front]
    if mode == "timed":
        run_wrk(binary, fronts.emulator, EVENT, 1, url=url, connections=8)

    def median_run() -> WrkRun:
        runs = [
            run_wrk(
                binary, fronts.emulator, EVENT, WRK_SECONDS[mode], url=url, connections=connections
            )
            for _ in range(WRK_RUNS[mode])
        ]
        runs.sort(key=lambda r: r.invocations_per_s)
        assert all(r.errors == 0 for r in runs), runs
        return runs[len(runs) // 2]

    run = benchmark.pedantic(median_run, rounds=1)
    RESULTS[(front, connections)] = run
    benchmark.extra_info.update(run.figures(), front=front, connections=connections)
    assert run.errors == 0, run
    assert run.requests > 0, run
