"""`lambda-rie bench`: cold starts, warm latency, throughput and cost of a function per memory size.

The figures users would otherwise read off CloudWatch, for their own function: for each memory
size lambda-rie is started `--cold` times (each first invocation is a cold start), then the last
one serves `-n` warm invocations from `--concurrency` kept-alive clients. See `benches/` for the
project's own benchmark suite.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from lambda_rie._bench import plot
from lambda_rie._bench.emulator import EmulatorProcess, EmulatorStartError
from lambda_rie._bench.pricing import price_terms
from lambda_rie._bench.progress import Progress
from lambda_rie._bench.runner import ColdStart, Workload, cold_start, warm_phase
from lambda_rie._bench.stats import memory_result
from lambda_rie._bench.table import render
from lambda_rie._bench.target import BenchTarget

DEFAULT_MEMORY = (128, 512, 1769)
MEMORY_RANGE = (128, 10240)
MAX_CONCURRENCY = 1000
MAX_EVENT_BYTES = 6291456  # the synchronous request limit


class UsageError(Exception):
    """A bad command line: exit 2 with the message."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-rie bench",
        description="Benchmark a function: cold starts, warm latency, throughput and cost.",
        epilog="Exit status: 0, 1 if any invocation failed, 2 for a bad command line.",
    )
    parser.add_argument("handler", nargs="?", help="[DIR/]module.function (built-in runtime)")
    parser.add_argument("--config", metavar="F", help="a lambda-rie.toml (with --function)")
    parser.add_argument("--function", metavar="NAME", help="the function of --config to bench")
    parser.add_argument("--event", metavar="FILE", help="the event (JSON; - for stdin) [{}]")
    parser.add_argument("-n", type=int, default=1000, help="warm invocations [1000]")
    parser.add_argument("--concurrency", type=int, default=1, help="kept-alive clients [1]")
    parser.add_argument("--duration", type=float, metavar="S", help="stop warm phase after S s")
    parser.add_argument("--cold", type=int, default=5, metavar="N", help="cold starts [5]")
    parser.add_argument(
        "--memory",
        metavar="MB,MB,...",
        help="memory sizes [128,512,1769; with --config: the function's own]",
    )
    parser.add_argument("--cpu-by-memory", action="store_true", help="CPU quota as on AWS")
    parser.add_argument(
        "--snapstart",
        action="store_true",
        help="init once, restore every environment from it (cold starts are restores)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON")
    parser.add_argument("--plot", metavar="OUT.png", help="draw the results (needs matplotlib)")
    return parser


def _memory_sizes(text: Optional[str], target: BenchTarget) -> list[Optional[int]]:
    if text is None:
        return [None] if target.configured_memory else list(DEFAULT_MEMORY)
    sizes: list[Optional[int]] = []
    for item in text.split(","):
        low, high = MEMORY_RANGE
        if not item.strip().isdigit() or not low <= int(item) <= high:
            raise UsageError(f"--memory: {item!r} is not a size in MB within {low}-{high}")
        sizes.append(int(item))
    return sizes


def _target(options: argparse.Namespace) -> BenchTarget:
    try:
        if options.config is not None or options.function is not None:
            if options.handler is not None or options.config is None or options.function is None:
                raise UsageError("give either HANDLER or both --config F and --function NAME")
            return BenchTarget.config(options.config, options.function, options.memory is None)
        if options.handler is None:
            raise UsageError("give HANDLER ([DIR/]module.function) or --config F --function NAME")
        return BenchTarget.handler(options.handler)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _event(path: Optional[str]) -> bytes:
    if path is None:
        return b"{}"
    try:
        event = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"--event: {exc}") from None
    if len(event) > MAX_EVENT_BYTES:
        raise UsageError(f"--event: {len(event)} bytes is over the {MAX_EVENT_BYTES}-byte limit")
    return event


def _check_counts(options: argparse.Namespace) -> None:
    if options.n < 1:
        raise UsageError("-n: at least 1 warm invocation")
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency: 1-{MAX_CONCURRENCY}")
    if options.cold < 0:
        raise UsageError("--cold: 0 or more")
    if options.duration is not None and options.duration <= 0:
        raise UsageError("--duration: more than 0 seconds")
    if options.plot is not None and not plot.available():
        raise UsageError(plot.MISSING)


def _served_memory(process: EmulatorProcess, wanted: Optional[int]) -> int:
    """The memory size lambda-rie gave the function, from its REPORT lines."""
    sizes = {report.memory_size_mb for report in process.reports()}
    if not sizes:
        raise RuntimeError(f"no REPORT line; lambda-rie said:\n{process.stderr_tail()}")
    served = sizes.pop()
    if wanted is not None and served != wanted:
        raise RuntimeError(f"lambda-rie served the function with {served} MB, not {wanted} MB")
    return served


