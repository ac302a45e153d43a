"""The control plane's store: functions, versions, aliases and settings survive a restart with
the same --state-dir; without one, the temporary store goes with the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane_support import client, create, invoke, python_zip, state_args, zip_bytes
from harness import FUNCTIONS, EmulatorFactory


def test_everything_created_is_served_again_after_a_restart(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir))
    lam = client(first)
    create(lam, "kept", python_zip("v1"), Tags={"k": "v"})
    lam.publish_version(FunctionName="kept")
    lam.update_function_code(FunctionName="kept", ZipFile=python_zip("v2"))
    lam.create_alias(FunctionName="kept", Name="stable", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=5)
    lam.add_permission(
        FunctionName="kept", StatementId="any", Action="lambda:InvokeFunction", Principal="*"
    )
    helper = zip_bytes({"python/helper.py": "def greet():\n    return 'layer'\n"})
    layer = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": helper})
    uses = "import helper\n\ndef handler(event, context):\n    return {'tag': helper.greet()}\n"
    create(lam, "other", zip_bytes({"app.py": uses}), Layers=[layer["LayerVersionArn"]])
    before = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert first.stop() == 0

    second = emulator_factory(state_args(state_dir))
    assert "2 function(s) served again" in second.stderr_text()
    lam = client(second)
    after = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [(f["FunctionArn"], f["CodeSha256"], f["RevisionId"]) for f in after] == [
        (f["FunctionArn"], f["CodeSha256"], f["RevisionId"]) for f in before
    ]
    assert invoke(lam, "kept")[0]["tag"] == "v2"
    payload, answer = invoke(lam, "kept", Qualifier="stable")
    assert (payload["tag"], answer["ExecutedVersion"]) == ("v1", "1")
    assert invoke(lam, "other")[0]["tag"] == "layer"
    assert [x["LayerName"] for x in lam.list_layers()["Layers"]] == ["lib"]
    got = lam.get_function(FunctionName="kept")
    assert got["Tags"] == {"k": "v"}
    assert got["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert "any" in lam.get_policy(FunctionName="kept")["Policy"]


def test_without_a_state_dir_functions_live_for_the_run_beside_the_configured_one(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = emulator_factory(["app.handler"], cwd=FUNCTIONS)
    lam = client(emu)
    create(lam, "api-made")
    assert invoke(lam, "api-made")[0]["tag"] == "v1"
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["api-made", "test_function"]
    assert lam.get_function(FunctionName="test_function")["Configuration"]["State"] == "Active"
    described = lam.get_function_configuration(FunctionName="function")
    assert described["FunctionName"] == "test_function"
    with pytest.raises(lam.exceptions.ResourceConflictException, match="command line, config"):
        lam.update_function_configuration(FunctionName="test_function", Timeout=5)
