//! Tumbling windows of a stream mapping (docs/reference.md §16.3): each record belongs to the
//! window its arrival time falls in (windows of `TumblingWindowInSeconds`, aligned to the epoch),
//! the `state` the function answers is handed to its next invocation in the same window, and a
//! last invocation with no records and `isFinalInvokeForWindow` closes the window.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{ShardReader, Stopped};
use crate::event_sources::invoke::{self, BatchOutcome};
use crate::event_sources::shards::StreamRecord;
use crate::event_sources::{MappingSettings, MappingStatus};

/// The most state a window carries (AWS: 1 MB per shard); a larger one ends the window early.
pub const MAX_STATE_BYTES: usize = 1024 * 1024;

/// A window of one shard and the state built in it so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Its start, epoch ms (a multiple of its width).
    pub start_ms: i64,
    /// Its end, epoch ms, excluded.
    pub end_ms: i64,
    /// What the function answered last in it (`{}` at first).
    pub state: Value,
}

/// What an invocation tells the function about its window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    /// `isFinalInvokeForWindow`: no records, the state is final.
    pub last: bool,
    /// `isWindowTerminatedEarly`: the state outgrew 1 MB, the window goes on with a fresh one.
    pub early: bool,
}

impl Flags {
    /// The window's last invocation at its end.
    pub const LAST: Self = Self {
        last: true,
        early: false,
    };
    /// The last invocation of a window whose state outgrew 1 MB.
    pub const EARLY: Self = Self {
        last: true,
        early: true,
    };
}

impl Window {
    /// The window of `width_ms` that `arrival_ms` falls in, with a fresh state.
    pub fn of(arrival_ms: i64, width_ms: i64) -> Self {
        let width_ms = width_ms.max(1);
        let start_ms = arrival_ms - arrival_ms.rem_euclid(width_ms);
        Self {
            start_ms,
            end_ms: start_ms + width_ms,
            state: json!({}),
        }
    }

    /// Whether a record that arrived at `arrival_ms` goes in this window (a record older than
    /// the window's start, read late, joins the open window).
    pub fn holds(&self, arrival_ms: i64) -> bool {
        arrival_ms < self.end_ms
    }

    /// The invocation event: the records and the window's fields, as AWS sends them.
    pub fn event(&self, records: &[&Value], shard: &str, source_arn: &str, flags: Flags) -> Value {
        let at = |ms: i64| crate::clock::iso8601_seconds(ms.max(0) as u64);
        json!({
            "Records": records,
            "window": { "start": at(self.start_ms), "end": at(self.end_ms) },
            "state": self.state,
            "shardId": shard,
            "eventSourceARN": source_arn,
            "isFinalInvokeForWindow": flags.last,
            "isWindowTerminatedEarly": flags.early,
        })
    }

    /// Whether the state has outgrown what a window may carry.
    pub fn state_too_large(&self) -> bool {
        super::super::encoded_len(&self.state) > MAX_STATE_BYTES
    }

    /// The form kept beside the shard's checkpoint.
    pub fn stored(&self) -> Value {
        json!({ "start": self.start_ms, "end": self.end_ms, "state": self.state })
    }

    /// The window kept by [`Window::stored`].
    pub fn from_stored(doc: &Value) -> Option<Self> {
        Some(Self {
            start_ms: doc.get("start")?.as_i64()?,
            end_ms: doc.get("end")?.as_i64()?,
            state: doc.get("state")?.clone(),
        })
    }
}

/// The `state` of a windowed invocation's answer; none when it has none (AWS counts that
/// invocation as failed).
pub fn answered_state(payload: &[u8]) -> Option<Value> {
    let answer: Value = serde_json::from_slice(payload).ok()?;
    answer.get("state").filter(|s| !s.is_null()).cloned()
}

/// `records` (in order) cut where they pass from one window into the next: each run with the
/// window it belongs to, the first one joining `open` when they fit in it.
pub fn runs(
    records: Vec<StreamRecord>,
    width_ms: i64,
    open: Option<&Window>,
) -> Vec<(Window, Vec<StreamRecord>)> {
    let mut out: Vec<(Window, Vec<StreamRecord>)> = Vec::new();
    for r in records {
        let current = out.last().map(|(w, _)| w).or(open);
        match current {
            Some(w) if w.holds(r.arrival_ms) => {
                if out.is_empty() {
                    out.push((w.clone(), Vec::new()));
                }
                if let Some((_, run)) = out.last_mut() {
                    run.push(r);
                }
            }
            _ => {
                let w = Window::of(r.arrival_ms, width_ms);
                out.push((w, vec![r]));
            }
        }
    }
    out
}

