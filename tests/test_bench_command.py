"""`lambda-rie bench`: the table, `--json` in the schema of the behaviour contract (section 10),
`--plot`, the forms of naming the function, and the command line's errors. Timings are never
asserted here."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
from matplotlib.image import imread

from harness import EXAMPLES, FUNCTIONS, INSTALLED_COMMAND, ROOT, clean_env
from lambda_rie import bench
from lambda_rie._bench import plot

RUN_DEADLINE_S = 90.0
USD_PER_GB_SECOND = 0.0000166667
USD_PER_MILLION_REQUESTS = 0.20


def run_bench(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`lambda-rie bench ARGS` through the installed native command, as a user runs it."""
    return subprocess.run(
        [str(INSTALLED_COMMAND), "bench", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
        check=False,
    )


def is_ms(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def sweep(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The README's example run, with two cold starts per memory size to stay short."""
    out = tmp_path_factory.mktemp("bench")
    result = run_bench(
        "examples/hello/app.handler",
        *("-n", "200", "--concurrency", "2", "--memory", "256,1769", "--cpu-by-memory"),
        *("--cold", "2", "--json", str(out / "out.json"), "--plot", str(out / "out.png")),
    )
    assert result.returncode == 0, result.stderr
    return result, out


def test_json_has_every_spec_field_for_each_memory_size(
    sweep: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    document = json.loads((sweep[1] / "out.json").read_text())
    results = document["results"]
    assert [result["memory"] for result in results] == [256, 1769]
    for result in results:
        cold, warm = result["cold"], result["warm"]
        for figure in ("init_duration_ms", "environment_cold_start_ms"):
            assert is_ms(cold[figure]["p50"]), (figure, cold)
            assert is_ms(cold[figure]["p99"]), (figure, cold)
            assert cold[figure]["p50"] <= cold[figure]["p99"]
        assert all(is_ms(warm[key]) for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")), warm
        assert warm["p50_ms"] <= warm["p90_ms"] <= warm["p99_ms"] <= warm["max_ms"]
        assert is_ms(result["invocations_per_s"])
        assert result["errors"] == 0
        # The measured peak, never the configured size.
        assert isinstance(result["max_memory_used_mb"], int)
        assert 0 < result["max_memory_used_mb"] < result["memory"]
        assert len(result["series"]) == 200
        assert all(is_ms(latency) for latency in result["series"])
        assert max(result["series"]) == warm["max_ms"]


def test_cost_is_aws_x86_price_at_the_billed_duration(
    sweep: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, out = sweep
    document = json.loads((out / "out.json").read_text())
    assert document["price"]["usd_per_gb_second"] == USD_PER_GB_SECOND
    assert document["price"]["usd_per_million_requests"] == USD_PER_MILLION_REQUESTS
    for entry in document["results"]:
        billed_s = entry["warm"]["billed_duration_ms"] / 1000
        expected = 1e6 * entry["memory"] / 1024 * billed_s * USD_PER_GB_SECOND + 0.20
        assert entry["usd_per_million"] == pytest.approx(expected, rel=1e-4)
        assert entry["warm"]["billed_duration_ms"] >= 1  # billed in whole milliseconds
    assert "$0.0000166667 per GB-second" in result.stdout
    assert "$0.20 per million" in result.stdout


def test_table_has_a_row_per_memory_size(
    sweep: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    rows = [line.split() for line in sweep[0].stdout.splitlines()]
    assert [row[0] for row in rows if row and row[0] in ("256", "1769")] == ["256", "1769"]
    assert "256 MB: warm" in sweep[0].stderr  # progress, off a terminal one line per phase


def test_plot_is_a_png_at_least_600_pixels_wide(
    sweep: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    pixels = imread(str(sweep[1] / "out.png"), format="png")
    assert pixels.shape[1] >= 600, pixels.shape


def test_config_function_at_its_configured_memory(tmp_path: Path) -> None:
    config = hello_config(tmp_path, "memory = 512\n")
    out = tmp_path / "out.json"
    result = run_bench(
        *("--config", str(config), "--function", "orders", "-n", "20", "--cold", "1"),
        *("--event", str(event_file(tmp_path, {"name": "bench"})), "--json", str(out)),
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["function"] == "orders"
    assert [entry["memory"] for entry in document["results"]] == [512]
    assert len(document["results"][0]["series"]) == 20


def test_unknown_function_stops_at_the_first_answer(tmp_path: Path) -> None:
    config = hello_config(tmp_path)
    result = run_bench("--config", str(config), "--function", "nope", "-n", "5", "--cold", "1")
    assert result.returncode == 1
    assert (
        "Function not found: arn:aws:lambda:us-east-1:012345678912:function:nope" in result.stderr
    )


def test_duration_bounds_the_warm_phase(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = run_bench(
        *("examples/hello/app.handler", "-n", "1000000", "--duration", "0.5"),
        *("--cold", "0", "--memory", "512", "--json", str(out)),
    )
    assert result.returncode == 0, result.stderr
    entry = json.loads(out.read_text())["results"][0]
    assert 0 < len(entry["series"]) < 1_000_000
    assert entry["cold"]["environment_cold_start_ms"] == {"p50": None, "p99": None}


def test_function_errors_are_counted_and_fail_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    event = event_file(tmp_path, {"message": "boom"})
    result = run_bench(
        *("app.fail", "-n", "5", "--cold", "1", "--memory", "128"),
        *("--event", str(event), "--json", str(out)),
        cwd=FUNCTIONS,
    )
    assert result.returncode == 1, result.stderr
    assert "(Unhandled)" in result.stderr
    assert json.loads(out.read_text())["results"][0]["errors"] == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give HANDLER"),
        (["app.handler", "--memory", "64"], "--memory: '64' is not a size in MB within 128-10240"),
        (["not a handler"], "is not of the form [DIR/]module.function"),
        (["--config", "lambda-rie.toml"], "both --config F and --function NAME"),
        (["app.handler", "--concurrency", "0"], "--concurrency: 1-1000"),
    ],
)
def test_bad_command_lines_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(args) == 2
    assert message in capsys.readouterr().err


def test_plot_without_matplotlib_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plot, "available", lambda: False)
    monkeypatch.chdir(ROOT)
    assert bench.main(["examples/hello/app.handler", "--plot", "out.png"]) == 2
    assert "pip install 'lambda-rie[plot]'" in capsys.readouterr().err


def event_file(directory: Path, event: Any) -> Path:
    path = directory / "event.json"
    path.write_text(json.dumps(event))
    return path


def hello_config(directory: Path, extra: str = "") -> Path:
    """A lambda-rie.toml serving examples/hello as the function `orders`."""
    path = directory / "lambda-rie.toml"
    code_dir = (EXAMPLES / "hello").as_posix()
    path.write_text(
        f'[functions.orders]\nhandler = "app.handler"\ncode_dir = "{code_dir}"\n{extra}'
    )
    return path


def test_snapstart_cold_starts_are_restores(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = run_bench(
        "examples/hello/app.handler",
        *("-n", "20", "--cold", "2", "--memory", "256", "--snapstart", "--json", str(out)),
    )
    assert result.returncode == 0, result.stderr
    assert "--snapstart" in result.stdout
    cold = json.loads(out.read_text())["results"][0]["cold"]
    # The restore duration stands in for the init duration.
    assert is_ms(cold["init_duration_ms"]["p50"]), cold
    assert is_ms(cold["environment_cold_start_ms"]["p50"]), cold
