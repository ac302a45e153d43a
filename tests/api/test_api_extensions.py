"""The Python API's `layers`, `extensions_dir` and `snapstart` options of `Function`."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lambda_rie import Emulator, Function, LambdaRieError

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
CODE = FUNCTIONS / "extensions" / "code"


def test_layers_and_extensions_dir(tmp_path: Path) -> None:
    layer = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("python/mylib.py", 'VALUE = "api layer"\n')
    agents = FUNCTIONS / "extensions" / "agents"
    function = Function(
        "layered", handler="layered.handler", code_dir=CODE, layers=[layer], extensions_dir=agents
    )
    with Emulator([function]) as emulator:
        result = emulator.invoke("layered", {})
    assert result.function_error is None, result.payload
    assert json.loads(result.payload)["value"] == "api layer"


def test_snapstart_restores_environments() -> None:
    function = Function(
        "snap", handler="snap.handler", code_dir=FUNCTIONS / "snapstart", snapstart=True
    )
    with Emulator([function]) as emulator:
        result = emulator.invoke("snap", {})
    assert json.loads(result.payload)["init_type"] == "snap-start"
    assert "\tRestore Duration: " in result.log_tail


def test_a_missing_layer_is_refused(tmp_path: Path) -> None:
    function = Function("f", handler="app.handler", code_dir=CODE, layers=[tmp_path / "no.zip"])
    with pytest.raises(LambdaRieError, match=r"layers: .*no\.zip"):
        Emulator([function])
