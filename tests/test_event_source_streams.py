"""Kinesis and DynamoDB Streams event source mappings against a real moto server: order per
key, bisection with retries to an SQS on-failure destination, LATEST, and DynamoDB's
INSERT/MODIFY/REMOVE records.

NOTE: one face (the native binary), as in test_event_source_sqs.py.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

from aws_support import FUNCTIONS, MotoServer, queue_arn, read_batches, records_log, wait_for
from harness import EmulatorFactory, lambda_client, stress_size


def serve(factory: EmulatorFactory, moto: MotoServer, handler: str, log: Path) -> Any:
    emu = factory(
        ["--code-dir", str(FUNCTIONS), f"app.{handler}"],
        env=moto.env({"RECORDS_LOG": str(log)}),
    )
    return lambda_client(emu.url)


def new_stream(moto: MotoServer, name: str, shards: int) -> str:
    kinesis = moto.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def put(moto: MotoServer, stream: str, items: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Put (partition key, JSON data) records in order; their sequence numbers."""
    kinesis = moto.client("kinesis")
    return [
        kinesis.put_record(StreamName=stream, PartitionKey=key, Data=json.dumps(data).encode())[
            "SequenceNumber"
        ]
        for key, data in items
    ]


def map_stream(lam: Any, arn: str, **settings: Any) -> dict[str, Any]:
    """A mapping of `arn` to the function, read from the start unless `settings` say otherwise."""
    settings.setdefault("StartingPosition", "TRIM_HORIZON")
    mapping: dict[str, Any] = lam.create_event_source_mapping(
        FunctionName="function", EventSourceArn=arn, **settings
    )
    return mapping


def kinesis_data(log: Path) -> list[dict[str, Any]]:
    return [
        json.loads(base64.b64decode(r["kinesis"]["data"]))
        for batch in read_batches(log)
        for r in batch["records"]
    ]


def test_kinesis_records_arrive_in_order_per_key_in_aws_shape(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    lam = serve(factory, moto, "record", log)
    arn = new_stream(moto, "clicks", 2)
    count = stress_size(500, 500)
    items = [(f"key-{n % 10}", {"key": f"key-{n % 10}", "n": n}) for n in range(count)]
    created = map_stream(lam, arn)
    assert created["State"] == "Creating"
    assert created["StartingPosition"] == "TRIM_HORIZON"
    assert created["BatchSize"] == 100
    assert created["StateTransitionReason"] == "User action"
    put(moto, "clicks", items)
    wait_for(lambda: len(kinesis_data(log)) >= count, 90, f"{count} records handled")
    got = kinesis_data(log)
    assert len(got) == count
    for k in range(10):
        ns = [d["n"] for d in got if d["key"] == f"key-{k}"]
        assert ns == list(range(k, count, 10)), f"key-{k} in order, once each"
    first = read_batches(log)[0]["records"][0]
    assert set(first) == {
        "kinesis", "eventSource", "eventVersion", "eventID", "eventName",
        "invokeIdentityArn", "awsRegion", "eventSourceARN",
    }  # fmt: skip
    assert first["eventSource"] == "aws:kinesis"
    assert first["eventName"] == "aws:kinesis:record"
    assert first["eventSourceARN"] == arn
    assert re.fullmatch(r"shardId-\d{12}:\d+", first["eventID"])
    assert first["eventID"].endswith(":" + first["kinesis"]["sequenceNumber"])
    assert set(first["kinesis"]) == {
        "kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
        "approximateArrivalTimestamp",
    }  # fmt: skip
    shard_of = {r["eventID"].split(":")[0] for b in read_batches(log) for r in b["records"]}
    assert len(shard_of) == 2, "both shards read"
    assert all(
        len({r["eventID"].split(":")[0] for r in b["records"]}) == 1 for b in read_batches(log)
    ), "a batch holds one shard"
    state = lam.get_event_source_mapping(UUID=created["UUID"])
    assert state["State"] == "Enabled"
    assert state["LastProcessingResult"] == "OK"


def test_a_poisoned_record_is_bisected_out_retried_and_sent_on_failure(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    lam = serve(factory, moto, "fail_on_poison", log)
    arn = new_stream(moto, "payments", 1)
    sqs = moto.client("sqs")
    dest_url = sqs.create_queue(QueueName="payments-failures")["QueueUrl"]
    seqs = put(moto, "payments", [("k", {"n": n, "poison": n == 7}) for n in range(20)])
    map_stream(
        lam,
        arn,
        BatchSize=20,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(sqs, dest_url)}},
    )
    messages: list[dict[str, Any]] = []

    def arrived() -> bool:
        got = sqs.receive_message(QueueUrl=dest_url, WaitTimeSeconds=1).get("Messages", [])
        messages.extend(got)
        return bool(messages)

    wait_for(arrived, 60, "the on-failure record")
    record = json.loads(messages[0]["Body"])
    info = record["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000"
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seqs[7]
    assert info["batchSize"] == 1
    assert info["streamArn"] == arn
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", info["approximateArrivalOfFirstRecord"]
    )
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:test_function")
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    time.sleep(2)
    assert sqs.receive_message(QueueUrl=dest_url, WaitTimeSeconds=1).get("Messages") is None
    handled = [d["n"] for b in read_batches(log) for d in _ok_batch(b)]
    assert sorted(set(handled)) == [n for n in range(20) if n != 7], "every other record handled"


