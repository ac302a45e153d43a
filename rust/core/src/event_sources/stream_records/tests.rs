//! Tests of the stream event records and on-failure records against the documented examples.

use serde_json::{json, Value};

use super::{
    dynamodb_record, kinesis_record, on_failure_record, BatchInfo, FailureCondition, LastAttempt,
};
use crate::clock;
use crate::event_sources::source::SourceKind;

const SEQUENCE: &str = "49590338271490256608559692538361571095921575989136588898";

#[test]
fn kinesis_record_matches_the_documented_event() {
    let get_records = json!({
        "SequenceNumber": SEQUENCE,
        "ApproximateArrivalTimestamp": 1_545_084_650.987,
        "Data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
        "PartitionKey": "1"
    });
    let record = kinesis_record(
        &get_records,
        "shardId-000000000006",
        "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
        "us-east-2",
        "arn:aws:iam::123456789012:role/lambda-role",
    );
    let expected = json!({
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1",
            "sequenceNumber": SEQUENCE,
            "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==", "approximateArrivalTimestamp": 1_545_084_650.987},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": format!("shardId-000000000006:{SEQUENCE}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role", "awsRegion": "us-east-2",
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
    });
    assert_eq!(record, expected);
}

#[test]
fn dynamodb_record_matches_the_documented_event() {
    let stream = "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2015-05-11T21:21:33.291";
    let dynamodb = json!({"ApproximateCreationDateTime": 1_479_499_740,
        "Keys": {"Id": {"N": "101"}},
        "NewImage": {"Id": {"N": "101"}, "Message": {"S": "New item!"}},
        "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    // As an emulated stream may answer: eventVersion 1.0 and a fixed region.
    let get_records = json!({"eventID": "c4ca4238a0b923820dcc509a6f75849b", "eventName": "INSERT",
        "eventVersion": "1.0", "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1",
        "dynamodb": dynamodb});
    let expected = json!({"eventID": "c4ca4238a0b923820dcc509a6f75849b", "eventName": "INSERT",
        "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": dynamodb, "eventSourceARN": stream});
    assert_eq!(dynamodb_record(&get_records, stream, "us-east-1"), expected);
}

#[test]
fn dynamodb_record_keeps_ttl_user_identity() {
    let ttl = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    let rec = json!({"eventName": "REMOVE", "userIdentity": ttl, "dynamodb": {}});
    let record = dynamodb_record(&rec, "arn", "us-east-1");
    assert_eq!(record["userIdentity"], ttl);
}

fn batch(shard: &str, first_ms: i64, last_ms: i64) -> BatchInfo {
    BatchInfo {
        shard_id: shard.to_owned(),
        start_sequence: "4959".to_owned(),
        end_sequence: "4960".to_owned(),
        first_arrival_ms: first_ms,
        last_arrival_ms: last_ms,
        batch_size: 1,
        stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/s".to_owned(),
    }
}

/// Checks the fresh `requestId` and `timestamp`, then blanks them for an exact comparison.
fn without_fresh_fields(mut record: Value, before_ms: u64) -> Value {
    let id = record["requestContext"]["requestId"].take();
    assert!(
        uuid::Uuid::parse_str(id.as_str().unwrap_or_default()).is_ok(),
        "{id}"
    );
    let stamp = record["timestamp"].take();
    let stamp = stamp.as_str().unwrap_or_default();
    assert_eq!(stamp.len(), "2019-11-14T00:38:06.021Z".len(), "{stamp}");
    assert!(stamp >= clock::iso8601(before_ms).as_str(), "{stamp}");
    record
}

#[test]
fn kinesis_failure_record_matches_the_documented_one() {
    let before = clock::epoch_ms();
    let last = LastAttempt {
        status_code: 200,
        executed_version: "$LATEST".to_owned(),
        function_error: Some("Unhandled".to_owned()),
    };
    let record = on_failure_record(
        SourceKind::Kinesis,
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        FailureCondition::RetryAttemptsExhausted,
        2,
        Some(&last),
        &batch("shardId-000000000000", 1_573_691_884_835, 1_573_691_885_580),
        None,
    );
    let expected = json!({
        "requestContext": {"requestId": null,
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 2},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": null,
        "KinesisBatchInfo": {"shardId": "shardId-000000000000",
            "startSequenceNumber": "4959", "endSequenceNumber": "4960",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
            "batchSize": 1, "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}
    });
    assert_eq!(without_fresh_fields(record, before), expected);
}

#[test]
fn partial_batch_failures_report_a_null_function_error() {
    let last = LastAttempt {
        status_code: 200,
        executed_version: "3".to_owned(),
        function_error: None,
    };
    let record = on_failure_record(
        SourceKind::Kinesis,
        "arn:aws:lambda:us-east-1:123456789012:function:f:live",
        FailureCondition::RetryAttemptsExhausted,
        1,
        Some(&last),
        &batch("shardId-000000000000", 0, 0),
        None,
    );
    assert_eq!(
        record["responseContext"],
        json!({"statusCode": 200, "executedVersion": "3", "functionError": null})
    );
}

#[test]
fn dynamodb_record_age_failure_has_no_response_and_second_times() {
    let before = clock::epoch_ms();
    let mut info = batch(
        "shardId-00000001573689600000-a1b2c3d4",
        1_573_690_399_999,
        1_573_690_400_000,
    );
    info.stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/L".to_owned();
    info.batch_size = 2;
    let event = json!({"Records": [{"eventName": "INSERT"}]});
    let record = on_failure_record(
        SourceKind::DynamoDbStreams,
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        FailureCondition::RecordAgeExceeded,
        0,
        None,
        &info,
        Some(&event),
    );
    let expected = json!({
        "requestContext": {"requestId": null,
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "condition": "RecordAgeExceeded", "approximateInvokeCount": 0},
        "version": "1.0", "timestamp": null,
        "DDBStreamBatchInfo": {"shardId": "shardId-00000001573689600000-a1b2c3d4",
            "startSequenceNumber": "4959", "endSequenceNumber": "4960",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:13:20Z",
            "batchSize": 2, "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/L"},
        "payload": {"Records": [{"eventName": "INSERT"}]}
    });
    assert_eq!(without_fresh_fields(record, before), expected);
}

#[test]
fn each_failure_record_has_its_own_request_id() {
    let make = || {
        on_failure_record(
            SourceKind::Kinesis,
            "f",
            FailureCondition::RecordAgeExceeded,
            1,
            None,
            &batch("s", 0, 0),
            None,
        )
    };
    assert_ne!(
        make()["requestContext"]["requestId"],
        make()["requestContext"]["requestId"]
    );
}
