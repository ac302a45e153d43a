//! The record as a mapping's filters see it: SQS bodies and Kinesis data parsed as JSON.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::event_sources::source::SourceKind;

/// The record as filtering sees it. SQS: the record with `body` parsed when it holds a JSON
/// object or array (kept a string otherwise). Kinesis: the `kinesis` fields (`partitionKey`,
/// `sequenceNumber`, ...) next to the envelope's (`eventSource`, `awsRegion`, ...), with `data`
/// base64-decoded and parsed (left out when it is not a JSON object or array, so a `data`
/// pattern fails). DynamoDB: the record as is.
pub fn view(kind: SourceKind, record: &Value) -> Value {
    match kind {
        SourceKind::Sqs => {
            let mut view = record.clone();
            if let Some(body) = view.get_mut("body") {
                if let Some(parsed) = body.as_str().and_then(structured_json) {
                    *body = parsed;
                }
            }
            view
        }
        SourceKind::Kinesis => kinesis_view(record),
        SourceKind::DynamoDbStreams => record.clone(),
    }
}

// NOTE: Lambda's Kinesis patterns name `data` at the top (`{"data":{..}}`); the 2023 guide also
// filters the other `kinesis` fields (`partitionKey`), the current one documents `data` only.
// Keeping every field (envelope keys too, unverified) lets such patterns match rather than
// silently drop every record.
fn kinesis_view(record: &Value) -> Value {
    let mut view: Map<String, Value> = record
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k != "kinesis")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(fields) = record.get("kinesis").and_then(Value::as_object) {
        view.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let data = view.remove("data");
    let decoded = data
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| structured_json(&text));
    if let Some(decoded) = decoded {
        view.insert("data".to_owned(), decoded);
    }
    Value::Object(view)
}

/// `text` parsed, when it is a JSON object or array.
// NOTE: a body such as `42` or `true` is plain text to its sender, so a plain-string pattern
// (`["42"]`) keeps matching it; only structured JSON is parsed.
fn structured_json(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}
