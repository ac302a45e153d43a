//! How a stream batch reaches the function: lanes of `ParallelizationFactor`, retries,
//! partial batch responses, bisection, record age, and the on-failure record of a batch given up
//! (docs/reference.md §16.3).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::window::{answered_state, Flags, Window};
use super::{problem, ShardReader, Stopped};
use crate::config::LogLevel;
use crate::event_sources::batch_response::{parse_batch_response, BatchResponse};
use crate::event_sources::invoke::{self, BatchOutcome};
use crate::event_sources::shards::StreamRecord;
use crate::event_sources::stream_records::{
    on_failure_record, BatchInfo, FailureCondition, LastAttempt,
};
use crate::event_sources::{MappingSettings, MappingStatus};

/// The pause before a failed batch is tried again; it doubles with each retry of the batch, up
/// to [`MAX_RETRY_PAUSE`], so that a function that keeps failing is not called in a busy loop.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// The pause before retry `attempts` (1 for the first retry).
fn retry_pause(attempts: u32) -> Duration {
    FIRST_RETRY_PAUSE
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(MAX_RETRY_PAUSE)
}

impl ShardReader {
    /// Deliver `records` as `ParallelizationFactor` concurrent batches, each record's lane
    /// chosen by its partition key (Kinesis) or item keys (DynamoDB): in order per key.
    pub(super) async fn deliver_lanes(
        &self,
        s: &Arc<MappingSettings>,
        records: Vec<StreamRecord>,
    ) -> Result<(), Stopped> {
        let n = s.parallelization.max(1) as usize;
        if n == 1 || records.len() < 2 {
            return self.deliver(s, records, None).await;
        }
        let mut lanes: Vec<Vec<StreamRecord>> = vec![Vec::new(); n];
        for r in records {
            let key = r.event["kinesis"]["partitionKey"]
                .as_str()
                .map_or_else(|| r.event["dynamodb"]["Keys"].to_string(), str::to_owned);
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&key, &mut h);
            lanes[(std::hash::Hasher::finish(&h) % n as u64) as usize].push(r);
        }
        let mut batches = tokio::task::JoinSet::new();
        for lane in lanes.into_iter().filter(|l| !l.is_empty()) {
            let (reader, s) = (self.clone(), Arc::clone(s));
            batches.spawn(async move { reader.deliver(&s, lane, None).await });
        }
        let mut delivered = Ok(());
        while let Some(lane) = batches.join_next().await {
            if matches!(lane, Ok(Err(Stopped))) {
                delivered = Err(Stopped);
            }
        }
        delivered
    }

    /// Invoke the function with `records` in order, as AWS handles failures; records given up
    /// go to the on-failure destination. In a tumbling `window`, each invocation carries its
    /// state and the state answered replaces it. Retries are paced, and stop (`Stopped`) when
    /// the mapping is deleted or disabled.
    pub(super) async fn deliver(
        &self,
        s: &MappingSettings,
        records: Vec<StreamRecord>,
        mut window: Option<&mut Window>,
    ) -> Result<(), Stopped> {
        let mut pending: VecDeque<Vec<StreamRecord>> = VecDeque::new();
        if !records.is_empty() {
            pending.push_back(records);
        }
        while let Some(mut batch) = pending.pop_front() {
            let mut attempts: u32 = 0;
            loop {
                if attempts > 0 {
                    self.pause(retry_pause(attempts)).await?;
                } else if self.stopped() {
                    return Err(Stopped);
                }
                let oldest = batch.first().map_or(0, |r| r.arrival_ms);
                let age_ms = (crate::clock::epoch_ms() as i64 - oldest).max(0);
                self.status
                    .oldest_age_ms
                    .store(age_ms as u64, std::sync::atomic::Ordering::Relaxed);
                if s.max_record_age >= 0 && age_ms > s.max_record_age * 1000 {
                    self.discard(
                        s,
                        &batch,
                        FailureCondition::RecordAgeExceeded,
                        attempts,
                        None,
                    )
                    .await;
                    break;
                }
                let attempted = self
                    .attempt(s, &batch, attempts, window.as_deref_mut())
                    .await?;
                let Some((last, first_failed)) = attempted else {
                    break;
                };
                attempts += 1;
                if let Some(i) = first_failed {
                    // Checkpoint before the lowest reported failure: retry from there.
                    batch = batch.split_off(i);
                } else if s.bisect && batch.len() > 1 {
                    let second = batch.split_off(batch.len() / 2);
                    pending.push_front(second);
                    pending.push_front(batch);
                    break;
                }
                if s.max_retries >= 0 && i64::from(attempts) > s.max_retries {
                    let condition = FailureCondition::RetryAttemptsExhausted;
                    self.discard(s, &batch, condition, attempts, Some(&last))
                        .await;
                    break;
                }
            }
        }
        Ok(())
    }

    /// One invocation of `batch`: none when it succeeded, else what the attempt answered and,
    /// for a partial batch response, the index of the first failed record. Throttles are
    /// waited out, not counted. In a tumbling `window`, an answer without `state` fails.
    async fn attempt(
        &self,
        s: &MappingSettings,
        batch: &[StreamRecord],
        attempts: u32,
        mut window: Option<&mut Window>,
    ) -> Result<Option<(LastAttempt, Option<usize>)>, Stopped> {
        let events: Vec<&Value> = batch.iter().map(|r| &r.event).collect();
        let event = match window.as_deref() {
            Some(w) => w.event(&events, &self.shard, &s.source_arn, Flags::default()),
            None => json!({ "Records": events }),
        };
        let payload = Bytes::from(event.to_string());
        loop {
            MappingStatus::add(&self.status.batches, 1);
            MappingStatus::add(&self.status.records, batch.len() as u64);
            if attempts > 0 {
                MappingStatus::add(&self.status.retries, 1);
            }
            let registry = &self.sources.registry;
            let failed = match invoke::batch(registry, &s.function_arn, payload.clone()).await {
                BatchOutcome::Answered { payload, version } if window.is_some() => {
                    let state = answered_state(&payload);
                    match (state, window.as_deref_mut()) {
                        (Some(state), Some(w)) => {
                            w.state = state;
                            first_failure(s, batch, &payload)
                                .map(|i| (last_attempt(version, None), Some(i)))
                        }
                        _ => Some((last_attempt(version, None), None)),
                    }
                }
                BatchOutcome::Answered { payload, version } => first_failure(s, batch, &payload)
                    .map(|i| (last_attempt(version, None), Some(i))),
                BatchOutcome::FunctionError { version, .. } => {
                    Some((last_attempt(version, Some("Unhandled")), None))
                }
                BatchOutcome::NotInvoked(why) => {
                    problem(&self.status, &s.uuid, &format!("PROBLEM: {why}"));
                    self.pause(Duration::from_secs(1)).await?;
                    continue;
                }
            };
            if failed.is_none() {
                self.status.ok();
            } else {
                MappingStatus::add(&self.status.failures, 1);
                self.status.quiet_problem("PROBLEM: Function call failed");
            }
            return Ok(failed);
        }
    }

    /// Give up `batch`: count it and send AWS's record to the on-failure destination.
    async fn discard(
        &self,
        s: &MappingSettings,
        batch: &[StreamRecord],
        condition: FailureCondition,
        attempts: u32,
        last: Option<&LastAttempt>,
    ) {
        MappingStatus::add(&self.status.discarded, batch.len() as u64);
        let (Some(first), Some(end), Some(target)) = (batch.first(), batch.last(), &s.on_failure)
        else {
            return;
        };
        let info = BatchInfo {
            shard_id: self.shard.clone(),
            start_sequence: first.sequence.clone(),
            end_sequence: end.sequence.clone(),
            first_arrival_ms: first.arrival_ms,
            last_arrival_ms: end.arrival_ms,
            batch_size: batch.len(),
            stream_arn: s.source_arn.clone(),
        };
        let events: Vec<&Value> = batch.iter().map(|r| &r.event).collect();
        let payload = json!({ "Records": events });
        let with_payload = target.starts_with("arn:aws:s3:");
        let record = on_failure_record(
            s.kind,
            &s.function_arn,
            condition,
            attempts,
            last,
            &info,
            with_payload.then_some(&payload),
        );
        let about = crate::destinations::service::Delivery {
            function_arn: &s.function_arn,
            success: false,
            key_prefix: &format!("aws/lambda/{}/{}", s.uuid, self.shard),
        };
        let body = Bytes::from(record.to_string());
        let sent =
            crate::destinations::service::send(&self.sources.client, target, body, about).await;
        if let Err(e) = sent {
            crate::event_sources::log(
                LogLevel::Error,
                &s.uuid,
                &format!(
                    "on-failure record of {} record(s) not delivered to {target}: {e}",
                    batch.len()
                ),
            );
        }
    }
}

/// With `ReportBatchItemFailures`, the index of the first record the answer reports failed (0
/// for an answer that cannot be read); none when all succeeded or partial answers are off.
fn first_failure(s: &MappingSettings, batch: &[StreamRecord], payload: &[u8]) -> Option<usize> {
    if !s.report_failures {
        return None;
    }
    let ids: Vec<&str> = batch.iter().map(|r| r.sequence.as_str()).collect();
    match parse_batch_response(payload, &ids) {
        BatchResponse::AllSucceeded => None,
        BatchResponse::Failed(failed) => batch.iter().position(|r| failed.contains(&r.sequence)),
        BatchResponse::Invalid => Some(0),
    }
}

fn last_attempt(version: String, function_error: Option<&str>) -> LastAttempt {
    LastAttempt {
        status_code: 200,
        executed_version: version,
        function_error: function_error.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_of_a_failing_batch_wait_longer_each_time_up_to_a_cap() {
        let pauses: Vec<u128> = (1..=8).map(|a| retry_pause(a).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(retry_pause(u32::MAX), MAX_RETRY_PAUSE);
    }
}
