"""SQS event source mappings against a real moto server: delivery, partial batch failures,
the redrive policy, filters, FIFO order, and the mapping API's answers.

NOTE: one face (the native binary): pollers live in the Rust core that both faces share, and
each test here waits on queue visibility timeouts, so a second face would only double the time.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aws_support import (
    FUNCTIONS,
    MOTO_ACCOUNT,
    MotoServer,
    queue_arn,
    read_batches,
    records_log,
    wait_for,
)
from control_plane_support import create, error_of
from harness import Emulator, EmulatorFactory, lambda_client, stress_size

ARN = re.compile(r"^arn:aws:lambda:us-east-1:012345678912:event-source-mapping:[0-9a-f-]{36}$")


def serve(
    factory: EmulatorFactory, moto: MotoServer, handler: str, log: Path, *args: str, **env: str
) -> tuple[Emulator, Any]:
    """Serve `app.<handler>` with the moto server as AWS; the emulator and a Lambda client."""
    # NOTE: AWS's default timeout (3 s) rather than the CLI's 300 s: a queue's visibility
    # timeout must cover the function's.
    timeout = [] if "--timeout" in args else ["--timeout", "3"]
    emu = factory(
        ["--code-dir", str(FUNCTIONS), *timeout, *args, f"app.{handler}"],
        env=moto.env({"RECORDS_LOG": str(log), **env}),
    )
    return emu, lambda_client(emu.url)


def new_queue(moto: MotoServer, name: str, **attributes: str) -> tuple[str, str]:
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, queue_arn(sqs, url)


def send(moto: MotoServer, url: str, bodies: list[str], **extra: Any) -> None:
    sqs = moto.client("sqs")
    for i in range(0, len(bodies), 10):
        entries = [
            {"Id": str(n), "MessageBody": body, **extra}
            for n, body in enumerate(bodies[i : i + 10])
        ]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed")


def queue_depth(moto: MotoServer, url: str) -> int:
    a = moto.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def records(log: Path) -> list[dict[str, Any]]:
    return [r for batch in read_batches(log) for r in batch["records"]]


def test_every_message_reaches_the_handler_once_in_the_sqs_record_shape(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, "record", log)
    url, arn = new_queue(moto, "orders")
    created = lam.create_event_source_mapping(
        FunctionName="function", EventSourceArn=arn, BatchSize=10, MaximumBatchingWindowInSeconds=1
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert ARN.match(created["EventSourceMappingArn"])
    count = stress_size(1000, 1000)
    sqs = moto.client("sqs")
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"n": -1}',
        MessageAttributes={"Author": {"DataType": "String", "StringValue": "John"}},
    )
    send(moto, url, [json.dumps({"n": n}) for n in range(count - 1)])
    wait_for(lambda: len(records(log)) >= count, 60, f"{count} messages handled")
    time.sleep(1)
    got = records(log)
    ids = [r["messageId"] for r in got]
    assert len(ids) == count == len(set(ids)), "each message exactly once"
    assert all(len(b["records"]) <= 10 for b in read_batches(log))
    first = next(r for r in got if r["body"] == '{"n": -1}')
    assert set(first) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes",
        "md5OfMessageAttributes", "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == arn
    assert first["awsRegion"] == "us-east-1"
    assert first["messageAttributes"] == {
        "Author": {
            "stringValue": "John",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert re.fullmatch(r"[0-9a-f]{32}", first["md5OfBody"])
    assert re.fullmatch(r"[0-9a-f]{32}", first["md5OfMessageAttributes"])
    attrs = first["attributes"]
    assert attrs["ApproximateReceiveCount"] == "1"
    assert attrs["SentTimestamp"].isdigit()
    assert attrs["ApproximateFirstReceiveTimestamp"].isdigit()
    assert "SenderId" in attrs
    wait_for(lambda: queue_depth(moto, url) == 0, 10, "the queue is empty")
    got_mapping = lam.get_event_source_mapping(UUID=created["UUID"])
    assert got_mapping["State"] == "Enabled"
    assert got_mapping["LastProcessingResult"] == "OK"


def test_a_receive_past_6_mb_is_split_and_every_message_reaches_the_function_once(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, "record", log)
    url, arn = new_queue(moto, "large", VisibilityTimeout="60")
    sqs = moto.client("sqs")
    filler = "x" * 240_000
    for n in range(30):
        sqs.send_message(QueueUrl=url, MessageBody=f"{n:04d} {filler}")
    lam.create_event_source_mapping(
        FunctionName="function", EventSourceArn=arn, BatchSize=100, MaximumBatchingWindowInSeconds=2
    )
    # 30 messages of 240 KB are 7 MB of records: more than one invocation may carry.
    wait_for(lambda: len(records(log)) >= 30, 30, "30 large messages handled")
    wait_for(lambda: queue_depth(moto, url) == 0, 10, "the queue is empty")
    handled = sorted(r["body"][:4] for r in records(log))
    assert handled == [f"{n:04d}" for n in range(30)], "each message exactly once"
    batches = read_batches(log)
    assert len(batches) >= 2
    compact = (",", ":")
    assert all(
        len(json.dumps(b["records"], separators=compact)) <= 6 * 1024 * 1024 for b in batches
    )


def test_reported_item_failures_stay_in_the_queue_and_come_back(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, "fail_marked", log)
    url, arn = new_queue(moto, "partial", VisibilityTimeout="3")
    lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    send(moto, url, [f"ok {n}" for n in range(9)] + ["fail me"])
    wait_for(
        lambda: sum(r["body"] == "fail me" for r in records(log)) >= 2, 30, "the failure came back"
    )
    got = records(log)
    oks = [r["body"] for r in got if r["body"].startswith("ok")]
    assert sorted(oks) == sorted(f"ok {n}" for n in range(9)), "the others once each"
    again = [r for r in got if r["body"] == "fail me"]
    assert again[1]["attributes"]["ApproximateReceiveCount"] == "2"
    assert queue_depth(moto, url) == 1, "only the failed message is left"


def test_a_failing_batch_lands_in_the_dead_letter_queue_by_the_redrive_policy(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, "raise_always", log)
    dlq_url, dlq_arn = new_queue(moto, "dead-letters")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = new_queue(moto, "doomed", VisibilityTimeout="3", RedrivePolicy=redrive)
    lam.create_event_source_mapping(FunctionName="function", EventSourceArn=arn, BatchSize=5)
    send(moto, url, [f"m{n}" for n in range(5)])
    sqs = moto.client("sqs")

    def in_dlq() -> int:
        a = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(a["ApproximateNumberOfMessages"])

    wait_for(lambda: in_dlq() == 5, 40, "the 5 messages in the dead-letter queue")
    bodies = [r["body"] for r in records(log)]
    assert sorted(set(bodies)) == [f"m{n}" for n in range(5)]
    assert all(bodies.count(f"m{n}") == 2 for n in range(5)), "each received twice, then moved"


def test_a_filter_delivers_only_matching_messages_and_deletes_the_rest(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, "record", log)
    url, arn = new_queue(moto, "filtered")
    lam.create_event_source_mapping(
        FunctionName="function",
        EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]},
    )
    bodies = [json.dumps({"kind": "order" if n % 3 == 0 else "refund", "n": n}) for n in range(30)]
    send(moto, url, [*bodies, "plain text"])
    wait_for(lambda: len(records(log)) >= 10, 30, "the 10 orders")
    wait_for(lambda: queue_depth(moto, url) == 0, 20, "the rest deleted")
    got = sorted(json.loads(r["body"])["n"] for r in records(log))
    assert got == list(range(0, 30, 3))


def test_a_fifo_queue_is_handled_in_order_per_group_one_batch_at_a_time(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    _, lam = serve(factory, moto, "record", log, HOLD_S="0.02")
    url, arn = new_queue(moto, "ledger.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    lam.create_event_source_mapping(FunctionName="function", EventSourceArn=arn, BatchSize=10)
    per_group = stress_size(100, 100)
    sqs = moto.client("sqs")
    for n in range(per_group):
        entries = [
            {"Id": g, "MessageBody": json.dumps({"g": g, "n": n}), "MessageGroupId": g}
            for g in ("a", "b", "c")
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    wait_for(lambda: len(records(log)) >= 3 * per_group, 90, "every message handled")
    batches = read_batches(log)
    for g in ("a", "b", "c"):
        seen = [
            json.loads(r["body"])["n"]
            for b in batches
            for r in b["records"]
            if r["attributes"]["MessageGroupId"] == g
        ]
        assert seen == list(range(per_group)), f"group {g} in order, once each"
        spans = sorted(
            (b["start"], b["end"])
            for b in batches
            if any(r["attributes"]["MessageGroupId"] == g for r in b["records"])
        )
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, f"two batches of group {g} overlapped"


def test_the_mapping_api_answers_as_aws(factory: EmulatorFactory, moto: MotoServer) -> None:
    log = records_log()
    _, lam = serve(factory, moto, "record", log, "--timeout", "10")
    url, arn = new_queue(moto, "api-queue", VisibilityTimeout="30")
    _, short_arn = new_queue(moto, "short-visibility", VisibilityTimeout="5")
    _, fifo_arn = new_queue(moto, "api.fifo", FifoQueue="true")

    def error(**params: Any) -> tuple[int, str, str]:
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(**params)
        e = caught.value.response
        return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"]["Message"]

    assert error(FunctionName="nope", EventSourceArn=arn) == (
        400, "InvalidParameterValueException", "Function does not exist"
    )  # fmt: skip
    assert error(FunctionName="function", EventSourceArn="arn:aws:foo:us-east-1:1:x") == (
        400, "InvalidParameterValueException", "Unrecognized event source."
    )  # fmt: skip
    missing = f"arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:missing"
    status, code, message = error(FunctionName="function", EventSourceArn=missing)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        "Error occurred while ReceiveMessage. SQS Error Code: "
        "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: "
        "The specified queue does not exist."
    )
    assert error(FunctionName="function", EventSourceArn=short_arn) == (
        400,
        "InvalidParameterValueException",
        "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds",
    )
    assert error(FunctionName="function", EventSourceArn=arn, BatchSize=11) == (
        400,
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
    )
    too_big = error(
        FunctionName="function", EventSourceArn=arn, BatchSize=10001,
        MaximumBatchingWindowInSeconds=1,
    )  # fmt: skip
    assert too_big[:2] == (400, "ValidationException")
    assert error(
        FunctionName="function", EventSourceArn=fifo_arn, BatchSize=11,
        MaximumBatchingWindowInSeconds=1,
    )[:2] == (400, "InvalidParameterValueException")  # fmt: skip

    created = lam.create_event_source_mapping(
        FunctionName="function", EventSourceArn=arn, Enabled=False
    )
    assert created["State"] == "Disabled"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionResponseTypes"] == []
    assert created["FunctionArn"].endswith(":function:test_function")
    uuid = created["UUID"]
    status, code, message = error(FunctionName="function", EventSourceArn=arn)
    assert (status, code) == (409, "ResourceConflictException")
    assert message == (
        f'An event source mapping with SQS arn (" {arn} ") and function (" test_function ") '
        f"already exists. Please update or delete the existing mapping with UUID {uuid}"
    )

    send(moto, url, ["while disabled"])
    time.sleep(2)
    assert records(log) == [], "a disabled mapping does not poll"
    enabling = lam.update_event_source_mapping(UUID=uuid, Enabled=True, BatchSize=5)
    assert enabling["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert enabling["State"] == "Enabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert lam.get_event_source_mapping(UUID=uuid)["BatchSize"] == 5
    wait_for(lambda: len(records(log)) == 1, 30, "the message sent while disabled")

    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert lam.list_event_source_mappings(FunctionName="function")["EventSourceMappings"]
    deleting = lam.delete_event_source_mapping(UUID=uuid)
    assert deleting["State"] == "Deleting"
    with pytest.raises(ClientError) as gone:
        lam.get_event_source_mapping(UUID=uuid)
    assert gone.value.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "The resource you requested does not exist.",
    }
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_a_mapping_moved_to_another_function_is_checked_as_a_new_one(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    _, lam = serve(factory, moto, "record", records_log())
    _, arn = new_queue(moto, "moved", VisibilityTimeout="30")
    create(lam, "other")
    create(lam, "slow", Timeout=60)
    mapped = lam.create_event_source_mapping(
        FunctionName="function", EventSourceArn=arn, Enabled=False
    )
    other = lam.create_event_source_mapping(FunctionName="other", EventSourceArn=arn, Enabled=False)
    with pytest.raises(ClientError) as moved:
        lam.update_event_source_mapping(UUID=other["UUID"], FunctionName="function")
    assert error_of(moved.value) == (
        409,
        "ResourceConflictException",
        f'An event source mapping with SQS arn (" {arn} ") and function (" test_function ") '
        f"already exists. Please update or delete the existing mapping with UUID "
        f"{mapped['UUID']}",
    )
    # The queue's visibility timeout must cover the new function's timeout, as on create.
    with pytest.raises(ClientError) as slow:
        lam.update_event_source_mapping(UUID=other["UUID"], FunctionName="slow")
    assert error_of(slow.value) == (
        400,
        "InvalidParameterValueException",
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds",
    )
    # Nothing changed; a mapping updated onto its own function is not a conflict.
    assert lam.get_event_source_mapping(UUID=other["UUID"])["FunctionArn"] == other["FunctionArn"]
    same = lam.update_event_source_mapping(UUID=mapped["UUID"], FunctionName="function")
    assert same["FunctionArn"] == mapped["FunctionArn"]
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert sorted(m["UUID"] for m in listed) == sorted([mapped["UUID"], other["UUID"]])


def test_a_deleted_queue_shows_in_the_mapping_and_nothing_crashes(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    emu, lam = serve(factory, moto, "record", log)
    url, arn = new_queue(moto, "short-lived")
    uuid = lam.create_event_source_mapping(FunctionName="function", EventSourceArn=arn)["UUID"]
    moto.client("sqs").delete_queue(QueueUrl=url)

    def problem() -> bool:
        result = lam.get_event_source_mapping(UUID=uuid).get("LastProcessingResult", "")
        return "NonExistentQueue" in result

    wait_for(problem, 40, "the mapping reports the missing queue")
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"].startswith("PROBLEM: ")
    payload = lam.invoke(FunctionName="function", Payload=b"{}")["Payload"].read()
    assert json.loads(payload) == {}
    assert emu.process.poll() is None
    url, _ = new_queue(moto, "short-lived")
    send(moto, url, ["back"])
    wait_for(lambda: [r["body"] for r in records(log)] == ["back"], 60, "polling resumes")
