"""What AWS would charge: Lambda's x86 on-demand price per GB-second and per request."""

from __future__ import annotations

# NOTE: AWS Lambda's published x86 price (us-east-1, first pricing tier); Arm is 20 % cheaper.
USD_PER_GB_SECOND = 0.0000166667
USD_PER_MILLION_REQUESTS = 0.20
ARCHITECTURE = "x86_64"


def usd_per_million(memory_mb: int, billed_duration_ms: float) -> float:
    """The price of a million invocations of `billed_duration_ms` each at `memory_mb`."""
    gb_seconds = memory_mb / 1024 * billed_duration_ms / 1000
    return 1_000_000 * gb_seconds * USD_PER_GB_SECOND + USD_PER_MILLION_REQUESTS


def price_terms() -> dict[str, object]:
    """The prices used, as written in the JSON output."""
    return {
        "architecture": ARCHITECTURE,
        "usd_per_gb_second": USD_PER_GB_SECOND,
        "usd_per_million_requests": USD_PER_MILLION_REQUESTS,
        "billed_duration": "mean Billed Duration of the warm invocations' REPORT lines",
    }


def price_note() -> str:
    """The prices used, as printed under the table."""
    return (
        f"AWS Lambda {ARCHITECTURE} price: ${USD_PER_GB_SECOND:.10f} per GB-second and "
        f"${USD_PER_MILLION_REQUESTS:.2f} per million requests, at the mean billed duration "
        "of the warm invocations"
    )
