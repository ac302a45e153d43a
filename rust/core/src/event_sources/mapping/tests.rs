use serde_json::json;

use super::*;

fn req(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:q";
const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

fn sqs(body: Value) -> Result<Map<String, Value>, ServiceError> {
    let mut body = req(body);
    body.insert("EventSourceArn".into(), json!(QUEUE));
    create(
        &body,
        SourceKind::Sqs,
        "u",
        "arn:aws:lambda:us-east-1:1:function:f",
        "m",
    )
}

#[test]
fn an_sqs_mapping_gets_aws_defaults_and_key_set() {
    let doc = sqs(json!({})).expect("valid");
    let mut keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "BatchSize",
            "EventSourceArn",
            "EventSourceMappingArn",
            "FunctionArn",
            "FunctionResponseTypes",
            "LastModified",
            "MaximumBatchingWindowInSeconds",
            "State",
            "StateTransitionReason",
            "UUID"
        ]
    );
    assert_eq!(doc["BatchSize"], json!(10));
    assert_eq!(doc["StateTransitionReason"], json!("USER_INITIATED"));
    assert_eq!(doc["State"], json!("Enabled"));
}

#[test]
fn an_sqs_batch_over_ten_needs_a_window() {
    let e = sqs(json!({"BatchSize": 11})).expect_err("refused");
    assert_eq!(
        e.message(),
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
    );
    assert!(sqs(json!({"BatchSize": 100, "MaximumBatchingWindowInSeconds": 1})).is_ok());
}

#[test]
fn a_batch_size_over_the_maximum_is_a_validation_error() {
    let e =
        sqs(json!({"BatchSize": 10001, "MaximumBatchingWindowInSeconds": 1})).expect_err("refused");
    assert_eq!(e.code(), "ValidationException");
    assert_eq!(
        e.message(),
        "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"
    );
}

#[test]
fn sqs_takes_no_destination_config() {
    let e = sqs(json!({"DestinationConfig": {"OnFailure": {"Destination": QUEUE}}}))
        .expect_err("refused");
    assert_eq!(
        e.message(),
        "Unsupported DestinationConfig parameter for given event source mapping type."
    );
}

#[test]
fn a_stream_mapping_needs_a_starting_position_and_gets_stream_defaults() {
    let body = req(json!({"EventSourceArn": STREAM}));
    let e = create(&body, SourceKind::Kinesis, "u", "f", "m").expect_err("refused");
    assert_eq!(
        e.message(),
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."
    );
    let body = req(json!({"EventSourceArn": STREAM, "StartingPosition": "TRIM_HORIZON"}));
    let doc = create(&body, SourceKind::Kinesis, "u", "f", "m").expect("valid");
    assert_eq!(doc["BatchSize"], json!(100));
    assert_eq!(doc["DestinationConfig"], json!({"OnFailure": {}}));
    assert_eq!(doc["LastProcessingResult"], json!("No records processed"));
    assert_eq!(doc["StateTransitionReason"], json!("User action"));
    assert_eq!(doc["MaximumRetryAttempts"], json!(-1));
}

#[test]
fn dynamodb_streams_refuse_at_timestamp() {
    let arn = "arn:aws:dynamodb:us-east-1:1:table/T/stream/2024";
    let body = req(json!({"EventSourceArn": arn, "StartingPosition": "AT_TIMESTAMP"}));
    let e = create(&body, SourceKind::DynamoDbStreams, "u", "f", "m").expect_err("refused");
    assert_eq!(
        e.message(),
        format!("Unsupported starting position for arn type: {arn}")
    );
}

#[test]
fn update_disables_and_clears_filters() {
    let doc =
        sqs(json!({"FilterCriteria": {"Filters": [{"Pattern": "{\"body\":{\"k\":[\"a\"]}}"}]}}))
            .expect("valid");
    assert!(doc.contains_key("FilterCriteria"));
    let next = update(
        &doc,
        &req(json!({"Enabled": false, "FilterCriteria": {}})),
        SourceKind::Sqs,
    )
    .expect("valid");
    assert_eq!(next["State"], json!("Disabled"));
    assert!(!next.contains_key("FilterCriteria"));
    assert!(!MappingSettings::of(&next).enabled);
}
