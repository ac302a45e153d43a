//! Event source mappings (docs/reference.md §16): the mappings of SQS queues, Kinesis streams
//! and DynamoDB streams to functions, each with the poller that reads its source and invokes
//! the function with batches. The mappings' API is in [`api`]; a poller per source kind.

mod batch_response;
pub mod filter;
mod invoke;
pub mod mapping;
mod shards;
pub mod source;
mod sqs;
mod sqs_record;
mod status;
mod stream;
pub mod stream_records;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::aws_client::AwsClient;
use crate::config::LogLevel;
use crate::logs;
use crate::registry::Registry;
use crate::store::{Store, Table};
pub use mapping::MappingSettings;
pub use source::SourceKind;
pub use status::MappingStatus;

/// One mapping: its document and its running poller.
struct Entry {
    /// The document as GetEventSourceMapping shows it (final state).
    doc: Map<String, Value>,
    /// Declared in the config file or a template: not kept in the store.
    declared: bool,
    settings: watch::Sender<Arc<MappingSettings>>,
    status: Arc<MappingStatus>,
    task: JoinHandle<()>,
}

/// What every poller shares.
#[derive(Clone)]
pub struct Sources {
    /// The functions batches go to.
    pub registry: Arc<Registry>,
    /// The client of the sources (and on-failure destinations).
    pub client: AwsClient,
    /// The store (stream checkpoints).
    pub store: Arc<Store>,
    /// The emulator-wide environment cap: no more batches in flight per mapping than this.
    pub max_environments: u32,
}

/// A running poller's view of its mapping.
pub struct Poller {
    /// What every poller shares.
    pub sources: Sources,
    /// The mapping's settings, replaced on update.
    pub settings: watch::Receiver<Arc<MappingSettings>>,
    /// Its counters and last processing result.
    pub status: Arc<MappingStatus>,
}

