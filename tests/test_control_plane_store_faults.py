"""The control plane's store when it refuses a write, holds what the command line also
defines, holds code nothing uses any more, or holds a document of another shape."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from control_plane_support import (
    client,
    code_sha256,
    create,
    error_of,
    invoke,
    python_zip,
    state_args,
)
from harness import FUNCTIONS, EmulatorFactory

DATABASE = "lambda-rie.sqlite3"


@contextmanager
def write_locked(state_dir: Path) -> Iterator[None]:
    """Another process's write transaction on the store (SQLite answers `database is locked`
    once lambda-rie's 5 s wait for it is over)."""
    holder = sqlite3.connect(state_dir / DATABASE, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def refused(call: object) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as error:
        call()  # type: ignore[operator]
    return error_of(error.value)


def test_a_write_the_store_refuses_changes_nothing_that_runs(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "f", python_zip("old"), Environment={"Variables": {"COLOR": "red"}})
    assert invoke(lam, "f")[0]["tag"] == "old"
    with write_locked(state_dir):
        for call in [
            lambda: lam.update_function_code(FunctionName="f", ZipFile=python_zip("new")),
            lambda: lam.update_function_configuration(
                FunctionName="f", Environment={"Variables": {"COLOR": "blue"}}
            ),
            lambda: lam.publish_version(FunctionName="f"),
            lambda: create(lam, "g"),
        ]:
            status, code, message = refused(call)
            assert (status, code) == (500, "ServiceException")
            assert "database is locked" in message
    # What runs is what the store holds: the old code and configuration, no version, no g.
    payload, _ = invoke(lam, "f")
    assert (payload["tag"], payload["color"]) == ("old", "red")
    assert lam.get_function(FunctionName="f")["Configuration"]["CodeSha256"] == code_sha256(
        python_zip("old")
    )
    versions = lam.list_versions_by_function(FunctionName="f")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]
    assert refused(lambda: invoke(lam, "f", Qualifier="1"))[:2] == (
        404,
        "ResourceNotFoundException",
    )
    assert refused(lambda: lam.get_function(FunctionName="g"))[0] == 404
    # Once the store takes writes again, the same calls go through.
    create(lam, "g", python_zip("g"))
    assert invoke(lam, "g")[0]["tag"] == "g"
    lam.update_function_code(FunctionName="f", ZipFile=python_zip("new"))
    assert invoke(lam, "f")[0]["tag"] == "new"


def test_a_stored_function_the_command_line_also_defines_is_kept_and_left_alone(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir))
    create(client(first), "clash", python_zip("stored"))
    assert first.stop() == 0

    cli = ["--function-name", "clash", "app.handler"]
    second = emulator_factory(state_args(state_dir, *cli), cwd=FUNCTIONS)
    assert "function clash of the state directory is kept but not served" in (second.stderr_text())
    lam = client(second)
    # The command line's function is the one served, described and listed, and it cannot be
    # changed through the API; the stored one is not touched.
    assert invoke(lam, "clash", {"echo": 1})[0] == {"echo": 1}
    assert lam.get_function(FunctionName="clash")["Configuration"]["Handler"] == "app.handler"
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["clash"]
    for call in [
        lambda: lam.update_function_code(FunctionName="clash", ZipFile=python_zip("api")),
        lambda: lam.delete_function(FunctionName="clash"),
    ]:
        status, code, message = refused(call)
        assert (status, code) == (409, "ResourceConflictException")
        assert "served from lambda-rie's command line" in message
    assert invoke(lam, "clash", {"echo": 2})[0] == {"echo": 2}
    assert second.stop() == 0

    third = emulator_factory(state_args(state_dir))
    assert invoke(client(third), "clash")[0]["tag"] == "stored"


def test_code_no_version_uses_is_removed_at_the_next_start(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir))
    lam = client(first)
    create(lam, "kept", python_zip("one"))
    lam.publish_version(FunctionName="kept")
    lam.update_function_code(FunctionName="kept", ZipFile=python_zip("two"))
    lam.update_function_code(FunctionName="kept", ZipFile=python_zip("three"))
    lam.update_function_code(FunctionName="kept", ZipFile=python_zip("dry"), DryRun=True)
    create(lam, "gone", python_zip("gone"))
    lam.delete_function(FunctionName="gone")
    assert first.stop() == 0

    second = emulator_factory(state_args(state_dir))
    assert "the code of 3 digests no longer used was removed" in second.stderr_text()
    lam = client(second)
    blobs = sorted(p.stem for p in (state_dir / "blobs").iterdir())
    # Version 1 keeps "one", $LATEST "three"; "two", "dry" and "gone" are gone.
    used = sorted(
        lam.get_function(FunctionName="kept", Qualifier=q)["Configuration"]["CodeSha256"]
        for q in ["1", "$LATEST"]
    )
    assert used == sorted(code_sha256(python_zip(tag)) for tag in ["one", "three"])
    assert len(blobs) == 2
    assert sorted(p.name for p in (state_dir / "code").iterdir()) == blobs
    assert invoke(lam, "kept", Qualifier="1")[0]["tag"] == "one"
    assert invoke(lam, "kept")[0]["tag"] == "three"


def test_a_stored_document_of_another_shape_stops_the_start_with_the_reason(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    first = emulator_factory(state_args(state_dir))
    create(client(first), "f")
    assert first.stop() == 0
    with sqlite3.connect(state_dir / DATABASE) as db:
        db.execute("UPDATE functions SET doc = '[1, 2]' WHERE name = 'f'")
    second = emulator_factory(state_args(state_dir), wait=False)
    assert second.process.wait(10) == 1
    refusal = second.stderr.wait_for(r"^lambda-rie: ").string
    assert "function f: not a function document: not a JSON object" in refusal
