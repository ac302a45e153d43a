"""Event source mappings when things go wrong or change around them: the AWS endpoint going
away and coming back, a restart with `--state-dir`, mappings declared in a SAM template, the
mappings' metrics, and `MaximumConcurrency`.

NOTE: one face (the native binary), as in test_event_source_sqs.py.

NOTE: Kinesis resharding is not tested here. After SplitShard, moto server (5.2) keeps the
parent's records and the records put later in the closed parent, leaves the children empty,
and never ends the parent's iterators: a child read after its parent cannot be seen.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_support import (
    FUNCTIONS,
    MOTO_ACCOUNT,
    MotoServer,
    queue_arn,
    read_batches,
    records_log,
    wait_for,
)
from harness import Emulator, EmulatorFactory, free_port, lambda_client

METRICS_PATH = "/_lambda-rie/metrics"


class Proxy:
    """A TCP proxy on 127.0.0.1 to another local port that can go away (refusing connections
    and cutting the open ones) and come back on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.start()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                # NOTE: a connection made while `cut` ran goes as the others did (else its
                # sockets would be left to the garbage collector, unclosed).
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Stop listening (connections are refused) and cut every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            # NOTE: shutdown wakes the thread blocked in accept(); close alone does not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            cut, self._open = self._open, []
        for s in cut:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.cut()


def serve(
    factory: EmulatorFactory, moto: MotoServer, log: Path, *args: str, **env: str
) -> tuple[Emulator, Any]:
    """Serve `app.record` with the moto server as AWS; the emulator and a Lambda client."""
    # NOTE: AWS's default timeout (3 s): a queue's visibility timeout must cover it.
    emu = factory(
        ["--code-dir", str(FUNCTIONS), "--timeout", "3", *args, "app.record"],
        env=moto.env({"RECORDS_LOG": str(log), **env}),
    )
    return emu, lambda_client(emu.url)


def new_queue(moto: MotoServer, name: str, **attributes: str) -> tuple[str, str]:
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30", **attributes})[
        "QueueUrl"
    ]
    return url, queue_arn(sqs, url)


