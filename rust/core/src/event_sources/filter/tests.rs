//! Tests of FilterCriteria: each operator, AND/OR, nesting, arrays, invalid patterns, the views.

use serde_json::{json, Value};

use super::{view, Filters};
use crate::event_sources::source::SourceKind;

const INVALID: &str = "Invalid filter pattern definition.";

fn criteria(patterns: &[Value]) -> Value {
    let filters: Vec<Value> = patterns
        .iter()
        .map(|p| json!({"Pattern": p.to_string()}))
        .collect();
    json!({"Filters": filters})
}

fn compiled(pattern: &Value) -> Filters {
    match Filters::compile(&criteria(std::slice::from_ref(pattern)), SourceKind::Sqs) {
        Ok(filters) => filters,
        Err(e) => panic!("{pattern} refused: {e}"),
    }
}

/// Whether `record` passes a single `pattern`.
fn passes(pattern: &Value, record: &Value) -> bool {
    compiled(pattern).matches(record)
}

fn refused(pattern: &str, kind: SourceKind) -> String {
    let criteria = json!({"Filters": [{"Pattern": pattern}]});
    match Filters::compile(&criteria, kind) {
        Ok(_) => panic!("{pattern} accepted"),
        Err(e) => e,
    }
}

#[test]
fn no_filters_lets_every_record_through() {
    for empty in [
        json!(null),
        json!({}),
        json!({"Filters": []}),
        json!({"Filters": null}),
    ] {
        let filters = Filters::compile(&empty, SourceKind::Sqs).expect("no filters");
        assert!(filters.is_empty());
        assert!(filters.matches(&json!({"body": "x"})));
    }
    assert!(!compiled(&json!({"a": ["x"]})).is_empty());
}

#[test]
fn exact_values_are_compared_case_sensitively() {
    let p = json!({"name": ["Alice"]});
    assert!(passes(&p, &json!({"name": "Alice"})));
    assert!(!passes(&p, &json!({"name": "alice"})));
    assert!(!passes(&p, &json!({"other": "Alice"})));
    assert!(passes(&json!({"ok": [true]}), &json!({"ok": true})));
    assert!(!passes(&json!({"ok": [true]}), &json!({"ok": "true"})));
    assert!(passes(&json!({"v": [null]}), &json!({"v": null})));
    assert!(!passes(&json!({"v": [null]}), &json!({})));
    assert!(passes(&json!({"v": [""]}), &json!({"v": ""})));
    assert!(!passes(&json!({"v": [""]}), &json!({"v": null})));
}

#[test]
fn numbers_are_equal_only_when_written_alike() {
    // AWS compares exact numbers by their text: 300 and 300.0 differ; `numeric` compares values.
    assert!(passes(&json!({"n": [300]}), &json!({"n": 300})));
    assert!(!passes(&json!({"n": [300]}), &json!({"n": 300.0})));
    assert!(!passes(&json!({"n": [300.0]}), &json!({"n": 300})));
    assert!(!passes(&json!({"n": [300]}), &json!({"n": "300"})));
    assert!(passes(
        &json!({"n": [{"numeric": ["=", 300]}]}),
        &json!({"n": 300.0})
    ));
}

#[test]
fn alternatives_are_or_and_keys_are_and() {
    let p = json!({"state": ["A", "B"], "kind": ["k"]});
    assert!(passes(&p, &json!({"state": "B", "kind": "k"})));
    assert!(!passes(&p, &json!({"state": "C", "kind": "k"})));
    assert!(!passes(&p, &json!({"state": "A", "kind": "j"})));
    assert!(!passes(&p, &json!({"state": "A"})));
}

#[test]
fn any_of_several_patterns_lets_a_record_through() {
    let criteria = criteria(&[json!({"a": ["1"]}), json!({"b": ["2"]})]);
    let filters = Filters::compile(&criteria, SourceKind::Sqs).expect("valid");
    assert!(filters.matches(&json!({"a": "1"})));
    assert!(filters.matches(&json!({"b": "2"})));
    assert!(!filters.matches(&json!({"a": "2", "b": "1"})));
}

