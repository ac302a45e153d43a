//! The Lambda event records of Kinesis and DynamoDB Streams mappings, and the record a failed
//! batch leaves at the mapping's on-failure destination (docs/reference.md §16).

use serde_json::{json, Map, Value};

use super::source::SourceKind;
use crate::clock;

/// A Kinesis GetRecords record (`{SequenceNumber, ApproximateArrivalTimestamp, Data,
/// PartitionKey}` as the Kinesis JSON API returns it) as Lambda's event record; `role_arn` is
/// the function's execution role (`invokeIdentityArn`).
pub fn kinesis_record(
    rec: &Value,
    shard_id: &str,
    stream_arn: &str,
    region: &str,
    role_arn: &str,
) -> Value {
    let field = |name: &str| rec.get(name).cloned().unwrap_or(Value::Null);
    let sequence = rec
        .get("SequenceNumber")
        .and_then(Value::as_str)
        .unwrap_or_default();
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": field("PartitionKey"),
            "sequenceNumber": field("SequenceNumber"),
            "data": field("Data"),
            "approximateArrivalTimestamp": field("ApproximateArrivalTimestamp"),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{shard_id}:{sequence}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    })
}

/// A DynamoDB Streams GetRecords record (`{eventID, eventName, eventVersion, eventSource,
/// awsRegion, dynamodb{..}}`) as Lambda's event record: the same plus `eventSourceARN`,
/// `eventVersion` "1.1" and `awsRegion` the stream's region.
pub fn dynamodb_record(rec: &Value, stream_arn: &str, region: &str) -> Value {
    let mut record = rec.as_object().cloned().unwrap_or_default();
    // NOTE: AWS's recorded events say "1.1" where some emulated streams say "1.0", and carry
    // the stream's own region where those fix one.
    record.insert("eventVersion".to_owned(), json!("1.1"));
    record.insert("awsRegion".to_owned(), json!(region));
    record.insert("eventSourceARN".to_owned(), json!(stream_arn));
    Value::Object(record)
}

/// Why a batch went to the on-failure destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCondition {
    /// `MaximumRetryAttempts` retries all failed.
    RetryAttemptsExhausted,
    /// The oldest record outlived `MaximumRecordAgeInSeconds`.
    RecordAgeExceeded,
}

impl FailureCondition {
    /// The `requestContext.condition` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// What the last attempt answered (absent for RecordAgeExceeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAttempt {
    /// The Invoke status code (200 even for a function error).
    pub status_code: u16,
    /// The version that ran (`$LATEST`, `3`).
    pub executed_version: String,
    /// `Unhandled`/`Handled`, None when the batch failed through a partial batch response.
    pub function_error: Option<String>,
}

/// The batch a failure record describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    /// The shard every record of the batch came from.
    pub shard_id: String,
    /// The first record's sequence number.
    pub start_sequence: String,
    /// The last record's sequence number.
    pub end_sequence: String,
    /// When the first record reached the stream, epoch milliseconds.
    pub first_arrival_ms: i64,
    /// When the last record reached the stream, epoch milliseconds.
    pub last_arrival_ms: i64,
    /// How many records the batch held.
    pub batch_size: usize,
    /// The stream's ARN.
    pub stream_arn: String,
}

/// The on-failure record: `KinesisBatchInfo` for Kinesis (arrival times with milliseconds,
/// `2019-11-14T00:38:04.835Z`), `DDBStreamBatchInfo` for DynamoDB (seconds,
/// `2019-11-14T00:13:19Z`); `requestContext.requestId` a fresh UUID, `timestamp` now;
/// `responseContext` only with a `last` attempt; `payload` (the original event) only when given
/// (S3 destinations). SQS mappings have no on-failure destination; they get the Kinesis shape.
pub fn on_failure_record(
    kind: SourceKind,
    function_arn: &str,
    condition: FailureCondition,
    invoke_count: u32,
    last: Option<&LastAttempt>,
    batch: &BatchInfo,
    payload: Option<&Value>,
) -> Value {
    let mut record = Map::new();
    record.insert(
        "requestContext".to_owned(),
        json!({
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": invoke_count,
        }),
    );
    if let Some(last) = last {
        record.insert(
            "responseContext".to_owned(),
            json!({
                "statusCode": last.status_code,
                "executedVersion": last.executed_version,
                "functionError": last.function_error,
            }),
        );
    }
    record.insert("version".to_owned(), json!("1.0"));
    record.insert(
        "timestamp".to_owned(),
        json!(clock::iso8601(clock::epoch_ms())),
    );
    let (key, arrival): (&str, fn(u64) -> String) = match kind {
        SourceKind::DynamoDbStreams => ("DDBStreamBatchInfo", clock::iso8601_seconds),
        SourceKind::Kinesis | SourceKind::Sqs => ("KinesisBatchInfo", clock::iso8601),
    };
    let at = |ms: i64| arrival(u64::try_from(ms).unwrap_or(0));
    record.insert(
        key.to_owned(),
        json!({
            "shardId": batch.shard_id,
            "startSequenceNumber": batch.start_sequence,
            "endSequenceNumber": batch.end_sequence,
            "approximateArrivalOfFirstRecord": at(batch.first_arrival_ms),
            "approximateArrivalOfLastRecord": at(batch.last_arrival_ms),
            "batchSize": batch.batch_size,
            "streamArn": batch.stream_arn,
        }),
    );
    if let Some(payload) = payload {
        record.insert("payload".to_owned(), payload.clone());
    }
    Value::Object(record)
}

#[cfg(test)]
mod tests;
