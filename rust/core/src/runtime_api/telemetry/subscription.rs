//! One subscription: the request AWS accepts (destination, types, buffering and their
//! ranges), the record shapes of the Telemetry API and of the older Logs API, and the task
//! that batches records and POSTs them as JSON arrays.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::Buffering;

/// Which API the subscription came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `PUT /2022-07-01/telemetry`.
    Telemetry,
    /// `PUT /2020-08-15/logs` (the legacy Logs API).
    Logs,
}

/// A validated subscription request.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Which API (and so which record shapes).
    pub api: Api,
    /// `platform`, `function`, `extension`.
    pub types: [bool; 3],
    /// Where batches go: `http://127.0.0.1:<port>/<path>`.
    pub destination: String,
    /// Batching.
    pub buffering: Buffering,
}

/// Why a subscription request is refused: the message of AWS's `ValidationError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// The body is no JSON.
    #[error("The request body is not valid JSON: {0}")]
    NotJson(String),
    /// No `schemaVersion` (Telemetry API).
    #[error("schemaVersion is required")]
    NoSchema,
    /// A `schemaVersion` AWS does not have.
    #[error("Unsupported schemaVersion: {0}")]
    UnsupportedSchema(String),
    /// No `types`, or an empty list.
    #[error("types must be a non-empty list")]
    NoTypes,
    /// A type other than `platform`, `function`, `extension`.
    #[error("Unsupported type: {0}")]
    UnsupportedType(String),
    /// A buffering value out of AWS's range.
    #[error("buffering.{name} must be between {min} and {max}")]
    Buffering {
        /// `maxItems`, `maxBytes` or `timeoutMs`.
        name: &'static str,
        /// Least value.
        min: u64,
        /// Greatest value.
        max: u64,
    },
    /// No `destination`.
    #[error("destination is required")]
    NoDestination,
    /// No `destination.protocol`.
    #[error("destination.protocol is required")]
    NoProtocol,
    /// A protocol other than HTTP.
    #[error("Unsupported destination protocol: {0} (lambda-rie delivers over HTTP)")]
    UnsupportedProtocol(String),
    /// No `destination.URI`.
    #[error("destination.URI is required")]
    NoUri,
    /// A URI that is not `http://<loopback>:<port>/...`; `why` says what is missing.
    #[error("Invalid destination URI: {uri}{why}")]
    InvalidUri {
        /// The URI given.
        uri: String,
        /// What is wrong, after the URI (may be empty).
        why: &'static str,
    },
}

/// Telemetry API schema versions AWS accepts.
const TELEMETRY_SCHEMAS: &[&str] = &["2022-07-01", "2022-12-13", "2025-01-29"];
/// Host names that mean the environment's own loopback.
const LOOPBACK_HOSTS: &[&str] = &["sandbox.localdomain", "sandbox", "localhost", "127.0.0.1"];

/// AWS's ranges and defaults: (min, max, default).
const MAX_ITEMS: (u64, u64, u64) = (1000, 10_000, 10_000);
const MAX_BYTES: (u64, u64, u64) = (262_144, 1_048_576, 262_144);
const TIMEOUT_MS: (u64, u64, u64) = (25, 30_000, 1000);

impl Subscription {
    /// Parse and check a subscription body.
    pub fn parse(api: Api, body: &[u8]) -> Result<Self, SubscriptionError> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| SubscriptionError::NotJson(e.to_string()))?;
        if api == Api::Telemetry {
            match v.get("schemaVersion").and_then(Value::as_str) {
                Some(s) if TELEMETRY_SCHEMAS.contains(&s) => {}
                Some(s) => return Err(SubscriptionError::UnsupportedSchema(s.to_owned())),
                None => return Err(SubscriptionError::NoSchema),
            }
        }
        let destination = destination(v.get("destination"))?;
        let mut types = [false; 3];
        let listed = v
            .get("types")
            .and_then(Value::as_array)
            .filter(|t| !t.is_empty())
            .ok_or(SubscriptionError::NoTypes)?;
        for t in listed {
            match t.as_str() {
                Some("platform") => types[0] = true,
                Some("function") => types[1] = true,
                Some("extension") => types[2] = true,
                Some(other) => return Err(SubscriptionError::UnsupportedType(other.to_owned())),
                None => return Err(SubscriptionError::UnsupportedType(t.to_string())),
            }
        }
        let buffering = v.get("buffering");
        let field = |name: &'static str, (min, max, default): (u64, u64, u64)| match buffering
            .and_then(|b| b.get(name))
        {
            None => Ok(default),
            Some(n) => match n.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(SubscriptionError::Buffering { name, min, max }),
            },
        };
        let buffering = Buffering {
            max_items: usize::try_from(field("maxItems", MAX_ITEMS)?).unwrap_or(usize::MAX),
            max_bytes: usize::try_from(field("maxBytes", MAX_BYTES)?).unwrap_or(usize::MAX),
            timeout: Duration::from_millis(field("timeoutMs", TIMEOUT_MS)?),
        };
        Ok(Self {
            api,
            types,
            destination,
            buffering,
        })
    }
}

