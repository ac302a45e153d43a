//! The Telemetry API (`PUT /2022-07-01/telemetry`) and the legacy Logs API (`/2020-08-15/logs`)
//! of one execution environment: subscriptions, and batched delivery of platform, function
//! and extension records to each subscriber's loopback HTTP listener.

mod records;
mod subscription;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub use records::{init_report, init_runtime_done, init_start, report, runtime_done, start};
pub use subscription::{Api, Subscription};

/// Records kept from the start of an init phase for extensions that subscribe during it.
const BACKLOG_LIMIT: usize = 1000;

/// The three record categories a subscription chooses from (`types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `platform.*` events.
    Platform,
    /// The function's log lines.
    Function,
    /// Extensions' log lines.
    Extension,
}

impl Category {
    fn index(self) -> usize {
        match self {
            Self::Platform => 0,
            Self::Function => 1,
            Self::Extension => 2,
        }
    }
}

/// One record before it is shaped for a subscriber's API.
#[derive(Debug, Clone)]
struct Record {
    category: Category,
    time: String,
    kind: &'static str,
    body: Value,
}

struct Subscriber {
    api: Api,
    types: [bool; 3],
    tx: mpsc::UnboundedSender<Bytes>,
}

#[derive(Default)]
struct Hub {
    subscribers: Vec<Subscriber>,
    backlog: Option<Vec<Record>>,
}

/// Subscriptions and records of one environment.
#[derive(Default)]
pub struct TelemetryHub {
    /// Someone may want records: a subscriber exists or an init phase is being recorded.
    active: AtomicBool,
    inner: Mutex<Hub>,
}

impl std::fmt::Debug for TelemetryHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryHub")
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

impl TelemetryHub {
    fn lock(&self) -> MutexGuard<'_, Hub> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any record would go anywhere (checked before building one).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// A new init phase: the previous extensions' subscriptions end, and records are kept
    /// for the extensions that subscribe during this init.
    pub fn begin_init(&self) {
        let mut hub = self.lock();
        hub.subscribers.clear();
        hub.backlog = Some(Vec::new());
        self.active.store(true, Ordering::Release);
    }

    /// Init is over: no more replay for late subscribers.
    pub fn end_init(&self) {
        let mut hub = self.lock();
        hub.backlog = None;
        self.active
            .store(!hub.subscribers.is_empty(), Ordering::Release);
    }

    /// Every subscription ends (the environment is reset or stopped).
    pub fn clear(&self) {
        let mut hub = self.lock();
        hub.subscribers.clear();
        hub.backlog = None;
        self.active.store(false, Ordering::Release);
    }

    /// Add a subscription; it first receives what this init phase recorded so far.
    pub fn subscribe(&self, subscription: Subscription) {
        let (tx, rx) = mpsc::unbounded_channel();
        let subscriber = Subscriber {
            api: subscription.api,
            types: subscription.types,
            tx,
        };
        let mut hub = self.lock();
        for record in hub.backlog.iter().flatten() {
            subscriber.send(record);
        }
        hub.subscribers.push(subscriber);
        self.active.store(true, Ordering::Release);
        drop(hub);
        tokio::spawn(subscription::deliver(
            subscription.destination,
            subscription.buffering,
            rx,
        ));
    }

    /// Publish a `platform.*` event.
    pub fn platform(&self, kind: &'static str, record: Value) {
        self.publish(Category::Platform, kind, record);
    }

    /// Publish one log line of the function or of an extension (JSON lines as objects).
    pub fn log_line(&self, category: Category, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let record = if text.starts_with('{') {
            serde_json::from_str::<Value>(&text).unwrap_or_else(|_| Value::String(text.into()))
        } else {
            Value::String(text.into_owned())
        };
        let kind = match category {
            Category::Extension => "extension",
            _ => "function",
        };
        self.publish(category, kind, record);
    }

    fn publish(&self, category: Category, kind: &'static str, record: Value) {
        if !self.is_active() {
            return;
        }
        let record = Record {
            category,
            time: crate::clock::iso8601(crate::clock::epoch_ms()),
            kind,
            body: record,
        };
        let mut hub = self.lock();
        hub.subscribers.retain(|s| s.send(&record));
        if let Some(backlog) = hub.backlog.as_mut() {
            if backlog.len() < BACKLOG_LIMIT {
                backlog.push(record);
            }
        }
    }
}

impl Subscriber {
    /// Queue `record` in this subscriber's shape; false once its delivery task is gone.
    fn send(&self, record: &Record) -> bool {
        if !self.types[record.category.index()] {
            return true;
        }
        let Some((kind, body)) = self.api.shape(record.kind, &record.body) else {
            return true;
        };
        let item = json!({"time": record.time, "type": kind, "record": body});
        self.tx.send(Bytes::from(item.to_string())).is_ok()
    }
}

/// The `tracing` object of platform records.
pub fn tracing(trace_id: &str) -> Value {
    json!({"type": "X-Amzn-Trace-Id", "value": trace_id})
}

/// How long a batch may wait, and how large it may grow, before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    /// `maxItems`.
    pub max_items: usize,
    /// `maxBytes`.
    pub max_bytes: usize,
    /// `timeoutMs`.
    pub timeout: Duration,
}
