"""PublishLayerVersion and the rest of the layer operations, and functions using the layers
published here (merged at /opt, /opt/python on the Python path)."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from control_plane_support import (
    TIMESTAMP,
    client,
    code_sha256,
    create,
    error_of,
    invoke,
    state_args,
    zip_bytes,
)
from harness import DEFAULT_ACCOUNT, DEFAULT_REGION, EmulatorFactory

LAYER_ARN = f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:layer:"
USES_LAYER = "import helper\n\ndef handler(event, context):\n    return {'tag': helper.greet()}\n"


def test_a_published_layer_serves_the_functions_that_name_it(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    content = zip_bytes({"python/helper.py": "def greet():\n    return 'from the layer'\n"})
    published = lam.publish_layer_version(
        LayerName="shared",
        Content={"ZipFile": content},
        CompatibleRuntimes=["python3.12"],
        Description="helpers",
    )
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["LayerArn"] == LAYER_ARN + "shared"
    assert published["LayerVersionArn"] == LAYER_ARN + "shared:1"
    assert published["Version"] == 1
    assert published["Content"]["CodeSha256"] == code_sha256(content)
    assert published["Content"]["CodeSize"] == len(content)
    assert TIMESTAMP.match(published["CreatedDate"])
    with urllib.request.urlopen(published["Content"]["Location"], timeout=10) as download:
        assert download.read() == content
    got = lam.get_layer_version(LayerName="shared", VersionNumber=1)
    assert (got["Description"], got["CompatibleRuntimes"]) == ("helpers", ["python3.12"])
    second = lam.publish_layer_version(LayerName="shared", Content={"ZipFile": content})
    assert second["Version"] == 2
    versions = lam.list_layer_versions(LayerName="shared")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    layers = lam.list_layers()["Layers"]
    assert [
        (layer["LayerName"], layer["LatestMatchingVersion"]["Version"]) for layer in layers
    ] == [("shared", 2)]

    arn = LAYER_ARN + "shared:1"
    created = create(lam, "layered", zip_bytes({"app.py": USES_LAYER}), Layers=[arn])
    assert created["Layers"] == [{"Arn": arn, "CodeSize": len(content)}]
    assert invoke(lam, "layered")[0] == {"tag": "from the layer"}

    lam.delete_layer_version(LayerName="shared", VersionNumber=1)
    with pytest.raises(ClientError) as gone:
        lam.get_layer_version(LayerName="shared", VersionNumber=1)
    assert error_of(gone.value)[:2] == (404, "ResourceNotFoundException")
    lam.update_function_code(FunctionName="layered", ZipFile=zip_bytes({"app.py": USES_LAYER}))
    assert invoke(lam, "layered")[0] == {"tag": "from the layer"}
    with pytest.raises(ClientError) as missing:
        create(lam, "nolayer", Layers=[LAYER_ARN + "shared:1"])
    assert error_of(missing.value) == (
        400,
        "InvalidParameterValueException",
        f"Layer version {LAYER_ARN}shared:1 does not exist.",
    )