@dataclass(frozen=True)
class BenchPlan:
    """What every memory size of one run shares."""

    target: BenchTarget
    workload: Workload
    cold_starts: int
    cpu_by_memory: bool
    snapstart: bool
    workdir: Path
    progress: Progress


def _bench_memory(plan: BenchPlan, memory: Optional[int]) -> dict[str, Any]:
    """Every measurement at one memory size (None: the function's configured size)."""
    target, workload, progress = plan.target, plan.workload, plan.progress
    argv = target.argv(memory, plan.cpu_by_memory, workload.concurrency, plan.snapstart)
    label = f"{memory} MB" if memory is not None else "configured memory"
    cold: list[ColdStart] = []
    launches: list[EmulatorProcess] = []
    progress.phase(f"{label}: cold starts")
    try:
        # Each launch's first invocation is a cold start; the last launch serves the warm phase.
        for index in range(max(1, plan.cold_starts)):
            if launches:
                launches[-1].stop()
            launches.append(
                EmulatorProcess(argv, Path.cwd(), plan.workdir / f"{memory}-{index}.log")
            )
            launches[-1].wait_listening()
            start = cold_start(launches[-1], workload)
            if start.answer.status != 200:
                raise RuntimeError(f"{label}: the first invocation failed: {start.answer.problem}")
            if index < plan.cold_starts:
                cold.append(start)
                progress.show(index + 1, plan.cold_starts, force=True)
        progress.advance(plan.cold_starts)
        progress.phase(f"{label}: warm")
        warm = warm_phase(launches[-1], workload, progress)
        progress.advance(workload.invocations)
    finally:
        if launches:
            launches[-1].stop()
    for problem in [c.answer.problem for c in cold if c.answer.problem] + warm.problems:
        print(f"lambda-rie bench: {label}: {problem}", file=sys.stderr)
    served = _served_memory(launches[-1], memory)
    reports = [report for launch in launches for report in launch.reports()]
    return memory_result(served, cold, warm, reports)


def _document(
    options: argparse.Namespace,
    target: BenchTarget,
    event_bytes: int,
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    """The `--json` output: the run's settings, the prices used, one result per memory size."""
    return {
        "function": target.label,
        "event_bytes": event_bytes,
        "cold_starts": options.cold,
        "invocations": options.n,
        "concurrency": options.concurrency,
        "duration_s": options.duration,
        "cpu_by_memory": options.cpu_by_memory,
        "price": price_terms(),
        "results": results,
    }


def _run(options: argparse.Namespace) -> int:
    target = _target(options)
    memories = _memory_sizes(options.memory, target)
    _check_counts(options)
    event = _event(options.event)
    metrics_function = target.function if options.config is not None else None
    workload = Workload(
        target.invoke_path,
        event,
        options.n,
        options.concurrency,
        options.duration,
        metrics_function,
    )
    progress = Progress(len(memories) * (options.cold + options.n))
    with tempfile.TemporaryDirectory(prefix="lambda-rie-bench-") as workdir:
        plan = BenchPlan(
            target,
            workload,
            options.cold,
            options.cpu_by_memory,
            options.snapstart,
            Path(workdir),
            progress,
        )
        results = [_bench_memory(plan, memory) for memory in memories]
    progress.finish()
    title = (
        f"lambda-rie bench {target.label}: {len(event)}-byte event, {options.cold} cold starts and "
        f"{options.n} warm invocations from {options.concurrency} client(s) per memory size"
        + (", --cpu-by-memory" if options.cpu_by_memory else "")
        + (", --snapstart" if options.snapstart else "")
    )
    print(render(title, results))
    if options.json is not None:
        document = _document(options, target, len(event), results)
        Path(options.json).write_text(json.dumps(document, indent=2) + "\n")
    if options.plot is not None:
        plot.draw(f"lambda-rie bench {target.label}", results, Path(options.plot))
    return 1 if any(result["errors"] for result in results) else 0


def main(argv: Sequence[str]) -> int:
    """Run the benchmark command line; the exit code."""
    try:
        options = _parser().parse_args(list(argv))
    except SystemExit as exc:  # --help, or argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _run(options)
    except UsageError as exc:
        print(f"lambda-rie bench: {exc}", file=sys.stderr)
        return 2
    except (EmulatorStartError, RuntimeError, OSError) as exc:
        print(f"lambda-rie bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
