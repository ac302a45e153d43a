"""AWS-service destinations of `Event` invocations (SQS and SNS on a real moto server), and
event source mappings declared in lambda-rie.toml.

NOTE: one face (the native binary), as in test_event_source_sqs.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_support import (
    FUNCTIONS,
    MOTO_ACCOUNT,
    MotoServer,
    queue_arn,
    read_batches,
    records_log,
    wait_for,
)
from harness import EmulatorFactory, lambda_client


def receive_one(sqs: Any, url: str, timeout: float = 30) -> dict[str, Any]:
    got: list[dict[str, Any]] = []

    def arrived() -> bool:
        got.extend(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []))
        return bool(got)

    wait_for(arrived, timeout, f"a message in {url}")
    body: dict[str, Any] = json.loads(got[0]["Body"])
    return body


def test_event_invocations_send_aws_records_to_sqs_and_sns(
    factory: EmulatorFactory, moto: MotoServer, tmp_path: Path
) -> None:
    sqs, sns = moto.client("sqs"), moto.client("sns")
    failed_url = sqs.create_queue(QueueName="failed")["QueueUrl"]
    done_url = sqs.create_queue(QueueName="done-copies")["QueueUrl"]
    topic = sns.create_topic(Name="done")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, done_url))
    config = tmp_path / "lambda-rie.toml"
    config.write_text(
        f"""
[functions.worker]
handler = "app.maybe_fail"
code_dir = "{FUNCTIONS}"
maximum_retry_attempts = 0
on_success = "{topic}"
on_failure = "{queue_arn(sqs, failed_url)}"
"""
    )
    emu = factory(["--config", str(config)], env=moto.env())
    lam = lambda_client(emu.url)
    ok = lam.invoke(FunctionName="worker", InvocationType="Event", Payload=b'{"n": 1}')
    assert ok["StatusCode"] == 202
    lam.invoke(FunctionName="worker", InvocationType="Event", Payload=b'{"fail": true}')

    failure = receive_one(sqs, failed_url)
    assert failure["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", failure["timestamp"])
    context = failure["requestContext"]
    assert context["functionArn"] == "arn:aws:lambda:us-east-1:012345678912:function:worker:$LATEST"
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 1
    assert failure["requestPayload"] == {"fail": True}
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert failure["responsePayload"]["errorMessage"] == "asked to fail"

    notification = receive_one(sqs, done_url)
    assert notification["Type"] == "Notification"
    assert notification["TopicArn"] == topic
    success = json.loads(notification["Message"])
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestPayload"] == {"n": 1}
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert success["responsePayload"] == {"ok": {"n": 1}}


def test_a_mapping_declared_in_the_config_file_polls_from_the_start(
    factory: EmulatorFactory, moto: MotoServer, tmp_path: Path
) -> None:
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="declared")["QueueUrl"]
    log = records_log()
    config = tmp_path / "lambda-rie.toml"
    config.write_text(
        f"""
[functions.consumer]
handler = "app.record"
code_dir = "{FUNCTIONS}"
environment = {{ RECORDS_LOG = "{log}" }}

[[functions.consumer.event_sources]]
arn = "arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:declared"
batch_size = 5
filters = ['{{"body": {{"keep": [true]}}}}']
"""
    )
    emu = factory(["--config", str(config)], env=moto.env())
    lam = lambda_client(emu.url)
    [mapping] = lam.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"]
    assert mapping["BatchSize"] == 5
    assert mapping["State"] == "Enabled"
    for n in range(6):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"keep": n % 2 == 0, "n": n}))

    def kept() -> list[int]:
        return sorted(json.loads(r["body"])["n"] for b in read_batches(log) for r in b["records"])

    wait_for(lambda: kept() == [0, 2, 4], 30, "the three kept messages")


def test_a_bad_declared_mapping_stops_the_start_with_aws_words(
    factory: EmulatorFactory, moto: MotoServer, tmp_path: Path
) -> None:
    config = tmp_path / "lambda-rie.toml"
    config.write_text(
        f"""
[functions.consumer]
handler = "app.record"
code_dir = "{FUNCTIONS}"

[[functions.consumer.event_sources]]
arn = "arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:declared"
batch_size = 50
"""
    )
    emu = factory(["--config", str(config)], env=moto.env(), wait=False)
    assert emu.process.wait(timeout=30) != 0
    assert (
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10" in emu.stderr_text()
    )


def test_an_eventbridge_destination_gets_the_record_as_the_event_detail(
    factory: EmulatorFactory, moto: MotoServer, tmp_path: Path
) -> None:
    sqs, events = moto.client("sqs"), moto.client("events")
    url = sqs.create_queue(QueueName="bus-copies")["QueueUrl"]
    events.put_rule(Name="lambda-results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="lambda-results", Targets=[{"Id": "q", "Arn": queue_arn(sqs, url)}])
    bus = f"arn:aws:events:us-east-1:{MOTO_ACCOUNT}:event-bus/default"
    config = tmp_path / "lambda-rie.toml"
    config.write_text(
        f"""
[functions.worker]
handler = "app.maybe_fail"
code_dir = "{FUNCTIONS}"
maximum_retry_attempts = 0
on_failure = "{bus}"
"""
    )
    emu = factory(["--config", str(config)], env=moto.env())
    lam = lambda_client(emu.url)
    lam.invoke(FunctionName="worker", InvocationType="Event", Payload=b'{"fail": true}')
    event = receive_one(sqs, url)
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert event["resources"] == ["arn:aws:lambda:us-east-1:012345678912:function:worker"]
    assert event["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    assert event["detail"]["requestPayload"] == {"fail": True}
