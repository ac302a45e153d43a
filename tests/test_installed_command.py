"""The `lambda-rie` command the wheel installs (docs/reference.md §1): the native binary itself,
serving HANDLERs with the interpreter of the environment it is installed in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness import FUNCTIONS, INSTALLED_COMMAND, PYTHON_ENTRY, EmulatorFactory, clean_env

ELF_MAGIC = b"\x7fELF"
RUN_DEADLINE_S = 20.0
INVOKE_DEADLINE_S = 30.0


def test_the_installed_command_is_the_native_binary_not_a_script() -> None:
    with INSTALLED_COMMAND.open("rb") as command:
        assert command.read(4) == ELF_MAGIC


def test_the_installed_command_and_the_python_entry_are_the_same_version() -> None:
    versions = [
        subprocess.run(
            [*argv, "--version"],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=RUN_DEADLINE_S,
            check=True,
        ).stdout
        for argv in ([str(INSTALLED_COMMAND)], PYTHON_ENTRY)
    ]
    assert versions[0].startswith("lambda-rie ")
    assert versions[0] == versions[1]


def test_the_installed_command_runs_handlers_with_the_interpreter_beside_it() -> None:
    # A PATH without the virtualenv: the interpreter is the one in the binary's own directory,
    # with the environment's packages, not the first `python3` on PATH.
    factory = EmulatorFactory([str(INSTALLED_COMMAND)])
    try:
        emulator = factory(
            ["--code-dir", str(FUNCTIONS / "isolation"), "isolation_handlers.handler"],
            cwd=Path("/"),
            env=clean_env({"PATH": "/usr/bin:/bin"}),
        )
        answer = emulator.invoke({"action": "interpreter"}, timeout=INVOKE_DEADLINE_S)
        assert answer.status == 200, answer.body
        used = answer.json()
        assert used["prefix"] == sys.prefix
        assert Path(used["executable"]).parent == INSTALLED_COMMAND.parent
    finally:
        factory.close()
