//! The Telemetry API (`PUT /2022-07-01/telemetry`) and the legacy Logs API (`/2020-08-15/logs`)
//! of one execution environment: subscriptions, and batched delivery of platform, function
//! and extension records to each subscriber's loopback HTTP listener.

mod records;
mod subscription;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub use records::{init_report, init_runtime_done, init_start, report, runtime_done, start};
pub use subscription::{Api, Subscription};

/// Records kept from the start of an init phase for extensions that subscribe during it.
const BACKLOG_LIMIT: usize = 1000;
/// Most bytes of records waiting for one subscriber's delivery task: past it (a listener
/// slower than the function's logs, or one that never answers) records are dropped, then
/// counted in a `platform.logsDropped` record once there is room again, as AWS does.
const QUEUE_BYTES: usize = 8 << 20;
/// The `reason` of `platform.logsDropped`.
const DROPPED_REASON: &str =
    "Consumer seems to have fallen behind as it has not acknowledged receipt of logs.";

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
    /// Bytes sent on `tx` that its delivery task has not taken yet.
    queued: Arc<AtomicUsize>,
    /// Records (and their bytes) dropped since the last `platform.logsDropped`.
    dropped: (u64, u64),
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
        let queued = Arc::new(AtomicUsize::new(0));
        let mut subscriber = Subscriber {
            api: subscription.api,
            types: subscription.types,
            tx,
            queued: Arc::clone(&queued),
            dropped: (0, 0),
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
            queued,
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
        hub.subscribers.retain_mut(|s| s.send(&record));
        if let Some(backlog) = hub.backlog.as_mut() {
            if backlog.len() < BACKLOG_LIMIT {
                backlog.push(record);
            }
        }
    }
}

impl Subscriber {
    /// Queue `record` in this subscriber's shape (or count it dropped when the queue is
    /// full); false once its delivery task is gone.
    fn send(&mut self, record: &Record) -> bool {
        if !self.types[record.category.index()] {
            return true;
        }
        let Some((kind, body)) = self.api.shape(record.kind, &record.body) else {
            return true;
        };
        let item = json!({"time": record.time, "type": kind, "record": body}).to_string();
        let queued = self.queued.load(Ordering::Acquire);
        if queued + item.len() > QUEUE_BYTES {
            self.dropped.0 += 1;
            self.dropped.1 += item.len() as u64;
            return !self.tx.is_closed();
        }
        if self.dropped.0 > 0 {
            let (records, bytes) = std::mem::take(&mut self.dropped);
            let note = json!({
                "time": record.time,
                "type": "platform.logsDropped",
                "record": {"reason": DROPPED_REASON, "droppedRecords": records, "droppedBytes": bytes},
            });
            if !self.queue(note.to_string()) {
                return false;
            }
        }
        self.queue(item)
    }

    fn queue(&self, item: String) -> bool {
        self.queued.fetch_add(item.len(), Ordering::AcqRel);
        self.tx.send(Bytes::from(item)).is_ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> Record {
        Record {
            category: Category::Function,
            time: "2026-12-07T00:00:00.000Z".to_owned(),
            kind: "function",
            body: Value::String(text.to_owned()),
        }
    }

    #[test]
    fn a_full_queue_drops_records_and_then_says_how_many() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(QUEUE_BYTES - 10));
        let mut subscriber = Subscriber {
            api: Api::Telemetry,
            types: [true; 3],
            tx,
            queued: Arc::clone(&queued),
            dropped: (0, 0),
        };
        assert!(subscriber.send(&record("lost one")));
        assert!(subscriber.send(&record("lost two")));
        assert!(rx.try_recv().is_err(), "nothing queued past the limit");
        let lost = subscriber.dropped;
        assert_eq!(lost.0, 2);
        // The delivery task took what was queued: the count goes first, then the record.
        queued.store(0, Ordering::Release);
        assert!(subscriber.send(&record("kept")));
        let note: Value = serde_json::from_slice(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(note["type"], "platform.logsDropped");
        assert_eq!(note["record"]["droppedRecords"], 2);
        assert_eq!(note["record"]["droppedBytes"], lost.1);
        assert_eq!(note["record"]["reason"], DROPPED_REASON);
        let kept: Value = serde_json::from_slice(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(kept["record"], "kept");
        assert_eq!(subscriber.dropped, (0, 0));
        let expected = note.to_string().len() + kept.to_string().len();
        assert_eq!(queued.load(Ordering::Acquire), expected);
    }
}
