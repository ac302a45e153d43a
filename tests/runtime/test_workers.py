"""`AWS_LAMBDA_MAX_CONCURRENCY=N`: N worker processes, each with its own init and `/next` loop."""

from __future__ import annotations

import json
import signal

from runtime_harness import FakeRuntimeApi, wait_for

WORKERS = 3


def test_each_worker_inits_and_polls_next(fake_api: FakeRuntimeApi, start_runtime) -> None:
    runtime = start_runtime("counter.handler", AWS_LAMBDA_MAX_CONCURRENCY=str(WORKERS))
    # Every worker waits in its own /next on its own connection.
    assert wait_for(lambda: fake_api.next_calls >= WORKERS)
    assert fake_api.connections >= WORKERS
    for index in range(WORKERS * 4):
        fake_api.push(request_id=f"req-{index}")
    posts = [fake_api.posts.get(timeout=10) for _ in range(WORKERS * 4)]
    assert sorted(post.path for post in posts) == sorted(
        f"/2018-06-01/runtime/invocation/req-{index}/response" for index in range(WORKERS * 4)
    )
    # Module state is per worker: counts restart in each of them.
    counts = sorted(json.loads(post.body)["count"] for post in posts)
    assert counts.count(1) >= 1
    assert sum(counts) <= sum(range(1, WORKERS * 4 + 1))
    runtime.proc.send_signal(signal.SIGTERM)
    assert runtime.proc.wait(timeout=5) == 0


def test_init_error_is_reported_and_every_worker_exits(
    fake_api: FakeRuntimeApi, start_runtime
) -> None:
    runtime = start_runtime("import_error.handler", AWS_LAMBDA_MAX_CONCURRENCY="2")
    post = fake_api.posts.get(timeout=10)
    assert post.path == "/2018-06-01/runtime/init/error"
    assert post.json()["errorType"] == "Runtime.ImportModuleError"
    assert runtime.proc.wait(timeout=10) == 0