/// `{"protocol": "HTTP", "URI": "http://sandbox.localdomain:PORT/path"}` → a loopback URL.
fn destination(d: Option<&Value>) -> Result<String, SubscriptionError> {
    let d = d.ok_or(SubscriptionError::NoDestination)?;
    match d.get("protocol").and_then(Value::as_str) {
        Some("HTTP") => {}
        Some(other) => return Err(SubscriptionError::UnsupportedProtocol(other.to_owned())),
        None => return Err(SubscriptionError::NoProtocol),
    }
    let uri = d
        .get("URI")
        .and_then(Value::as_str)
        .ok_or(SubscriptionError::NoUri)?;
    let invalid = |why: &'static str| SubscriptionError::InvalidUri {
        uri: uri.to_owned(),
        why,
    };
    let rest = uri.strip_prefix("http://").ok_or_else(|| invalid(""))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| invalid(" (a port is required)"))?;
    if !LOOPBACK_HOSTS.contains(&host) {
        return Err(invalid(
            " (the listener must be in the execution environment)",
        ));
    }
    let port: u16 = port.parse().map_err(|_| invalid(""))?;
    Ok(format!("http://127.0.0.1:{port}/{path}"))
}

impl Api {
    /// The type and record this API sends for a record, or `None` when it has no such record.
    pub(super) fn shape(self, kind: &'static str, record: &Value) -> Option<(&'static str, Value)> {
        if self == Api::Telemetry {
            return Some((kind, record.clone()));
        }
        // NOTE: the Logs API predates the init and runtimeDone records; its END is platform.end.
        let request_id = record.get("requestId").cloned().unwrap_or(Value::Null);
        match kind {
            "function" | "extension" => Some((kind, record.clone())),
            "platform.start" => Some((
                kind,
                json!({"requestId": request_id, "version": crate::aws::LATEST}),
            )),
            "platform.runtimeDone" => Some(("platform.end", json!({"requestId": request_id}))),
            "platform.report" => Some((
                kind,
                json!({"requestId": request_id, "metrics": record.get("metrics")}),
            )),
            _ => None,
        }
    }
}

/// Batch records and POST them to `destination` until the hub drops the subscription.
pub(super) async fn deliver(
    destination: String,
    buffering: Buffering,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicUsize>,
) {
    let mut batch: Vec<Bytes> = Vec::new();
    let mut bytes = 0usize;
    loop {
        let item = if batch.is_empty() {
            rx.recv().await
        } else {
            let waited = tokio::time::timeout(buffering.timeout, rx.recv()).await;
            if let Ok(item) = waited {
                item
            } else {
                send(&destination, &mut batch, &mut bytes).await;
                continue;
            }
        };
        let Some(item) = item else { break };
        queued.fetch_sub(item.len(), Ordering::AcqRel);
        bytes += item.len();
        batch.push(item);
        if batch.len() >= buffering.max_items || bytes >= buffering.max_bytes {
            send(&destination, &mut batch, &mut bytes).await;
        }
    }
    if !batch.is_empty() {
        send(&destination, &mut batch, &mut bytes).await;
    }
}

async fn send(destination: &str, batch: &mut Vec<Bytes>, bytes: &mut usize) {
    let mut body = Vec::with_capacity(*bytes + batch.len() + 2);
    body.push(b'[');
    for (i, item) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.push(b']');
    batch.clear();
    *bytes = 0;
    if let Err(e) = crate::destinations::post(destination, &body).await {
        crate::logs::message(
            crate::config::LogLevel::Debug,
            &format!("telemetry batch to {destination} not delivered: {e}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_telemetry_subscription() {
        let body = br#"{"schemaVersion": "2022-12-13", "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/in"}, "types": ["platform", "function"], "buffering": {"timeoutMs": 25}}"#;
        let s = Subscription::parse(Api::Telemetry, body).unwrap();
        assert_eq!(s.destination, "http://127.0.0.1:4243/in");
        assert_eq!(s.types, [true, true, false]);
        assert_eq!(s.buffering.timeout, Duration::from_millis(25));
        assert_eq!(s.buffering.max_items, 10_000);
    }

    #[test]
    fn refuses_what_aws_refuses() {
        let bad = [
            &br#"{"destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:1/"}, "types": ["platform"]}"#[..],
            br#"{"schemaVersion": "2022-12-13", "destination": {"protocol": "HTTP", "URI": "http://example.com:1/"}, "types": ["platform"]}"#,
            br#"{"schemaVersion": "2022-12-13", "destination": {"protocol": "HTTP", "URI": "http://sandbox:1/"}, "types": []}"#,
            br#"{"schemaVersion": "2022-12-13", "destination": {"protocol": "HTTP", "URI": "http://sandbox:1/"}, "types": ["platform"], "buffering": {"maxItems": 5}}"#,
        ];
        for body in bad {
            assert!(Subscription::parse(Api::Telemetry, body).is_err());
        }
    }

    #[test]
    fn names_an_unsupported_type_as_given() {
        let body = br#"{"schemaVersion": "2022-12-13", "destination": {"protocol": "HTTP", "URI": "http://sandbox:1/"}, "types": ["bogus"]}"#;
        let refused = Subscription::parse(Api::Telemetry, body).unwrap_err();
        assert_eq!(refused.to_string(), "Unsupported type: bogus");
    }
}
