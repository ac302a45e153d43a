"""The table printed on stdout: one row per memory size."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any, Optional

from lambda_rie._bench.pricing import price_note

_COLUMNS = (
    ("memory", "MB"),
    ("init", "p50 ms"),
    ("cold start", "p50 ms"),
    ("cold start", "p99 ms"),
    ("launch", "p50 ms"),
    ("warm", "p50 ms"),
    ("warm", "p90 ms"),
    ("warm", "p99 ms"),
    ("warm", "max ms"),
    ("invocations", "per s"),
    ("errors", ""),
    ("max memory", "used MB"),
    ("USD per", "million"),
)


def _number(value: Optional[float], digits: int = 2) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _row(result: dict[str, Any]) -> list[str]:
    cold, warm = result["cold"], result["warm"]
    return [
        str(result["memory"]),
        _number(cold["init_duration_ms"]["p50"], 1),
        _number(cold["environment_cold_start_ms"]["p50"], 1),
        _number(cold["environment_cold_start_ms"]["p99"], 1),
        _number(cold["launch_to_first_answer_ms"]["p50"], 1),
        _number(warm["p50_ms"], 3),
        _number(warm["p90_ms"], 3),
        _number(warm["p99_ms"], 3),
        _number(warm["max_ms"], 3),
        _number(result["invocations_per_s"], 0),
        str(result["errors"]),
        "-" if result["max_memory_used_mb"] is None else str(result["max_memory_used_mb"]),
        "-" if result["usd_per_million"] is None else f"{result['usd_per_million']:.4f}",
    ]


def render(title: str, results: Sequence[dict[str, Any]]) -> str:
    """`title`, the table, and what the figures mean."""
    rows = [[top for top, _ in _COLUMNS], [bottom for _, bottom in _COLUMNS]]
    rows += [_row(result) for result in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [*textwrap.wrap(title, 100), ""]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 1:
            lines.append("  ".join("-" * width for width in widths))
    lines += [
        "",
        "init: runtime process start to its first /next (REPORT's Init Duration); cold start:",
        "invoke arrival with no idle environment to answer; launch: lambda-rie start to first",
        "answer; warm: round trip of a kept-alive client to a warm environment.",
        *textwrap.wrap(price_note() + ".", 88),
    ]
    restarted = [f"{r['memory']} MB: {r['warm']['cold_starts']}" for r in results]
    if any(r["warm"]["cold_starts"] for r in results):
        lines.append("Environments started during the warm phase: " + ", ".join(restarted) + ".")
    return "\n".join(lines)
