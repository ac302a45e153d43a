"""`--plot OUT.png`: the warm latency distribution and the cold/warm comparison (matplotlib)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

MISSING = "--plot needs matplotlib: pip install 'lambda-rie[plot]'"
_WIDTH_IN, _HEIGHT_IN, _DPI = 12.0, 5.0, 100  # 1200 x 500 pixels


def available() -> bool:
    """True when matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def draw(title: str, results: Sequence[dict[str, Any]], path: Path) -> None:
    """Write a PNG: warm round trips per memory size, and cold versus warm medians."""
    # NOTE: a bare Figure draws with the Agg canvas: no pyplot state, no display needed.
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    figure = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=_DPI, layout="constrained")
    figure.suptitle(title)
    distribution, comparison = figure.subplots(1, 2)

    series = [result["series"] for result in results if result["series"]]
    if series:
        low = min(min(values) for values in series)
        high = max(max(values) for values in series)
        bins = _log_bins(max(low, 1e-3), max(high, low * 1.01, 1e-3), 60)
        for result in results:
            if result["series"]:
                label = f"{result['memory']} MB (p50 {result['warm']['p50_ms']:.3f} ms)"
                distribution.hist(result["series"], bins=bins, histtype="step", label=label)
        distribution.set_xscale("log")
        distribution.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        distribution.xaxis.set_minor_formatter(NullFormatter())
        distribution.legend()
    distribution.set_title("Warm invocations: round trip")
    distribution.set_xlabel("milliseconds (log scale)")
    distribution.set_ylabel("invocations")

    groups: tuple[tuple[str, Callable[[dict[str, Any]], Optional[float]]], ...] = (
        ("warm p50", lambda r: r["warm"]["p50_ms"]),
        ("warm p99", lambda r: r["warm"]["p99_ms"]),
        ("init duration p50", lambda r: r["cold"]["init_duration_ms"]["p50"]),
        ("environment cold start p50", lambda r: r["cold"]["environment_cold_start_ms"]["p50"]),
    )
    width = 0.8 / len(groups)
    positions = list(range(len(results)))
    for index, (label, figure_of) in enumerate(groups):
        heights = [figure_of(result) or 0.0 for result in results]
        offsets = [x + (index - (len(groups) - 1) / 2) * width for x in positions]
        bars = comparison.bar(offsets, heights, width, label=label)
        comparison.bar_label(bars, fmt="%.3g", fontsize="small")
    comparison.set_xticks(positions, [f"{result['memory']} MB" for result in results])
    comparison.set_yscale("log")
    comparison.set_title("Cold versus warm")
    comparison.set_ylabel("milliseconds (log scale)")
    comparison.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2)
    figure.savefig(path, format="png")


def _log_bins(low: float, high: float, count: int) -> list[float]:
    ratio = (high / low) ** (1 / count)
    return [low * ratio**step for step in range(count + 1)]
