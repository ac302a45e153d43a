"""A moto server started by the tests (127.0.0.1 only) and boto3 clients of it."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import boto3

from harness import VENV_BIN, clean_env, free_port

MOTO_ACCOUNT = "123456789012"
FUNCTIONS = Path(__file__).parent / "functions" / "event_sources"
REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


class MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT`, stopped on close."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The emulator's environment: dummy credentials and this server as every endpoint."""
        return clean_env({**CREDENTIALS, "AWS_ENDPOINT_URL": self.url, **(extra or {})})

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def moto_server() -> Iterator[MotoServer]:
    """Fixture body: one moto server for the module."""
    server = MotoServer()
    try:
        yield server
    finally:
        server.close()


def queue_arn(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


# NOTE: handlers write outside /tmp, which is private to each execution environment.
LOGS = Path(__file__).resolve().parent.parent / "target" / "test-records"


def records_log() -> Path:
    """A fresh JSON-lines file handlers can write to and the test can read."""
    LOGS.mkdir(parents=True, exist_ok=True)
    LOGS.chmod(0o777)
    return LOGS / f"{uuid.uuid4()}.jsonl"


def read_batches(log: Path) -> list[dict[str, Any]]:
    """The batches a handler logged (see tests/functions/event_sources/app.py)."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` every 0.1 s until it holds; fail after `timeout` s saying `what`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)
