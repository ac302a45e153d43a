"""SnapStart (`--snapstart`): the template process of one function.

It runs init once (imports the handler, runs the `register_before_snapshot` hooks of
`snapshot_restore_py`), then forks one child per execution environment on the emulator's
request. A child enters its environment's sandbox (mount namespace, rlimits; lambda-rie moves it
into the environment's cgroups), takes its
log pipe and variables, gets a fresh random seed, asks the Runtime API for `/restore/next`, runs
the `register_after_restore` hooks and serves invocations. What init opened (sockets, files under
the template's `/tmp`) is the snapshot's: reopen such things in an after-restore hook, as on AWS.

The control socket (a SOCK_SEQPACKET pair, fd 3) carries one JSON message per packet:
template -> emulator `{"ready": true}` or `{"error": ERROR}`, then `{"pid": N}` per fork and
`{"exit": PID, "status": WAIT_STATUS}` when a child ends; emulator -> template a fork request
`{"env": [[K, V], ...], "cwd": DIR, "ns": BOOL, "nofile": N, "address_space": N, "user": [UID,
GID] | null}` with its descriptors (log pipe, then the mount namespace) attached, or a spare
request `{"spare": true}` with one descriptor: the forked child waits on it for the fork request
of the environment that takes it (lambda-rie forks the next environment's runtime ahead of time
and moves it into that environment's cgroups while nothing waits for it).

A restored child is not in its environment's PID namespace (a child of the template, it keeps
the template's): it gets the environment's `/tmp`, cgroups, user and Runtime API, and the
environment's `/proc` shows the environment's other processes, not itself.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from lambda_rie._core import RuntimeClient
from lambda_rie.runtime import errors, logs, reporting, snapstart
from lambda_rie.runtime.forked import run_then_exit
from lambda_rie.runtime.handler import hold_collections, load_handler, release_collections
from lambda_rie.runtime.invoke import serve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

CONTROL_FD = 3
MAX_MESSAGE = 1 << 20
CLONE_NEWNS = 0x00020000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4


def main(argv: list[str]) -> None:
    """Entry point: `python -c "...template.main(sys.argv)" MODULE.FUNCTION`."""
    control = socket.socket(fileno=CONTROL_FD)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    if sys.path and sys.path[0] == "":
        sys.path[0] = os.getcwd()
    if not sys.path or sys.path[0] != task_root:
        sys.path.insert(0, task_root)
    thresholds = hold_collections()
    logs.setup_streams()
    logs.setup()
    handler = _init(argv[1] if len(argv) > 1 else os.environ.get("_HANDLER", ""), control)
    _preload()
    release_collections(thresholds)
    signal.signal(signal.SIGCHLD, lambda *_: _reap(control))
    control.send(b'{"ready": true}')
    while True:
        message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 16)
        if not message:
            sys.exit(0)
        request = json.loads(message)
        sys.stdout.flush()
        sys.stderr.flush()
        template = os.getpid()
        pid = os.fork()
        if pid == 0:
            if request.get("spare"):
                _wait_as_spare(fds[0], control, handler, template)
            _restore(request, fds, control, handler)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())


def _init(handler_name: str, control: socket.socket) -> Any:
    """Import the handler and run the before-snapshot hooks; report a failure and exit."""
    try:
        handler = load_handler(handler_name)
        snapstart.run_before_snapshot()
        return handler
    except Exception as exc:
        error = errors.describe(exc)
    reporting.log_error(error)
    control.send(json.dumps({"error": error}).encode())
    sys.exit(1)


def _preload() -> None:
    """Import now what every restored child needs, so that no child pays for it (the snapshot
    holds it, as on AWS). The runtime's own modules are imported with this one."""
    import ctypes  # noqa: F401
    import random  # noqa: F401
    import resource  # noqa: F401


def _reap(control: socket.socket) -> None:
    """Collect ended children and tell the emulator how each ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        try:
            control.send(json.dumps({"exit": pid, "status": status}).encode())
        except OSError:
            return


def _restore(
    request: dict[str, Any], fds: list[int], control: socket.socket, handler: Any
) -> NoReturn:
    """In the child: become the environment's runtime and serve it; never returns."""

    def body() -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        control.close()
        _become_runtime(request, fds, handler)

    run_then_exit(body)


def _wait_as_spare(
    channel_fd: int, control: socket.socket, handler: Any, template: int
) -> NoReturn:
    """In a spare child: wait on `channel_fd` for the environment that takes this child (the
    same request as a fork's), then restore into it; leave quietly when the emulator drops it
    or the template ends (only the template reports how its children end)."""

    def body() -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        control.close()
        libc = _libc()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != template:
            return
        channel = socket.socket(fileno=channel_fd)
        message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 16)
        channel.close()
        if not message:
            return
        _become_runtime(json.loads(message), fds, handler, libc)

    run_then_exit(body)


def _become_runtime(
    request: dict[str, Any], fds: list[int], handler: Any, libc: Any = None
) -> None:
    """Enter the environment's sandbox, take its variables, run the after-restore hooks and
    serve its invocations."""
    _enter_sandbox(request, fds, libc)
    os.environ.clear()
    os.environ.update(dict(request["env"]))
    import random

    random.seed()
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    snapstart.restore(client, before_snapshot=False)
    serve(client, handler)


def _libc() -> Any:
    """The C library, for the system calls Python has no function for."""
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _enter_sandbox(request: dict[str, Any], fds: list[int], libc: Any = None) -> None:
    """Process group, rlimits, mount namespace, working directory, user, log pipe."""
    import ctypes
    import resource

    libc = libc or _libc()
    os.setpgid(0, 0)
    log_fd = fds[0]
    ns_fd = fds[1] if request.get("ns") and len(fds) > 1 else None
    nofile = int(request.get("nofile", 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if request.get("address_space"):
        limit = int(request["address_space"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if ns_fd is not None:
        if libc.setns(ns_fd, CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "setns into the environment's mount namespace")
        os.close(ns_fd)
    os.chdir(request["cwd"])
    user = request.get("user")
    if user:
        uid, gid = int(user[0]), int(user[1])
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        # NOTE: a change of user makes the process undumpable (its /proc files root's) and
        # clears the parent-death signal; an exec would have undone the first.
        libc.prctl(PR_SET_DUMPABLE, 1)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
