//! What the property tests share: how many cases each runs (modest by default, as the suite
//! shares 2 cores; many more with `LAMBDA_RIE_STRESS=full`, or exactly `PROPTEST_CASES`), and
//! the check of AWS's service error shape. Unit tests use it as `crate::proptest_cases`, the
//! integration tests under `tests/` include this same file.

use proptest::test_runner::Config;

/// A proptest configuration of `small` cases, `full` with `LAMBDA_RIE_STRESS=full`, or
/// `PROPTEST_CASES` when set.
pub fn config(small: u32, full: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            if std::env::var("LAMBDA_RIE_STRESS").as_deref() == Ok("full") {
                full
            } else {
                small
            }
        });
    Config {
        cases,
        ..Config::default()
    }
}

/// Check a service error answer of the Invoke API against AWS's shape: a 4xx status, and a
/// JSON object `{"Type": "User", "message": "..."}`, with `Message` instead only on a 404
/// (function not found) and an optional `Reason` (throttles). Returns the message.
pub fn service_error_message(status: u16, body: &[u8]) -> Result<String, String> {
    if !(400..500).contains(&status) {
        return Err(format!("status {status} is not a client error"));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("body is not JSON ({e}): {}", String::from_utf8_lossy(body)))?;
    let object = value
        .as_object()
        .ok_or_else(|| format!("body is not an object: {value}"))?;
    if object.get("Type").and_then(serde_json::Value::as_str) != Some("User") {
        return Err(format!("no \"Type\": \"User\" in {value}"));
    }
    let key = if status == 404 && object.contains_key("Message") {
        "Message"
    } else {
        "message"
    };
    let allowed = ["Type", key, "Reason"];
    if let Some(extra) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unexpected key {extra} in {value}"));
    }
    object
        .get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no string \"{key}\" in {value}"))
}