/// Every mapping of the emulator.
pub struct EventSources {
    sources: Sources,
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl EventSources {
    /// No mappings yet.
    pub fn new(sources: Sources) -> Self {
        Self {
            sources,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Start the mappings kept in the store (at start-up).
    pub fn restore(&self) -> usize {
        let stored = self.sources.store.all(Table::EventSourceMappings);
        let n = stored.len();
        for (_, doc) in stored {
            if let Value::Object(doc) = (*doc).clone() {
                self.start(doc, false);
            }
        }
        n
    }

    /// Keep a new mapping (in the store unless `declared`) and start its poller.
    pub fn add(
        &self,
        doc: Map<String, Value>,
        declared: bool,
    ) -> Result<(), crate::store::StoreError> {
        if !declared {
            let uuid = doc.get("UUID").and_then(Value::as_str).unwrap_or_default();
            self.sources.store.put_document(
                Table::EventSourceMappings,
                uuid,
                &Value::Object(doc.clone()),
            )?;
        }
        self.start(doc, declared);
        Ok(())
    }

    /// The UUID of the mapping of `source_arn` to function `name`, if there is one.
    pub fn existing(&self, source_arn: &str, name: &str) -> Option<String> {
        self.entries()
            .iter()
            .find(|(_, e)| {
                e.doc.get("EventSourceArn").and_then(Value::as_str) == Some(source_arn)
                    && e.doc
                        .get("FunctionArn")
                        .and_then(Value::as_str)
                        .is_some_and(|a| crate::invoke_api::routing::split(a).name == name)
            })
            .map(|(uuid, _)| uuid.clone())
    }

    /// Check that the source of a new mapping exists (and, for SQS, that its visibility
    /// timeout covers the function's timeout), in AWS's words. A source that cannot be reached
    /// is accepted: the poller reports it and retries.
    pub async fn check_source(
        &self,
        kind: SourceKind,
        source_arn: &str,
        function_timeout_s: u32,
    ) -> Result<(), crate::aws::ServiceError> {
        match kind {
            SourceKind::Sqs => {
                sqs::check_queue(&self.sources.client, source_arn, function_timeout_s).await
            }
            SourceKind::Kinesis | SourceKind::DynamoDbStreams => {
                match shards::Stream::of(source_arn) {
                    Some(stream) => stream.check(&self.sources.client).await,
                    None => Err(crate::aws::ServiceError::invalid_parameter(
                        "Unrecognized event source.",
                    )),
                }
            }
        }
    }

    /// The stored document of mapping `uuid` (without the poller's annotations).
    pub fn stored(&self, uuid: &str) -> Option<Map<String, Value>> {
        self.entries().get(uuid).map(|e| e.doc.clone())
    }

    /// Start polling for the mapping `doc` (replacing one with its UUID).
    fn start(&self, doc: Map<String, Value>, declared: bool) {
        let settings = Arc::new(MappingSettings::of(&doc));
        let uuid = settings.uuid.clone();
        let (tx, rx) = watch::channel(Arc::clone(&settings));
        let status = Arc::new(MappingStatus::default());
        let poller = Poller {
            sources: self.sources.clone(),
            settings: rx,
            status: Arc::clone(&status),
        };
        let task = match settings.kind {
            SourceKind::Sqs => tokio::spawn(sqs::run(poller)),
            SourceKind::Kinesis | SourceKind::DynamoDbStreams => tokio::spawn(stream::run(poller)),
        };
        let entry = Entry {
            doc,
            declared,
            settings: tx,
            status,
            task,
        };
        if let Some(old) = self.entries().insert(uuid, entry) {
            old.task.abort();
        }
    }

    /// The document of mapping `uuid`, with what its poller last saw.
    pub fn get(&self, uuid: &str) -> Option<Map<String, Value>> {
        let entries = self.entries();
        let entry = entries.get(uuid)?;
        Some(entry.status.annotate(entry.doc.clone()))
    }

    /// Every mapping's document, in UUID order.
    pub fn views(&self) -> Vec<Map<String, Value>> {
        self.entries()
            .values()
            .map(|e| e.status.annotate(e.doc.clone()))
            .collect()
    }

    /// Write `doc` (unless declared) and hand its settings to the running poller.
    pub fn replace(
        &self,
        uuid: &str,
        doc: Map<String, Value>,
    ) -> Result<(), crate::store::StoreError> {
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(uuid) else {
            return Ok(());
        };
        if !entry.declared {
            self.sources.store.put_document(
                Table::EventSourceMappings,
                uuid,
                &Value::Object(doc.clone()),
            )?;
        }
        entry
            .settings
            .send_replace(Arc::new(MappingSettings::of(&doc)));
        entry.doc = doc;
        Ok(())
    }

    /// Forget mapping `uuid`: its poller finishes the batch in flight and stops.
    pub fn remove(&self, uuid: &str) -> Result<(), crate::store::StoreError> {
        let Some(entry) = self.entries().remove(uuid) else {
            return Ok(());
        };
        if !entry.declared {
            self.sources
                .store
                .delete_document(Table::EventSourceMappings, uuid)?;
            self.sources
                .store
                .delete_document(Table::Checkpoints, uuid)?;
        }
        let mut last = (**entry.settings.borrow()).clone();
        last.deleted = true;
        entry.settings.send_replace(Arc::new(last));
        Ok(())
    }

    /// Stop every poller at once (emulator shutdown): messages received and not yet answered
    /// come back when their visibility timeout ends, as on AWS.
    pub fn shutdown(&self) {
        for entry in self.entries().values() {
            entry.task.abort();
        }
    }

    /// The mappings' counters in Prometheus text (docs/reference.md §12).
    pub fn metrics_text(&self) -> String {
        let entries = self.entries();
        if entries.is_empty() {
            return String::new();
        }
        let all: Vec<(&str, &MappingStatus)> = entries
            .iter()
            .map(|(uuid, e)| (uuid.as_str(), &*e.status))
            .collect();
        status::render(&all)
    }
}

/// Log a mapping's line: `event source mapping <uuid>: <what>`.
fn log(level: LogLevel, uuid: &str, what: &str) {
    logs::message(level, &format!("event source mapping {uuid}: {what}"));
}

/// The length of `value` serialized as compact JSON, counted without building the text.
fn encoded_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // NOTE: a `Value` always serializes, and `Count` never fails.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn encoded_len_is_the_length_of_the_compact_text() {
        for value in [
            json!({}),
            json!({"body": "é\"\n\u{1}", "n": [1, 2.5, null, true], "deep": {"a": {"b": []}}}),
            json!("x".repeat(70_000)),
        ] {
            assert_eq!(super::encoded_len(&value), value.to_string().len());
        }
    }
}