def _ok_batch(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a batch that succeeded (no poisoned record in it)."""
    data = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in batch["records"]]
    return [] if any(d["poison"] for d in data) else data


def test_latest_skips_what_was_written_before_the_mapping(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    lam = serve(factory, moto, "record", log)
    arn = new_stream(moto, "latest", 1)
    put(moto, "latest", [("k", {"n": n, "when": "before"}) for n in range(5)])
    uuid = map_stream(lam, arn, StartingPosition="LATEST")["UUID"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", 10, "enabled")
    time.sleep(3)  # the shard reader has taken its LATEST iterator
    put(moto, "latest", [("k", {"n": n, "when": "after"}) for n in range(5)])
    wait_for(lambda: len(kinesis_data(log)) >= 5, 30, "the records written after")
    time.sleep(1)
    assert [d["when"] for d in kinesis_data(log)] == ["after"] * 5


def test_dynamodb_stream_records_insert_modify_remove_in_order(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    lam = serve(factory, moto, "record", log)
    ddb = moto.client("dynamodb")
    table = ddb.create_table(
        TableName="Orders",
        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    stream_arn = table["LatestStreamArn"]
    map_stream(lam, stream_arn)
    ddb.put_item(TableName="Orders", Item={"Id": {"N": "101"}, "Message": {"S": "New item!"}})
    ddb.update_item(
        TableName="Orders",
        Key={"Id": {"N": "101"}},
        UpdateExpression="SET Message = :m",
        ExpressionAttributeValues={":m": {"S": "This item has changed"}},
    )
    ddb.delete_item(TableName="Orders", Key={"Id": {"N": "101"}})
    got: list[dict[str, Any]] = []

    def three() -> bool:
        got[:] = [r for b in read_batches(log) for r in b["records"]]
        return len(got) >= 3

    wait_for(three, 30, "three stream records")
    assert [r["eventName"] for r in got] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = got
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventVersion"] == "1.1"
    assert insert["awsRegion"] == "us-east-1"
    assert insert["eventSourceARN"] == stream_arn
    assert insert["dynamodb"]["Keys"] == {"Id": {"N": "101"}}
    assert insert["dynamodb"]["NewImage"] == {"Id": {"N": "101"}, "Message": {"S": "New item!"}}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["Message"] == {"S": "New item!"}
    assert modify["dynamodb"]["NewImage"]["Message"] == {"S": "This item has changed"}
    assert remove["dynamodb"]["OldImage"]["Message"] == {"S": "This item has changed"}
    assert "NewImage" not in remove["dynamodb"]
    assert insert["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    seq = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
    assert seq == sorted(seq)


def test_parallelization_runs_batches_of_one_shard_at_once_in_order_per_key(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    emu = factory(
        ["--code-dir", str(FUNCTIONS), "app.record"],
        env=moto.env({"RECORDS_LOG": str(log), "HOLD_S": "0.3"}),
    )
    lam = lambda_client(emu.url)
    arn = new_stream(moto, "parallel", 1)
    put(moto, "parallel", [(f"key-{n % 8}", {"key": f"key-{n % 8}", "n": n}) for n in range(80)])
    map_stream(lam, arn, BatchSize=10, ParallelizationFactor=4)
    wait_for(lambda: len(kinesis_data(log)) >= 80, 60, "80 records handled")
    got = kinesis_data(log)
    for k in range(8):
        assert [d["n"] for d in got if d["key"] == f"key-{k}"] == list(range(k, 80, 8))
    spans = sorted((b["start"], b["end"]) for b in read_batches(log))
    overlapping = any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    assert overlapping, "batches of the one shard ran at the same time"


def test_an_s3_on_failure_destination_gets_the_record_with_its_payload(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    lam = serve(factory, moto, "fail_on_poison", log)
    arn = new_stream(moto, "to-s3", 1)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="failures")
    seqs = put(moto, "to-s3", [("k", {"n": 0, "poison": True})])
    uuid = map_stream(
        lam,
        arn,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::failures"}},
    )["UUID"]
    prefix = f"aws/lambda/{uuid}/shardId-000000000000/"
    keys: list[str] = []

    def stored() -> bool:
        keys[:] = [o["Key"] for o in s3.list_objects_v2(Bucket="failures").get("Contents", [])]
        return bool(keys)

    wait_for(stored, 30, "the on-failure object")
    [key] = keys
    assert key.startswith(prefix)
    assert re.fullmatch(
        r"\d{4}/\d\d/\d\d/\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}", key[len(prefix) :]
    )
    record = json.loads(s3.get_object(Bucket="failures", Key=key)["Body"].read())
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == seqs[0]
    assert record["requestContext"]["approximateInvokeCount"] == 1
    [original] = record["payload"]["Records"]
    assert original["kinesis"]["sequenceNumber"] == seqs[0]


def test_a_disabled_stream_mapping_resumes_where_it_stopped(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    lam = serve(factory, moto, "record", log)
    arn = new_stream(moto, "pausing", 1)
    uuid = map_stream(lam, arn)["UUID"]
    put(moto, "pausing", [("k", {"n": n}) for n in range(5)])
    wait_for(lambda: len(kinesis_data(log)) == 5, 30, "the first five")
    disabling = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabling["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    put(moto, "pausing", [("k", {"n": n}) for n in range(5, 10)])
    time.sleep(3)
    assert len(kinesis_data(log)) == 5, "a disabled mapping reads nothing"
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    wait_for(lambda: len(kinesis_data(log)) >= 10, 30, "the rest")
    time.sleep(1)
    assert [d["n"] for d in kinesis_data(log)] == list(range(10)), "no record lost or repeated"


# NOTE: a bound, not an expectation: retries wait 0.1, 0.2, 0.4 ... 5 s, about 5 attempts in the
# first 3 s; a retry loop without pauses made thousands.
ATTEMPTS_IN_3_S_BOUND = 50


def test_a_batch_that_keeps_failing_is_retried_paced_and_stops_with_its_mapping(
    factory: EmulatorFactory, moto: MotoServer
) -> None:
    log = records_log()
    lam = serve(factory, moto, "raise_always", log)
    arn = new_stream(moto, "failing", 1)
    # The defaults: retried until the record expires.
    uuid = map_stream(lam, arn)["UUID"]
    put(moto, "failing", [("k", {"n": 0})])
    wait_for(lambda: len(read_batches(log)) >= 1, 30, "the first attempt")
    time.sleep(3)
    assert len(read_batches(log)) <= ATTEMPTS_IN_3_S_BOUND, "retried in a busy loop"

    def stays_quiet() -> int:
        time.sleep(0.5)  # an attempt under way ends
        quiet = len(read_batches(log))
        time.sleep(3)
        assert len(read_batches(log)) == quiet, "the mapping is stopped, its retries too"
        return quiet

    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    disabled_at = stays_quiet()
    # Enabled again, the batch is read again from the checkpoint: it was not given up.
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_for(lambda: len(read_batches(log)) > disabled_at, 30, "the batch tried again")
    assert {d["n"] for d in kinesis_data(log)} == {0}
    lam.delete_event_source_mapping(UUID=uuid)
    stays_quiet()
