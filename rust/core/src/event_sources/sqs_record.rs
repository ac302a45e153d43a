//! An SQS message, as the JSON protocol's ReceiveMessage returns it, turned into the record of
//! Lambda's SQS event (docs/reference.md §16.2).

use serde_json::{json, Map, Value};

/// The event record of `message`, received from the queue `queue_arn` in `region`.
pub fn record(message: &Value, queue_arn: &str, region: &str) -> Value {
    let text = |k: &str| message.get(k).and_then(Value::as_str).unwrap_or_default();
    let attributes = message
        .get("Attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    json!({
        "messageId": text("MessageId"),
        "receiptHandle": text("ReceiptHandle"),
        "body": text("Body"),
        "attributes": attributes,
        "messageAttributes": message_attributes(message.get("MessageAttributes")),
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes").cloned().unwrap_or(Value::Null),
        "md5OfBody": text("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
}

/// SQS's message attributes with the event's lower-case keys; the list keys always present.
fn message_attributes(attrs: Option<&Value>) -> Value {
    let mut out = Map::new();
    for (name, a) in attrs.and_then(Value::as_object).into_iter().flatten() {
        let mut v = Map::new();
        if let Some(s) = a.get("StringValue") {
            v.insert("stringValue".into(), s.clone());
        }
        if let Some(b) = a.get("BinaryValue") {
            v.insert("binaryValue".into(), b.clone());
        }
        let list = |k: &str| a.get(k).cloned().unwrap_or_else(|| json!([]));
        v.insert("stringListValues".into(), list("StringListValues"));
        v.insert("binaryListValues".into(), list("BinaryListValues"));
        v.insert(
            "dataType".into(),
            a.get("DataType").cloned().unwrap_or(Value::Null),
        );
        out.insert(name.clone(), Value::Object(v));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_becomes_the_record_of_the_sqs_event() {
        let message = json!({
            "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "Body": "Test message.",
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
            "MD5OfMessageAttributes": "00484c68c9f4bbb1d7d6d2a0f3b1b4d8",
            "MessageAttributes": {"Author": {"StringValue": "John", "DataType": "String"}},
        });
        let r = record(
            &message,
            "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "us-east-2",
        );
        assert_eq!(
            r,
            json!({
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": "Test message.",
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
                "messageAttributes": {"Author": {"stringValue": "John", "stringListValues": [],
                    "binaryListValues": [], "dataType": "String"}},
                "md5OfMessageAttributes": "00484c68c9f4bbb1d7d6d2a0f3b1b4d8",
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
                "awsRegion": "us-east-2",
            })
        );
    }

    #[test]
    fn a_message_without_attributes_has_null_md5_and_empty_attributes() {
        let r = record(
            &json!({"MessageId": "m", "Body": "{}"}),
            "arn:aws:sqs:r:1:q",
            "r",
        );
        assert_eq!(r["md5OfMessageAttributes"], Value::Null);
        assert_eq!(r["messageAttributes"], json!({}));
        assert_eq!(r["attributes"], json!({}));
    }
}
