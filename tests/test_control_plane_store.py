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


def test_provisioned_concurrency_that_no_longer_fits_is_served_on_demand_after_a_restart(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir, "--max-environments", "4"))
    lam = client(first)
    create(lam, "provisioned", python_zip("v1"))
    create(lam, "plain", python_zip("plain"))
    lam.publish_version(FunctionName="provisioned")
    lam.create_alias(FunctionName="provisioned", Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(
        FunctionName="provisioned", Qualifier="live", ProvisionedConcurrentExecutions=3
    )
    assert first.stop() == 0

    # Three provisioned environments cannot be made under a limit of two.
    second = emulator_factory(state_args(state_dir, "--max-environments", "2"))
    assert "2 function(s) served again" in second.stderr_text()
    lam = client(second)
    config = lam.get_provisioned_concurrency_config(FunctionName="provisioned", Qualifier="live")
    assert config["Status"] == "FAILED"
    assert "served on demand" in config["StatusReason"]
    # The version, its alias and every other function are served, on demand, with the whole
    # limit: what the failed provisioning made was given back.
    payload, answer = invoke(lam, "provisioned", Qualifier="live")
    assert (payload["tag"], answer["ExecutedVersion"]) == ("v1", "1")
    assert invoke(lam, "plain")[0]["tag"] == "plain"
    # Released, the configuration can be asked for again within the limit.
    lam.delete_provisioned_concurrency_config(FunctionName="provisioned", Qualifier="live")
    lam.put_provisioned_concurrency_config(
        FunctionName="provisioned", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    config = lam.get_provisioned_concurrency_config(FunctionName="provisioned", Qualifier="live")
    assert config["Status"] == "READY"


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


def test_a_state_dir_serves_one_emulator_and_unfinished_uploads_are_swept(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir))
    create(client(first), "kept")
    # A second emulator over the same directory would serve from its own view of it.
    second = emulator_factory(state_args(state_dir), wait=False)
    assert second.process.wait(10) == 1  # as for a port in use
    refusal = second.stderr.wait_for(r"^lambda-rie: ").string
    assert f"state directory {state_dir} is in use by another lambda-rie" in refusal
    assert invoke(client(first), "kept")[0]["tag"] == "v1"
    first.process.kill()  # as SIGKILL mid-upload would leave them:
    first.process.wait(10)
    half_unpacked = state_dir / "code" / f"{'0' * 64}.tmp-1"
    (half_unpacked / "lib").mkdir(parents=True)
    (half_unpacked / "lib" / "x.py").write_text("x")
    half_written = state_dir / "blobs" / f"{'0' * 64}.tmp-2"
    half_written.write_bytes(b"PK")

    third = emulator_factory(state_args(state_dir))
    assert "removed 2 unfinished code write(s)" in third.stderr_text()
    assert not half_unpacked.exists()
    assert not half_written.exists()
    assert invoke(client(third), "kept")[0]["tag"] == "v1"
    kept = sorted(p.stem for p in (state_dir / "blobs").iterdir())
    assert len(kept) == 1
    assert sorted(p.name for p in (state_dir / "code").iterdir()) == kept
