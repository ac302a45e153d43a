//! The partial batch response (`ReportBatchItemFailures`): which items of a batch the function
//! reports as failed (docs/reference.md §16).

use serde_json::Value;

/// What a `ReportBatchItemFailures` response says: all succeeded, these item identifiers
/// failed, or the response is malformed (the whole batch failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResponse {
    /// Every item succeeded.
    AllSucceeded,
    /// These items failed (in the response's order, each once); the others succeeded.
    Failed(Vec<String>),
    /// The response breaks the rules: the whole batch failed.
    Invalid,
}

/// Parse a function's response for `batchItemFailures`; `ids` = the batch's item identifiers
/// (SQS messageIds or sequence numbers). An empty or null response, or an empty, null or
/// missing list → AllSucceeded; invalid JSON, an item without `itemIdentifier` (a wrong key),
/// an empty or null `itemIdentifier`, or one not among `ids` → Invalid.
pub fn parse_batch_response(payload: &[u8], ids: &[&str]) -> BatchResponse {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return BatchResponse::AllSucceeded;
    }
    let Ok(response) = serde_json::from_slice::<Value>(payload) else {
        return BatchResponse::Invalid;
    };
    let items = match &response {
        Value::Null => return BatchResponse::AllSucceeded,
        Value::Object(map) => match map.get("batchItemFailures") {
            None | Some(Value::Null) => return BatchResponse::AllSucceeded,
            Some(Value::Array(items)) => items,
            Some(_) => return BatchResponse::Invalid,
        },
        // NOTE: unverified: a response that is JSON but no object (a string, a number, a list)
        // is not a partial batch response at all; it is taken as malformed, like invalid JSON.
        _ => return BatchResponse::Invalid,
    };
    let mut failed: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let id = item.get("itemIdentifier").and_then(Value::as_str);
        match id {
            Some(id) if !id.is_empty() && ids.contains(&id) => {
                if !failed.iter().any(|f| f == id) {
                    failed.push(id.to_owned());
                }
            }
            _ => return BatchResponse::Invalid,
        }
    }
    if failed.is_empty() {
        BatchResponse::AllSucceeded
    } else {
        BatchResponse::Failed(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 3] = ["m1", "m2", "m3"];

    fn parse(payload: &str) -> BatchResponse {
        parse_batch_response(payload.as_bytes(), &IDS)
    }

    #[test]
    fn empty_or_null_responses_and_lists_are_full_success() {
        for payload in [
            "",
            "  \n",
            "null",
            "{}",
            r#"{"batchItemFailures": []}"#,
            r#"{"batchItemFailures": null}"#,
            r#"{"statusCode": 200}"#,
        ] {
            assert_eq!(parse(payload), BatchResponse::AllSucceeded, "{payload:?}");
        }
    }

    #[test]
    fn listed_items_failed() {
        let payload =
            r#"{"batchItemFailures": [{"itemIdentifier": "m3"}, {"itemIdentifier": "m1"}]}"#;
        assert_eq!(
            parse(payload),
            BatchResponse::Failed(vec!["m3".to_owned(), "m1".to_owned()])
        );
        let twice =
            r#"{"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m2"}]}"#;
        assert_eq!(parse(twice), BatchResponse::Failed(vec!["m2".to_owned()]));
    }

    #[test]
    fn sequence_numbers_identify_stream_records() {
        let ids = ["49590338271490256608559692538361571095921575989136588898"];
        let payload = format!(
            r#"{{"batchItemFailures":[{{"itemIdentifier":"{}"}}]}}"#,
            ids[0]
        );
        assert_eq!(
            parse_batch_response(payload.as_bytes(), &ids),
            BatchResponse::Failed(vec![ids[0].to_owned()])
        );
    }

    #[test]
    fn malformed_responses_fail_the_whole_batch() {
        for payload in [
            "{not json",
            r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            r#"{"batchItemFailures": [{"ItemIdentifier": "m1"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "m9"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m9"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": 1}]}"#,
            r#"{"batchItemFailures": ["m1"]}"#,
            r#"{"batchItemFailures": "m1"}"#,
            r#""done""#,
            "[]",
        ] {
            assert_eq!(parse(payload), BatchResponse::Invalid, "{payload}");
        }
    }
}