#[test]
fn patterns_nest_into_the_record() {
    let p = json!({"body": {"order": {"status": ["paid"]}}});
    assert!(passes(
        &p,
        &json!({"body": {"order": {"status": "paid", "id": 1}}})
    ));
    assert!(!passes(&p, &json!({"body": {"order": {"status": "open"}}})));
    assert!(!passes(&p, &json!({"body": {"order": "paid"}})));
    assert!(!passes(&p, &json!({"body": "paid"})));
}

#[test]
fn prefix_suffix_and_ignore_case() {
    assert!(passes(
        &json!({"r": [{"prefix": "us-"}]}),
        &json!({"r": "us-east-1"})
    ));
    assert!(!passes(
        &json!({"r": [{"prefix": "us-"}]}),
        &json!({"r": "eu-west-1"})
    ));
    assert!(!passes(&json!({"r": [{"prefix": "1"}]}), &json!({"r": 12})));
    assert!(passes(
        &json!({"f": [{"suffix": ".png"}]}),
        &json!({"f": "a.png"})
    ));
    assert!(!passes(
        &json!({"f": [{"suffix": ".png"}]}),
        &json!({"f": "a.PNG"})
    ));
    let ci = json!({"f": [{"suffix": {"equals-ignore-case": ".png"}}]});
    assert!(passes(&ci, &json!({"f": "a.PNG"})));
    let ci = json!({"s": [{"prefix": {"equals-ignore-case": "EventB"}}]});
    assert!(passes(&ci, &json!({"s": "eventbridge"})));
    let eq = json!({"n": [{"equals-ignore-case": "alice"}]});
    assert!(passes(&eq, &json!({"n": "ALICE"})));
    assert!(!passes(&eq, &json!({"n": "alicia"})));
}

#[test]
fn anything_but_forms() {
    let one = json!({"w": [{"anything-but": "Raining"}]});
    assert!(passes(&one, &json!({"w": "Sunny"})));
    assert!(!passes(&one, &json!({"w": "Raining"})));
    assert!(
        !passes(&one, &json!({})),
        "a missing key is not anything-but"
    );
    let list = json!({"w": [{"anything-but": ["Raining", "Snowing"]}]});
    assert!(!passes(&list, &json!({"w": "Snowing"})));
    assert!(passes(&list, &json!({"w": "Hail"})));
    let num = json!({"n": [{"anything-but": 123}]});
    assert!(passes(&num, &json!({"n": 124})));
    assert!(!passes(&num, &json!({"n": 123})));
    let prefix = json!({"r": [{"anything-but": {"prefix": "us-"}}]});
    assert!(passes(&prefix, &json!({"r": "eu-west-1"})));
    assert!(!passes(&prefix, &json!({"r": "us-east-1"})));
    let suffix = json!({"f": [{"anything-but": {"suffix": ".png"}}]});
    assert!(!passes(&suffix, &json!({"f": "a.png"})));
    let ci = json!({"s": [{"anything-but": {"equals-ignore-case": ["on", "off"]}}]});
    assert!(!passes(&ci, &json!({"s": "OFF"})));
    assert!(passes(&ci, &json!({"s": "idle"})));
}

#[test]
fn numeric_ranges() {
    let range = json!({"p": [{"numeric": [">", 0, "<=", 5]}]});
    assert!(passes(&range, &json!({"p": 5})));
    assert!(passes(&range, &json!({"p": 0.5})));
    assert!(!passes(&range, &json!({"p": 0})));
    assert!(!passes(&range, &json!({"p": 5.01})));
    assert!(!passes(&range, &json!({"p": "3"})));
    assert!(passes(
        &json!({"p": [{"numeric": ["<", 10]}]}),
        &json!({"p": -3})
    ));
    assert!(passes(
        &json!({"p": [{"numeric": [">=", 10]}]}),
        &json!({"p": 10})
    ));
    assert!(passes(
        &json!({"p": [{"numeric": ["=", 1.5]}]}),
        &json!({"p": 1.5})
    ));
}

