"""A/B of the built-in runtime's init: spawn to its first `GET /next`, for two or more copies
of the `lambda_rie` package, in alternating rounds (so that the machine's drift hits them
alike). Each ROOT is a directory holding a `lambda_rie` package (a copy of `python/` with one
change applied); the handler is imported from CODE_DIR (default `examples/bench`).

    cp -a python /tmp/a && cp -a python /tmp/b && <change /tmp/b/lambda_rie/...>
    python3 docs/profile/init_ab.py echo.handler 60 /tmp/a /tmp/b

Copy with `cp -a` (or run `python -m compileall` on each root): a `.py` newer than its `.pyc`
is compiled again at every start when bytecode is not written, which would swamp the figures.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("PYTHON", str(ROOT / ".venv" / "bin" / "python"))
LAUNCH = "import sys; from lambda_rie.runtime.bootstrap import main; main(sys.argv)"


def first_next_ms(listener: socket.socket, root: str, handler: str, code_dir: str) -> float:
    """Milliseconds from spawning the runtime to receiving its first request."""
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    env = dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=address,
        PYTHONPATH=root,
        LAMBDA_TASK_ROOT=code_dir,
        _HANDLER=handler,
    )
    started = time.perf_counter()
    runtime = subprocess.Popen([PYTHON, "-c", LAUNCH, handler], env=env, cwd=code_dir)
    conn, _ = listener.accept()
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(4096)
    elapsed = (time.perf_counter() - started) * 1000
    runtime.kill()
    runtime.wait()
    conn.close()
    if b"/next" not in head:
        raise SystemExit(f"unexpected first request from {root}: {head[:80]!r}")
    return elapsed


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    handler, rounds, roots = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    code_dir = os.environ.get("CODE_DIR", str(ROOT / "examples" / "bench"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    samples: dict[str, list[float]] = {root: [] for root in roots}
    for round_index in range(rounds + 1):
        for root in roots:
            ms = first_next_ms(listener, root, handler, code_dir)
            if round_index:  # the first round warms the page cache
                samples[root].append(ms)
    for root in roots:
        print(f"{statistics.median(samples[root]):8.2f} ms  median of {rounds}  {root}")


if __name__ == "__main__":
    main()
