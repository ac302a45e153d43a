"""Control-plane calls on one function run one at a time and lose nothing; calls on different
functions do not wait for each other (docs/reference.md §13)."""

from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from control_plane_support import client, create, state_args, zip_bytes
from harness import EmulatorFactory

SLOW_INIT = "import time\ntime.sleep(2.0)\n\ndef handler(event, context):\n    return 'ready'\n"


def test_concurrent_changes_of_one_function_are_all_kept(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    lam = client(emulator_factory(state_args(state_dir)))
    arn = create(lam, "fn")["FunctionArn"]

    def tag(i: int) -> None:
        lam.tag_resource(Resource=arn, Tags={f"k{i}": str(i)})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(tag, range(40)))
    assert lam.list_tags(Resource=arn)["Tags"] == {f"k{i}": str(i) for i in range(40)}


def test_a_slow_call_on_one_function_does_not_hold_up_another(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "slow", zip_bytes({"app.py": SLOW_INIT}), Timeout=30)
    create(lam, "quick")
    lam.publish_version(FunctionName="slow")
    slow_done: list[float] = []

    def provision() -> None:
        # Answered once its environment has initialised: 2 s of module-level sleep.
        client(emu).put_provisioned_concurrency_config(
            FunctionName="slow", Qualifier="1", ProvisionedConcurrentExecutions=1
        )
        slow_done.append(time.monotonic())

    worker = threading.Thread(target=provision)
    started = time.monotonic()
    worker.start()
    answered: list[float] = []
    url = emu.url + "/2015-03-31/functions/quick/configuration"
    while worker.is_alive() and time.monotonic() - started < 60:
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200
        answered.append(time.monotonic())
        time.sleep(0.02)
    worker.join(timeout=60)
    assert slow_done, "PutProvisionedConcurrencyConfig did not answer"
    during = [t for t in answered if t < slow_done[0]]
    # One lock for every function would have let at most the first of these through.
    assert len(during) >= 5, (len(during), slow_done[0] - started)
