"""The Telemetry API and the legacy Logs API (platform and function records delivered in order
to a subscriber in the environment), and layers (`--layer ZIP` merged at `/opt`, its Python
packages importable, its extensions started).
"""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path
from typing import Any

from harness import FUNCTIONS, Emulator, EmulatorFactory, clean_env, free_port, request

EXTENSIONS = FUNCTIONS / "extensions"
CODE = EXTENSIONS / "code"
AGENTS = EXTENSIONS / "agents"
# NOTE: a bound, not an expectation: batches go out 25 ms after their first record.
DELIVERY_DEADLINE_S = 10.0


def records(emulator: Emulator) -> list[dict[str, Any]]:
    """Every record the agent's listener received, in arrival order."""
    out: list[dict[str, Any]] = []
    for line in emulator.stdout.lines():
        if line.startswith("TELEMETRY ["):
            out.extend(json.loads(line[len("TELEMETRY ") :]))
    return out


def subscribed(factory: EmulatorFactory, api: str, *args: str) -> Emulator:
    return factory(
        ["--extensions-dir", str(AGENTS), *args, "app.handler"],
        cwd=CODE,
        env=clean_env({"EXT_TELEMETRY": api}),
    )


def invocation_records(emulator: Emulator, rid: str, last: str) -> list[dict[str, Any]]:
    """This invocation's records once `last` arrived for it."""
    emulator.stdout.wait_for(rf'"type": "{last}"', DELIVERY_DEADLINE_S)

    def mine(r: dict[str, Any]) -> bool:
        record = r["record"]
        if isinstance(record, dict):
            return bool(record.get("requestId") == rid)
        return rid in str(record)

    return [r for r in records(emulator) if mine(r)]


def test_telemetry_subscriber_gets_platform_and_function_records_in_order(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = subscribed(emulator_factory, "telemetry")
    answer = emulator.invoke({})
    assert answer.status == 200
    rid = answer.header("x-amzn-RequestId")
    assert rid
    emulator.stdout.wait_for(rf'"requestId": "{rid}", "status": "success"', DELIVERY_DEADLINE_S)
    mine = invocation_records(emulator, rid, "platform.report")
    kinds = [r["type"] for r in mine]
    assert kinds == ["platform.start", "function", "platform.runtimeDone", "platform.report"]
    assert mine[1]["record"] == f"hello from handler {rid}"
    assert mine[0]["record"]["version"] == "$LATEST"
    assert mine[2]["record"]["status"] == "success"
    report = mine[3]["record"]
    assert report["status"] == "success"
    metrics = report["metrics"]
    assert metrics["durationMs"] >= 0
    assert metrics["maxMemoryUsedMB"] > 0
    assert metrics["memorySizeMB"] == 3008
    assert metrics["billedDurationMs"] >= metrics["durationMs"]
    for r in mine:
        assert r["time"].endswith("Z")
    # The init phase recorded before the agent subscribed is delivered too.
    init = [r["type"] for r in records(emulator) if r["type"].startswith("platform.init")]
    assert init[:3] == ["platform.initStart", "platform.initRuntimeDone", "platform.initReport"]


def test_logs_api_subscriber_gets_the_older_shapes(emulator_factory: EmulatorFactory) -> None:
    emulator = subscribed(emulator_factory, "logs")
    answer = emulator.invoke({})
    rid = answer.header("x-amzn-RequestId")
    assert rid
    mine = invocation_records(emulator, rid, "platform.report")
    assert [r["type"] for r in mine] == [
        "platform.start",
        "function",
        "platform.end",
        "platform.report",
    ]
    assert mine[0]["record"] == {"requestId": rid, "version": "$LATEST"}
    assert mine[2]["record"] == {"requestId": rid}
    assert set(mine[3]["record"]["metrics"]) >= {"durationMs", "maxMemoryUsedMB"}


def test_invalid_subscriptions_answer_validation_errors(emulator_factory: EmulatorFactory) -> None:
    port = free_port()
    emulator = subscribed(
        emulator_factory, "telemetry", "--runtime-api-address", f"127.0.0.1:{port}"
    )
    assert emulator.invoke({}).status == 200
    agent = next(
        json.loads(line[4:])["id"]
        for line in emulator.stdout.lines()
        if line.startswith("EXT {") and '"kind": "registered"' in line
    )
    bad = {
        "schemaVersion": "2022-12-13",
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:1234/"},
        "types": ["platform"],
        "buffering": {"maxItems": 5},
    }
    answer = request(
        "127.0.0.1",
        port,
        "PUT",
        "/2022-07-01/telemetry",
        body=json.dumps(bad).encode(),
        headers={"Lambda-Extension-Identifier": agent},
    )
    assert answer.status == 400
    assert answer.json() == {
        "errorMessage": "buffering.maxItems must be between 1000 and 10000",
        "errorType": "ValidationError",
    }


def make_layer(path: Path) -> Path:
    """A layer zip: python/mylib.py and an executable extensions/layer-agent."""
    agent = EXTENSIONS / "layer" / "layer-agent"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("python/mylib.py", 'VALUE = "from the layer"\n')
        info = zipfile.ZipInfo("extensions/layer-agent")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, agent.read_bytes())
    return path


def test_layer_zip_is_importable_and_its_extension_starts(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    layer = make_layer(tmp_path / "layer.zip")
    emulator = emulator_factory(["--layer", str(layer), "layered.handler"], cwd=CODE)
    answer = emulator.invoke({})
    assert answer.status == 200, answer.body
    result = answer.json()
    assert result["value"] == "from the layer"
    assert result["file"].endswith("python/mylib.py")
    started = emulator.stdout.wait_for(r"^layer-agent started as (.*)$")
    if "mount namespace" in emulator.stderr.text():
        # Isolated environments see the layers at /opt, as on AWS.
        assert result["file"] == "/opt/python/mylib.py"
        assert result["opt"] == ["extensions", "python"]
        assert started.group(1) == "/opt/extensions/layer-agent"


def test_the_extension_example_reports_each_invocation(emulator_factory: EmulatorFactory) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "extension"
    emulator = emulator_factory(
        [
            "--code-dir",
            str(example),
            "--extensions-dir",
            str(example / "extensions"),
            "app.handler",
        ],
        cwd=example,
    )
    answer = emulator.invoke({})
    assert answer.json() == {"ok": True}
    rid = answer.header("x-amzn-RequestId")
    emulator.stdout.wait_for(
        rf"^request-logger: {rid} success in [0-9.]+ ms, [0-9]+ MB$", DELIVERY_DEADLINE_S
    )