def send(moto: MotoServer, url: str, bodies: list[str]) -> None:
    sqs = moto.client("sqs")
    for i in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[i : i + 10])]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def queue_counts(moto: MotoServer, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue."""
    a = moto.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def bodies(log: Path) -> list[str]:
    """The bodies of the SQS messages handled, in order."""
    return [r["body"] for b in read_batches(log) for r in b["records"] if "body" in r]


def kinesis_data(log: Path) -> list[Any]:
    """The data of the Kinesis records handled, decoded, in order."""
    return [
        json.loads(base64.b64decode(r["kinesis"]["data"]))
        for b in read_batches(log)
        for r in b["records"]
        if "kinesis" in r
    ]


def new_stream(moto: MotoServer, name: str) -> str:
    kinesis = moto.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def put(moto: MotoServer, stream: str, data: list[Any]) -> None:
    kinesis = moto.client("kinesis")
    for d in data:
        kinesis.put_record(StreamName=stream, PartitionKey="k", Data=json.dumps(d).encode())


def absorb_dead_receive(moto: MotoServer, url: str) -> None:
    """Feed one decoy message to a ReceiveMessage whose connection died.

    NOTE: moto server goes on long-polling (up to 20 s) for a client that went away, and the
    messages it takes then stay invisible for the visibility timeout, as with any receive whose
    answer is lost. The decoy ends that receive, so the messages the test counts are not taken.
    """
    send(moto, url, ["decoy"])
    with contextlib.suppress(AssertionError):
        wait_for(lambda: queue_counts(moto, url)[1] == 1, 2, "the decoy taken")


def metrics(emu: Emulator) -> str:
    answer = emu.request("GET", METRICS_PATH)
    assert answer.status == 200
    return answer.body.decode()


def metric(text: str, name: str, uuid: str) -> int:
    found = re.search(
        rf'^lambda_rie_event_source_{name}\{{uuid="{uuid}"\}} (\d+)$', text, re.MULTILINE
    )
    assert found, f"{name} of {uuid} in:\n{text}"
    return int(found.group(1))


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[Proxy]:
    p = Proxy(moto.port)
    yield p
    p.close()


def last_result(lam: Any, uuid: str) -> str:
    result: str = lam.get_event_source_mapping(UUID=uuid).get("LastProcessingResult", "")
    return result


def test_the_endpoint_going_away_and_back_loses_and_repeats_nothing(
    factory: EmulatorFactory, moto: MotoServer, proxy: Proxy
) -> None:
    log = records_log()
    emu, lam = serve(factory, moto, log, "--aws-endpoint-url", proxy.url)
    url, arn = new_queue(moto, "flaky")
    late_url, late_arn = new_queue(moto, "created-in-the-outage")
    uuid = lam.create_event_source_mapping(
        FunctionName="function", EventSourceArn=arn, BatchSize=5
    )["UUID"]
    stream_uuid = lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=new_stream(moto, "flaky-stream"),
        StartingPosition="TRIM_HORIZON",
    )["UUID"]
    before = [f"before {n}" for n in range(20)]
    send(moto, url, before)
    put(moto, "flaky-stream", list(range(10)))
    wait_for(lambda: len(bodies(log)) >= 20, 30, "the first 20 messages handled")
    wait_for(lambda: len(kinesis_data(log)) >= 10, 30, "the first 10 records handled")
    wait_for(lambda: queue_counts(moto, url) == (0, 0), 10, "the first 20 deleted")
    time.sleep(0.5)  # the stream's checkpoint is written once the function has answered

    proxy.cut()
    cut_at = time.monotonic()
    absorb_dead_receive(moto, url)
    during = [f"during {n}" for n in range(20)]
    send(moto, url, during)
    put(moto, "flaky-stream", list(range(10, 20)))
    wait_for(
        lambda: all(last_result(lam, m).startswith("PROBLEM: ") for m in (uuid, stream_uuid)),
        5,
        "both mappings show the unreachable endpoint",
    )
    late = lam.create_event_source_mapping(FunctionName="function", EventSourceArn=late_arn)
    assert late["ResponseMetadata"]["HTTPStatusCode"] == 202, "accepted; the poller retries"
    send(moto, late_url, ["late"])
    answer = lam.invoke(FunctionName="function", Payload=b'{"during": "outage"}')
    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"].read()) == {}
    time.sleep(max(0.0, 5 - (time.monotonic() - cut_at)))
    assert [b for b in bodies(log) if b.startswith("during")] == [], "the proxy was cut"
    assert len(kinesis_data(log)) == 10, "the proxy was cut"
    assert emu.process.poll() is None
    proxy.start()

    def everything() -> bool:
        got = bodies(log)
        done = sum(b.startswith("during") for b in got) >= 20 and "late" in got
        return done and len(kinesis_data(log)) >= 20

    wait_for(everything, 60, "what was sent during the outage handled")
    time.sleep(1)
    got = [b for b in bodies(log) if b != "decoy"]
    assert sorted(got) == sorted([*before, *during, "late"]), "every message exactly once"
    assert bodies(log).count("decoy") <= 1
    assert kinesis_data(log) == list(range(20)), "every record once, in order"
    wait_for(
        lambda: last_result(lam, uuid) == last_result(lam, stream_uuid) == "OK",
        10,
        "both mappings OK again",
    )
    text = metrics(emu)
    assert metric(text, "poll_errors_total", uuid) > 0
    assert metric(text, "poll_errors_total", stream_uuid) > 0


def test_an_sqs_mapping_survives_a_restart_with_the_state_dir(
    factory: EmulatorFactory, moto: MotoServer, state_dir: Path
) -> None:
    log = records_log()
    first, lam = serve(factory, moto, log, "--state-dir", str(state_dir))
    url, arn = new_queue(moto, "kept")
    created = lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        BatchSize=7,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    updated = lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=8)
    assert updated["BatchSize"] == 8
    send(moto, url, [f"first {n}" for n in range(3)])
    wait_for(lambda: len(bodies(log)) >= 3, 30, "the messages sent before the restart")
    assert first.stop() == 0
    absorb_dead_receive(moto, url)

    second, lam = serve(factory, moto, log, "--state-dir", str(state_dir))
    [kept] = lam.list_event_source_mappings()["EventSourceMappings"]
    for key in (
        "UUID", "EventSourceArn", "FunctionArn", "BatchSize", "MaximumBatchingWindowInSeconds",
        "FunctionResponseTypes", "EventSourceMappingArn",
    ):  # fmt: skip
        assert kept[key] == updated[key], key
    assert kept["BatchSize"] == 8
    assert kept["State"] == "Enabled"
    send(moto, url, [f"second {n}" for n in range(3)])
    wait_for(
        lambda: sum(b.startswith("second") for b in bodies(log)) >= 3,
        30,
        "the messages sent after the restart",
    )
    time.sleep(1)
    got = [b for b in bodies(log) if b != "decoy"]
    assert sorted(got) == [f"first {n}" for n in range(3)] + [f"second {n}" for n in range(3)]
    assert second.process.poll() is None


def test_a_kinesis_checkpoint_survives_a_restart_with_the_state_dir(
    factory: EmulatorFactory, moto: MotoServer, state_dir: Path
) -> None:
    log = records_log()
    first, lam = serve(factory, moto, log, "--state-dir", str(state_dir))
    arn = new_stream(moto, "kept-stream")
    uuid = lam.create_event_source_mapping(
        FunctionName="function", EventSourceArn=arn, StartingPosition="TRIM_HORIZON"
    )["UUID"]
    put(moto, "kept-stream", [f"before {n}" for n in range(5)])
    wait_for(lambda: len(kinesis_data(log)) >= 5, 30, "the records put before the restart")
    time.sleep(1)  # the checkpoint is written once the function has answered
    assert first.stop() == 0

    _, lam = serve(factory, moto, log, "--state-dir", str(state_dir))
    assert [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]] == [uuid]
    put(moto, "kept-stream", [f"after {n}" for n in range(5)])
    wait_for(lambda: len(kinesis_data(log)) >= 10, 30, "the records put after the restart")
    time.sleep(2)
    expected = [f"before {n}" for n in range(5)] + [f"after {n}" for n in range(5)]
    assert kinesis_data(log) == expected, "each record once: the checkpoint was kept"


def test_a_sam_template_sqs_event_is_a_mapping_that_delivers(
    factory: EmulatorFactory, moto: MotoServer, tmp_path: Path
) -> None:
    log = records_log()
    url, arn = new_queue(moto, "sam-queue")
    literal = f"arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:sam-queue"
    assert arn == literal
    template = tmp_path / "template.yaml"
    template.write_text(
        f"""
Transform: AWS::Serverless-2016-10-31
Resources:
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: {FUNCTIONS}
      Handler: app.record
      Timeout: 3
      Environment:
        Variables:
          RECORDS_LOG: {log}
      Events:
        Q:
          Type: SQS
          Properties:
            Queue: {literal}
            BatchSize: 5
"""
    )
    emu = factory(["--template", str(template)], env=moto.env())
    lam = lambda_client(emu.url)
    [mapping] = lam.list_event_source_mappings(FunctionName="Consumer")["EventSourceMappings"]
    assert mapping["EventSourceArn"] == literal
    assert mapping["BatchSize"] == 5
    assert mapping["State"] == "Enabled"
    assert mapping["FunctionArn"].endswith(":function:Consumer")
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["BatchSize"] == 5
    sent = [f"sam {n}" for n in range(12)]
    send(moto, url, sent)
    wait_for(lambda: len(bodies(log)) >= 12, 30, "the 12 messages")
    time.sleep(1)
    assert sorted(bodies(log)) == sorted(sent)
    assert all(1 <= len(b["records"]) <= 5 for b in read_batches(log))
    wait_for(lambda: queue_counts(moto, url) == (0, 0), 10, "the queue is empty")


def test_the_metrics_count_the_batches_and_records_handled(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    emu, lam = serve(factory, moto, log)
    url, arn = new_queue(moto, "counted")
    uuid = lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        BatchSize=4,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]},
    )["UUID"]
    send(moto, url, [json.dumps({"keep": n % 5 != 0, "n": n}) for n in range(25)])
    wait_for(lambda: len(bodies(log)) >= 20, 30, "the 20 kept messages")
    wait_for(lambda: queue_counts(moto, url) == (0, 0), 10, "the queue is empty")
    time.sleep(0.5)
    batches = read_batches(log)
    text = metrics(emu)
    assert "# TYPE lambda_rie_event_source_records_total counter" in text.splitlines()
    assert "# TYPE lambda_rie_event_source_batches_total counter" in text.splitlines()
    assert metric(text, "batches_total", uuid) == len(batches)
    assert metric(text, "records_total", uuid) == sum(len(b["records"]) for b in batches) == 20
    assert metric(text, "filtered_total", uuid) == 5
    assert metric(text, "failures_total", uuid) == 0


def test_maximum_concurrency_caps_the_batches_in_flight(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, log, "--max-environments", "8", HOLD_S="0.5")
    url, arn = new_queue(moto, "capped")
    uuid = lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        BatchSize=1,
        ScalingConfig={"MaximumConcurrency": 2},
    )["UUID"]
    assert lam.get_event_source_mapping(UUID=uuid)["ScalingConfig"] == {"MaximumConcurrency": 2}
    send(moto, url, [f"c {n}" for n in range(10)])
    wait_for(lambda: len(bodies(log)) >= 10, 60, "the 10 messages")
    assert sorted(bodies(log)) == sorted(f"c {n}" for n in range(10))
    edges = sorted(
        [(b["start"], 1) for b in read_batches(log)] + [(b["end"], -1) for b in read_batches(log)],
        key=lambda e: (e[0], e[1]),
    )
    in_flight, most = 0, 0
    for _, step in edges:
        in_flight += step
        most = max(most, in_flight)
    assert most == 2, f"at most 2 batches at once, and 2 at some point (saw {most})"
