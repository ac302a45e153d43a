"""The function under benchmark: how lambda-rie is started for it and where it is invoked."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# The HANDLER pattern of the command line (section 1 of the behaviour contract).
HANDLER = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*([./][A-Za-z_][A-Za-z0-9_]*)*\.[A-Za-z_][A-Za-z0-9_]*$"
)
DEFAULT_FUNCTION = "function"
# lambda-rie's default cap on execution environments: 4 x CPUs, at least 4.
DEFAULT_MAX_ENVIRONMENTS = max(4, 4 * (os.cpu_count() or 1))
MAX_ENVIRONMENTS = 1000


@dataclass(frozen=True)
class BenchTarget:
    """Either a HANDLER served by the built-in runtime or one function of a lambda-rie.toml."""

    #: What the table and the JSON call the function (the HANDLER or the function name).
    label: str
    #: Arguments of lambda-rie that select the function.
    selection: tuple[str, ...]
    #: The `{function}` of `/2015-03-31/functions/{function}/invocations`.
    function: str
    #: True when the function's own memory setting applies (a config file with no `--memory`).
    configured_memory: bool = False

    @classmethod
    def handler(cls, spec: str) -> BenchTarget:
        """`app.handler` (code in the current directory) or `path/to/code/app.handler`."""
        directory, _, handler = spec.rpartition("/")
        if not HANDLER.match(spec) or not handler:
            raise ValueError(f"HANDLER {spec!r} is not of the form [DIR/]module.function")
        code_dir = Path(directory or ".").resolve()
        if not code_dir.is_dir():
            raise ValueError(f"HANDLER {spec!r}: no directory {code_dir}")
        return cls(spec, ("--code-dir", str(code_dir), handler), DEFAULT_FUNCTION)

    @classmethod
    def config(cls, path: str, function: str, configured_memory: bool) -> BenchTarget:
        """Function `function` of the configuration file `path`."""
        if not Path(path).is_file():
            raise ValueError(f"--config {path}: no such file")
        selection = ("--config", str(Path(path).resolve()))
        return cls(function, selection, function, configured_memory)

    @property
    def invoke_path(self) -> str:
        """The Invoke API path of the function."""
        return f"/2015-03-31/functions/{self.function}/invocations"

    def argv(
        self, memory: Optional[int], cpu_by_memory: bool, concurrency: int, snapstart: bool = False
    ) -> list[str]:
        """The command line of one lambda-rie serving the function at `memory` MB."""
        argv = [sys.executable, "-m", "lambda_rie"]
        argv += ["--runtime-interface-emulator-address", "127.0.0.1:0"]
        argv += ["--runtime-api-address", "127.0.0.1:0", "--log-level", "info"]
        if memory is not None:
            argv += ["--memory", str(memory)]
        if cpu_by_memory:
            argv.append("--cpu-by-memory")
        if snapstart:
            argv.append("--snapstart")
        if concurrency > DEFAULT_MAX_ENVIRONMENTS:
            # NOTE: headroom above the client count, so that an environment that has answered
            # but not yet asked for its next event never turns a warm invoke into a 429.
            argv += ["--max-environments", str(min(MAX_ENVIRONMENTS, 2 * concurrency))]
        return [*argv, *self.selection]