impl ShardReader {
    /// Deliver `records` window by window: a window that the records leave is closed with its
    /// final invocation first; one whose state outgrew 1 MB is ended early and goes on afresh.
    pub(super) async fn deliver_windowed(
        &self,
        s: &MappingSettings,
        records: Vec<StreamRecord>,
        window: &mut Option<Window>,
    ) -> Result<(), Stopped> {
        let width_ms = s.tumbling_window.as_millis() as i64;
        for (w, run) in runs(records, width_ms, window.as_ref()) {
            if window
                .as_ref()
                .is_some_and(|open| open.start_ms != w.start_ms)
            {
                self.close_window(s, window, Flags::LAST).await?;
            }
            let open = window.get_or_insert(w);
            self.deliver(s, run, Some(open)).await?;
            if open.state_too_large() {
                self.close(s, open, Flags::EARLY).await?;
                open.state = json!({});
            }
        }
        self.close_if_over(s, window).await
    }

    /// Close the open window once its end has passed (records or not).
    pub(super) async fn close_if_over(
        &self,
        s: &MappingSettings,
        window: &mut Option<Window>,
    ) -> Result<(), Stopped> {
        if window
            .as_ref()
            .is_some_and(|w| crate::clock::epoch_ms() as i64 >= w.end_ms)
        {
            self.close_window(s, window, Flags::LAST).await?;
        }
        Ok(())
    }

    /// Close the open window (if any); it stays open when the mapping stops first.
    pub(super) async fn close_window(
        &self,
        s: &MappingSettings,
        window: &mut Option<Window>,
        flags: Flags,
    ) -> Result<(), Stopped> {
        if let Some(w) = window.as_ref() {
            self.close(s, w, flags).await?;
        }
        *window = None;
        Ok(())
    }

    /// The window's final invocation (no records, its state): repeated until it succeeds, as
    /// AWS holds the shard until then, or until the mapping is deleted or disabled.
    async fn close(&self, s: &MappingSettings, w: &Window, flags: Flags) -> Result<(), Stopped> {
        let event = w.event(&[], &self.shard, &s.source_arn, flags);
        let payload = Bytes::from(event.to_string());
        loop {
            MappingStatus::add(&self.status.batches, 1);
            let registry = &self.sources.registry;
            match invoke::batch(registry, &s.function_arn, payload.clone()).await {
                BatchOutcome::Answered { .. } => {
                    self.status.ok();
                    return Ok(());
                }
                BatchOutcome::FunctionError { .. } => {
                    MappingStatus::add(&self.status.failures, 1);
                    MappingStatus::add(&self.status.retries, 1);
                    self.status.quiet_problem("PROBLEM: Function call failed");
                }
                BatchOutcome::NotInvoked(why) => {
                    super::problem(&self.status, &s.uuid, &format!("PROBLEM: {why}"));
                }
            }
            self.pause(Duration::from_secs(1)).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sequence: &str, arrival_ms: i64) -> StreamRecord {
        StreamRecord {
            event: json!({ "seq": sequence }),
            sequence: sequence.to_owned(),
            arrival_ms,
        }
    }

    fn cut(records: Vec<StreamRecord>, open: Option<&Window>) -> Vec<(i64, Vec<String>)> {
        runs(records, 60_000, open)
            .into_iter()
            .map(|(w, run)| (w.start_ms, run.into_iter().map(|r| r.sequence).collect()))
            .collect()
    }

    #[test]
    fn windows_are_aligned_to_their_width() {
        let w = Window::of(1_607_497_475_000, 120_000);
        assert_eq!(
            (w.start_ms, w.end_ms),
            (1_607_497_440_000, 1_607_497_560_000)
        );
        let e = w.event(&[], "shardId-000000000000", "arn", Flags::default());
        assert_eq!(e["window"]["start"], "2020-12-09T07:04:00Z");
        assert_eq!(e["window"]["end"], "2020-12-09T07:06:00Z");
        assert_eq!(e["state"], json!({}));
        assert_eq!(e["Records"], json!([]));
        assert_eq!(e["isFinalInvokeForWindow"], false);
    }

    #[test]
    fn records_are_cut_where_they_enter_the_next_window() {
        let records = vec![
            record("a", 60_000),
            record("b", 119_999),
            record("c", 120_000),
            record("d", 250_000),
        ];
        assert_eq!(
            cut(records, None),
            [
                (60_000, vec!["a".to_owned(), "b".to_owned()]),
                (120_000, vec!["c".to_owned()]),
                (240_000, vec!["d".to_owned()]),
            ]
        );
    }

    #[test]
    fn a_late_record_joins_the_open_window() {
        let open = Window::of(130_000, 60_000);
        let records = vec![record("late", 10_000), record("next", 190_000)];
        assert_eq!(
            cut(records, Some(&open)),
            [
                (120_000, vec!["late".to_owned()]),
                (180_000, vec!["next".to_owned()])
            ]
        );
    }

    #[test]
    fn an_answer_without_state_has_none() {
        assert_eq!(
            answered_state(br#"{"state":{"n":3}}"#),
            Some(json!({"n": 3}))
        );
        assert_eq!(answered_state(br#"{"state":null}"#), None);
        assert_eq!(answered_state(b"{}"), None);
        assert_eq!(answered_state(b"not json"), None);
    }

    #[test]
    fn the_window_survives_the_store() {
        let mut w = Window::of(5_000, 1_000);
        w.state = json!({"n": 1});
        assert_eq!(Window::from_stored(&w.stored()), Some(w));
    }
}
