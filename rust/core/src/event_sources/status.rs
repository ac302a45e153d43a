//! What a mapping's poller has done: counters for metrics and the last processing result that
//! GetEventSourceMapping shows.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::config::LogLevel;

/// A mapping's counters and its last problem.
#[derive(Debug, Default)]
pub struct MappingStatus {
    /// Batches the function was invoked with.
    pub batches: AtomicU64,
    /// Records in those batches.
    pub records: AtomicU64,
    /// Batches the function failed (in whole or in part).
    pub failures: AtomicU64,
    /// Batches invoked again after a failure.
    pub retries: AtomicU64,
    /// Records dropped by the filters.
    pub filtered: AtomicU64,
    /// Calls to the source that failed.
    pub poll_errors: AtomicU64,
    /// Age of the oldest record of the last batch, ms (iterator age of streams).
    pub oldest_age_ms: AtomicU64,
    /// Records sent to the on-failure destination.
    pub discarded: AtomicU64,
    /// `LastProcessingResult`: `OK`, `PROBLEM: ...`, or none yet.
    last: Mutex<Option<String>>,
}

impl MappingStatus {
    /// Record a problem (`PROBLEM: ...`) of mapping `uuid`, logged once per change.
    pub fn problem(&self, uuid: &str, text: &str) {
        if self.record(text) {
            super::log(LogLevel::Warn, uuid, text);
        }
    }

    /// Record a problem (`PROBLEM: ...`) without a log line.
    // NOTE: for a batch the function failed or a mapping that cannot start: the function's own
    // logs (or the mapping's API answer) already say why, so the emulator's log stays quiet.
    pub fn quiet_problem(&self, text: &str) {
        self.record(text);
    }

    /// Keep `text` as the last result; true when it differs from the one before.
    fn record(&self, text: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = last.as_deref() != Some(text);
        if changed {
            *last = Some(text.to_owned());
        }
        changed
    }

    /// Record a batch processed without a problem.
    pub fn ok(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some("OK".to_owned());
    }

    /// The last processing result.
    pub fn last(&self) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `doc` with the last processing result, when the poller has one.
    pub fn annotate(&self, mut doc: Map<String, Value>) -> Map<String, Value> {
        if let Some(last) = self.last() {
            doc.insert("LastProcessingResult".into(), Value::String(last));
        }
        doc
    }

    /// Add `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A metric family: name, help, and the counter it reads.
type Series = (&'static str, &'static str, fn(&MappingStatus) -> &AtomicU64);

/// The Prometheus text of every mapping's counters.
pub fn render(all: &[(&str, &MappingStatus)]) -> String {
    let mut out = String::new();
    let series: [Series; 8] = [
        ("batches_total", "Batches invoked", |s| &s.batches),
        ("records_total", "Records invoked", |s| &s.records),
        ("failures_total", "Batches failed", |s| &s.failures),
        ("retries_total", "Batches retried", |s| &s.retries),
        ("filtered_total", "Records dropped by filters", |s| {
            &s.filtered
        }),
        ("poll_errors_total", "Failed calls to the source", |s| {
            &s.poll_errors
        }),
        ("discarded_total", "Records sent on failure", |s| {
            &s.discarded
        }),
        (
            "oldest_record_age_milliseconds",
            "Age of the oldest record of the last batch",
            |s| &s.oldest_age_ms,
        ),
    ];
    for (name, help, get) in series {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# HELP lambda_rie_event_source_{name} {help}.");
        let _ = writeln!(out, "# TYPE lambda_rie_event_source_{name} {kind}");
        for (uuid, s) in all {
            let _ = writeln!(
                out,
                "lambda_rie_event_source_{name}{{uuid=\"{uuid}\"}} {}",
                get(s).load(Ordering::Relaxed)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::MappingStatus;

    #[test]
    fn a_problem_is_new_only_when_its_text_changes() {
        let status = MappingStatus::default();
        assert!(status.record("PROBLEM: a"));
        assert!(!status.record("PROBLEM: a"));
        status.ok();
        assert!(status.record("PROBLEM: a"));
        assert!(status.record("PROBLEM: b"));
        status.problem("uuid", "PROBLEM: b");
        assert_eq!(status.last().as_deref(), Some("PROBLEM: b"));
    }
}