#[test]
fn exists_true_and_false() {
    let present = json!({"k": [{"exists": true}]});
    let absent = json!({"k": [{"exists": false}]});
    assert!(passes(&present, &json!({"k": "v"})));
    assert!(passes(&present, &json!({"k": null})));
    assert!(!passes(&present, &json!({})));
    assert!(passes(&absent, &json!({})));
    assert!(!passes(&absent, &json!({"k": 0})));
    // Operators apply to leaves: a key holding an object does not exist as a leaf.
    assert!(!passes(&present, &json!({"k": {"x": 1}})));
    assert!(passes(&absent, &json!({"k": {"x": 1}})));
    // Nested keys need their parent object, even for exists:false.
    let nested = json!({"a": {"b": [{"exists": false}]}});
    assert!(passes(&nested, &json!({"a": {"c": 1}})));
    assert!(!passes(&nested, &json!({"a": {"b": 1}})));
    assert!(!passes(&nested, &json!({"c": 1})));
    assert!(!passes(&nested, &json!({"a": "plain"})));
}

#[test]
fn array_values_match_when_any_element_does() {
    let p = json!({"tags": ["red"]});
    assert!(passes(&p, &json!({"tags": ["blue", "red"]})));
    assert!(!passes(&p, &json!({"tags": ["blue"]})));
    assert!(!passes(&p, &json!({"tags": []})));
    assert!(passes(
        &json!({"tags": [{"exists": false}]}),
        &json!({"tags": []})
    ));
    let numeric = json!({"v": [{"numeric": [">", 10]}]});
    assert!(passes(&numeric, &json!({"v": [1, 20]})));
    // Nested conditions must hold within one element.
    let nested = json!({"items": {"sku": ["a"], "qty": [2]}});
    assert!(passes(
        &nested,
        &json!({"items": [{"sku": "b", "qty": 2}, {"sku": "a", "qty": 2}]})
    ));
    assert!(!passes(
        &nested,
        &json!({"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]})
    ));
}

#[test]
fn malformed_patterns_are_refused_with_aws_message() {
    for pattern in [
        "",
        "not json",
        "[\"a\"]",
        "\"a\"",
        "{\"a\": \"x\"}",
        "{\"a\": 5}",
        "{\"a\": null}",
        "{\"a\": [[\"x\"]]}",
        "{\"a\": [{\"contains\": \"x\"}]}",
        "{\"a\": [{\"prefix\": \"x\", \"suffix\": \"y\"}]}",
        "{\"a\": [{\"prefix\": 5}]}",
        "{\"a\": [{\"exists\": \"yes\"}]}",
        "{\"a\": [{\"equals-ignore-case\": 1}]}",
        "{\"a\": [{\"anything-but\": []}]}",
        "{\"a\": [{\"anything-but\": [true]}]}",
        "{\"a\": [{\"anything-but\": {\"contains\": \"x\"}}]}",
        "{\"a\": [{\"numeric\": []}]}",
        "{\"a\": [{\"numeric\": [\">\"]}]}",
        "{\"a\": [{\"numeric\": [\"!=\", 1]}]}",
        "{\"a\": [{\"numeric\": [\">\", \"1\"]}]}",
        "{\"a\": [{\"numeric\": [\"<\", 5, \">\", 1]}]}",
        "{\"a\": [{\"numeric\": [\">\", 5, \"<\", 1]}]}",
        "{\"a\": [{\"numeric\": [\"=\", 1, \"<\", 5]}]}",
        "{\"a\": [{\"numeric\": [\">\", 0, \"<\", 5, \"<\", 6]}]}",
    ] {
        assert_eq!(refused(pattern, SourceKind::Sqs), INVALID, "{pattern}");
    }
}

#[test]
fn patterns_over_4096_characters_are_refused() {
    let fits = format!("{{\"a\":[\"{}\"]}}", "x".repeat(4096 - 10));
    assert_eq!(fits.chars().count(), 4096);
    let criteria = json!({"Filters": [{"Pattern": fits}]});
    assert!(Filters::compile(&criteria, SourceKind::Sqs).is_ok());
    let over = format!("{{\"a\":[\"{}\"]}}", "x".repeat(4096 - 9));
    assert_eq!(refused(&over, SourceKind::Sqs), INVALID);
}

#[test]
fn the_filter_list_shape_is_checked() {
    let bad = [
        json!("x"),
        json!({"Filters": "x"}),
        json!({"Filters": [{}]}),
        json!({"Filters": [{"Pattern": 5}]}),
        json!({"Filters": ["{}"]}),
    ];
    for criteria in bad {
        let err = Filters::compile(&criteria, SourceKind::Sqs).err();
        assert_eq!(err.as_deref(), Some(INVALID), "{criteria}");
    }
    let six = criteria(&vec![json!({"a": ["x"]}); 6]);
    let err = Filters::compile(&six, SourceKind::Sqs).err();
    assert_eq!(err.as_deref(), Some("The maximum number of filters is 5."));
    assert!(Filters::compile(&criteria(&vec![json!({"a": ["x"]}); 5]), SourceKind::Sqs).is_ok());
}

#[test]
fn stream_payload_patterns_must_be_objects() {
    assert_eq!(refused(r#"{"data": ["x"]}"#, SourceKind::Kinesis), INVALID);
    assert_eq!(
        refused(
            r#"{"dynamodb": [{"exists": true}]}"#,
            SourceKind::DynamoDbStreams
        ),
        INVALID
    );
    let ok = json!({"Filters": [{"Pattern": r#"{"data": {"t": ["x"]}}"#}]});
    assert!(Filters::compile(&ok, SourceKind::Kinesis).is_ok());
    // SQS bodies may be plain strings, so a plain-string body pattern is fine.
    let body = json!({"Filters": [{"Pattern": r#"{"body": ["hello"]}"#}]});
    assert!(Filters::compile(&body, SourceKind::Sqs).is_ok());
}

#[test]
fn sqs_view_parses_json_bodies_only() {
    let record = json!({"messageId": "m", "body": "{\"a\":1}", "attributes": {"ApproximateReceiveCount": "1"}});
    let seen = view(SourceKind::Sqs, &record);
    assert_eq!(seen["body"], json!({"a": 1}));
    assert_eq!(seen["attributes"], record["attributes"]);
    let plain = view(SourceKind::Sqs, &json!({"body": "hello"}));
    assert_eq!(plain["body"], json!("hello"));
    let scalar = view(SourceKind::Sqs, &json!({"body": "42"}));
    assert_eq!(scalar["body"], json!("42"));
    // A JSON pattern never matches a plain body, nor a plain pattern a JSON body.
    assert!(!passes(&json!({"body": {"a": [1]}}), &plain));
    assert!(!passes(&json!({"body": ["{\"a\":1}"]}), &seen));
    assert!(passes(&json!({"body": ["hello"]}), &plain));
    assert!(passes(&json!({"body": {"a": [1]}}), &seen));
}

#[test]
fn kinesis_view_decodes_data() {
    // {"temperature":42} in base64
    let record = json!({
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": "49",
                    "data": "eyJ0ZW1wZXJhdHVyZSI6NDJ9", "approximateArrivalTimestamp": 1_545_084_650.987},
        "eventSource": "aws:kinesis", "awsRegion": "us-east-2"});
    let seen = view(SourceKind::Kinesis, &record);
    assert_eq!(
        seen,
        json!({"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": "49",
               "data": {"temperature": 42}, "approximateArrivalTimestamp": 1_545_084_650.987,
               "eventSource": "aws:kinesis", "awsRegion": "us-east-2"})
    );
    assert!(passes(
        &json!({"data": {"temperature": [{"numeric": [">", 40]}]}}),
        &seen
    ));
    assert!(passes(&json!({"partitionKey": ["1"]}), &seen));
    // "Hello, this is a test." is not JSON: data is left out and a data pattern fails.
    let mut text = record.clone();
    text["kinesis"]["data"] = json!("SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==");
    let seen = view(SourceKind::Kinesis, &text);
    assert_eq!(seen.get("data"), None);
    assert!(!passes(
        &json!({"data": {"temperature": [{"exists": false}]}}),
        &seen
    ));
    assert!(passes(&json!({"partitionKey": ["1"]}), &seen));
}

#[test]
fn dynamodb_view_is_the_record() {
    let record = json!({"eventName": "INSERT",
        "dynamodb": {"Keys": {"Id": {"N": "101"}}, "NewImage": {"Message": {"S": "New item!"}}}});
    let seen = view(SourceKind::DynamoDbStreams, &record);
    assert_eq!(seen, record);
    let p = json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"Id": {"N": ["101"]}}}});
    let criteria = json!({"Filters": [{"Pattern": p.to_string()}]});
    let filters = Filters::compile(&criteria, SourceKind::DynamoDbStreams).expect("valid");
    assert!(filters.matches(&seen));
    assert!(!filters.matches(&json!({"eventName": "REMOVE", "dynamodb": record["dynamodb"]})));
}
