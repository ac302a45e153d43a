"""`python -m lambda_rie`: argument parsing and serving live in the Rust core."""

from __future__ import annotations

import signal
import sys


def main() -> None:
    """Run the command line with this process's argv and exit with its code."""
    argv = sys.argv[1:]
    if argv[:1] == ["bench"]:
        from lambda_rie.bench import main as bench

        sys.exit(bench(argv[1:]))
    from lambda_rie._core import cli_main

    # NOTE: the core handles SIGINT itself (graceful shutdown); Python's own handler would
    # raise KeyboardInterrupt after the core has already shut down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    sys.exit(cli_main(["lambda-rie", *argv], sys.executable, version))


if __name__ == "__main__":
    main()
