"""The figures of one memory size, in the JSON schema of `lambda-rie bench --json`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

from lambda_rie._bench.emulator import ReportLine
from lambda_rie._bench.pricing import usd_per_million
from lambda_rie._bench.runner import ColdStart, WarmPhase

_DIGITS = 4  # 0.1 microsecond


def percentile(samples: Sequence[float], fraction: float) -> Optional[float]:
    """The `fraction` quantile by linear interpolation between ranks; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, _DIGITS)


def _p50_p99(samples: Sequence[float]) -> dict[str, Optional[float]]:
    return {"p50": _ms(percentile(samples, 0.5)), "p99": _ms(percentile(samples, 0.99))}


def memory_result(
    memory: int, cold: Sequence[ColdStart], warm: WarmPhase, reports: Sequence[ReportLine]
) -> dict[str, Any]:
    """Everything measured at `memory` MB; `reports` are the REPORT lines of every launch."""
    init = [c.init_duration_ms for c in cold if c.answer.ok and c.init_duration_ms is not None]
    environment = [c.environment_cold_start_ms for c in cold if c.answer.ok]
    launch = [c.launch_to_first_answer_ms for c in cold if c.answer.ok]
    # Warm REPORT lines carry no Init Duration; a warm-up's new environment's first line does.
    billed = [r.billed_duration_ms for r in reports if r.init_duration_ms is None]
    billed_ms = sum(billed) / len(billed) if billed else None
    series = warm.latencies_ms
    return {
        "memory": memory,
        "cold": {
            "starts": len(cold),
            "init_duration_ms": _p50_p99(init),
            "environment_cold_start_ms": _p50_p99(environment),
            "launch_to_first_answer_ms": _p50_p99(launch),
        },
        "warm": {
            "invocations": len(series),
            "cold_starts": warm.cold_starts,
            "p50_ms": _ms(percentile(series, 0.5)),
            "p90_ms": _ms(percentile(series, 0.9)),
            "p99_ms": _ms(percentile(series, 0.99)),
            "max_ms": _ms(max(series, default=None)),
            "billed_duration_ms": _ms(billed_ms),
        },
        "invocations_per_s": round(warm.invocations_per_s, 1),
        "errors": warm.errors + sum(1 for c in cold if not c.answer.ok),
        "max_memory_used_mb": max((r.max_memory_used_mb for r in reports), default=None),
        "usd_per_million": None
        if billed_ms is None
        else round(usd_per_million(memory, billed_ms), 6),
        "series": [round(value, _DIGITS) for value in series],
    }
