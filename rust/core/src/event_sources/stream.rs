//! The Kinesis and DynamoDB Streams poller (docs/reference.md §16.3, §16.4): one reader per
//! shard (a child after its parents end), records in order, a checkpoint kept in the store
//! after each batch, and AWS's failure handling: retries, partial batch responses, bisection,
//! record age, and the on-failure destination.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::batch_response::{parse_batch_response, BatchResponse};
use super::invoke::{self, BatchOutcome};
use super::shards::{Stream, StreamRecord};
use super::status::MappingStatus;
use super::stream_records::{on_failure_record, BatchInfo, FailureCondition, LastAttempt};
use super::{filter, MappingSettings, Poller, Sources};
use crate::config::LogLevel;
use crate::store::Table;

/// How often the shard list is read again (resharding, children of ended shards).
const DISCOVERY: Duration = Duration::from_secs(2);
/// The pause after an empty GetRecords (AWS reads each shard about once a second).
const IDLE: Duration = Duration::from_millis(250);
/// The longest pause after failed calls.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One shard's reader.
#[derive(Clone)]
struct ShardReader {
    sources: Sources,
    settings: watch::Receiver<Arc<MappingSettings>>,
    status: Arc<MappingStatus>,
    stream: Stream,
    role: String,
    shard: String,
    /// Shards read to their end (their children may start).
    ended: Arc<Mutex<HashSet<String>>>,
}

/// Poll the mapping's stream until the mapping is deleted (or the emulator stops).
pub async fn run(mut p: Poller) {
    let first = Arc::clone(&p.settings.borrow());
    let Some(stream) = Stream::of(&first.source_arn) else {
        p.status
            .problem("PROBLEM: the event source ARN names no stream");
        return;
    };
    let role = role_arn(&p.sources, &first.function_arn);
    let ended: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut started: HashSet<String> = HashSet::new();
    let mut readers = tokio::task::JoinSet::new();
    loop {
        let s = Arc::clone(&p.settings.borrow_and_update());
        if s.deleted {
            break;
        }
        if s.enabled {
            match stream.shards(&p.sources.client).await {
                Ok(shards) => {
                    let known: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
                    let done = ended.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    for shard in &shards {
                        let ready = [&shard.parent, &shard.adjacent_parent]
                            .into_iter()
                            .flatten()
                            .all(|parent| {
                                !known.contains(parent.as_str()) || done.contains(parent)
                            });
                        if ready && started.insert(shard.id.clone()) {
                            readers.spawn(
                                ShardReader {
                                    sources: p.sources.clone(),
                                    settings: p.settings.clone(),
                                    status: Arc::clone(&p.status),
                                    stream: stream.clone(),
                                    role: role.clone(),
                                    shard: shard.id.clone(),
                                    ended: Arc::clone(&ended),
                                }
                                .run(),
                            );
                        }
                    }
                }
                Err(e) => problem(&p.status, &s.uuid, &format!("PROBLEM: {e}")),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(DISCOVERY) => {}
            changed = p.settings.changed() => if changed.is_err() { break },
        }
    }
    while readers.join_next().await.is_some() {}
}

/// Count and show a problem (logged when it changes).
fn problem(status: &MappingStatus, uuid: &str, text: &str) {
    MappingStatus::add(&status.poll_errors, 1);
    if status.last().as_deref() != Some(text) {
        super::log(LogLevel::Warn, uuid, text);
    }
    status.problem(text);
}

/// The role ARN records carry as `invokeIdentityArn`: the function's `Role` when it was
/// created through the API, else a role named after the function.
fn role_arn(sources: &Sources, function_arn: &str) -> String {
    let name = crate::invoke_api::routing::split(function_arn)
        .name
        .to_owned();
    sources
        .store
        .get(&name)
        .ok()
        .flatten()
        .and_then(|doc| {
            doc.pointer("/latest/Role")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            format!(
                "arn:aws:iam::{}:role/{name}-role",
                sources.registry.account_id()
            )
        })
}

impl ShardReader {
    fn checkpoint(&self, uuid: &str) -> Option<String> {
        let doc = self.sources.store.document(Table::Checkpoints, uuid)?;
        doc[&self.shard].as_str().map(str::to_owned)
    }

    fn save_checkpoint(&self, uuid: &str, sequence: &str) {
        let store = &self.sources.store;
        let mut doc = store
            .document(Table::Checkpoints, uuid)
            .unwrap_or_else(|| json!({}));
        doc[&self.shard] = json!(sequence);
        if let Err(e) = store.put_document(Table::Checkpoints, uuid, &doc) {
            super::log(LogLevel::Error, uuid, &format!("checkpoint not kept: {e}"));
        }
    }

    /// Read the shard to its end (or until the mapping is deleted).
    async fn run(mut self) {
        let mut iterator: Option<String> = None;
        let mut backoff = Duration::from_secs(1);
        loop {
            let s = Arc::clone(&self.settings.borrow_and_update());
            if s.deleted {
                return;
            }
            if !s.enabled {
                if self.settings.changed().await.is_err() {
                    return;
                }
                iterator = None;
                continue;
            }
            let client = self.sources.client.clone();
            let it = if let Some(it) = iterator.take() {
                it
            } else {
                let position = s.starting_position.as_deref().unwrap_or("LATEST");
                let checkpoint = self.checkpoint(&s.uuid);
                let at = s.starting_timestamp;
                let shard = &self.shard;
                match self
                    .stream
                    .iterator(&client, shard, checkpoint.as_deref(), position, at)
                    .await
                {
                    Ok(it) => it,
                    Err(e) => {
                        problem(&self.status, &s.uuid, &format!("PROBLEM: {e}"));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            };
            let (records, next) = match self.gather(&s, it).await {
                Ok(r) => r,
                Err(e) => {
                    if e.code() != Some("ExpiredIteratorException") {
                        problem(&self.status, &s.uuid, &format!("PROBLEM: {e}"));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    continue;
                }
            };
            backoff = Duration::from_secs(1);
            let Some(last) = records.last().map(|r| r.sequence.clone()) else {
                if next.is_none() {
                    self.ended
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(self.shard.clone());
                    return;
                }
                iterator = next;
                tokio::time::sleep(IDLE).await;
                continue;
            };
            let total = records.len();
            let kept: Vec<StreamRecord> = records
                .into_iter()
                .filter(|r| s.filters.matches(&filter::view(s.kind, &r.event)))
                .collect();
            MappingStatus::add(&self.status.filtered, (total - kept.len()) as u64);
            self.deliver_lanes(&s, kept).await;
            self.save_checkpoint(&s.uuid, &last);
            // A closed shard read to its end: the next iterator (after the checkpoint) says so.
            iterator = next;
        }
    }

    /// Records from `it` until the batch is full, the window ends or the shard has no more.
    async fn gather(
        &self,
        s: &MappingSettings,
        it: String,
    ) -> Result<(Vec<StreamRecord>, Option<String>), crate::aws_client::AwsError> {
        let client = &self.sources.client;
        let started = tokio::time::Instant::now();
        let mut records = Vec::new();
        let mut next = Some(it);
        while let Some(it) = next.take() {
            let page = self
                .stream
                .records(
                    client,
                    &self.shard,
                    &it,
                    s.batch_size - records.len(),
                    &self.role,
                )
                .await?;
            let empty = page.records.is_empty();
            records.extend(page.records);
            next = page.next;
            let left = s.window.saturating_sub(started.elapsed());
            if records.len() >= s.batch_size || left.is_zero() || next.is_none() {
                break;
            }
            if empty {
                tokio::time::sleep(left.min(IDLE)).await;
            }
        }
        Ok((records, next))
    }

    /// Deliver `records` as `ParallelizationFactor` concurrent batches, each record's lane
    /// chosen by its partition key (Kinesis) or item keys (DynamoDB): in order per key.
    async fn deliver_lanes(&self, s: &Arc<MappingSettings>, records: Vec<StreamRecord>) {
        let n = s.parallelization.max(1) as usize;
        if n == 1 || records.len() < 2 {
            return self.deliver(s, records).await;
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
            batches.spawn(async move { reader.deliver(&s, lane).await });
        }
        while batches.join_next().await.is_some() {}
    }

    /// Invoke the function with `records` in order, as AWS handles failures; records given up
    /// go to the on-failure destination.
    async fn deliver(&self, s: &MappingSettings, records: Vec<StreamRecord>) {
        let mut pending: VecDeque<Vec<StreamRecord>> = VecDeque::new();
        if !records.is_empty() {
            pending.push_back(records);
        }
        while let Some(mut batch) = pending.pop_front() {
            let mut attempts: u32 = 0;
            loop {
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
                let Some((last, first_failed)) = self.attempt(s, &batch, attempts).await else {
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
    }

    /// One invocation of `batch`: none when it succeeded, else what the attempt answered and,
    /// for a partial batch response, the index of the first failed record. Throttles are
    /// waited out, not counted.
    async fn attempt(
        &self,
        s: &MappingSettings,
        batch: &[StreamRecord],
        attempts: u32,
    ) -> Option<(LastAttempt, Option<usize>)> {
        let events: Vec<&Value> = batch.iter().map(|r| &r.event).collect();
        let payload = Bytes::from(json!({ "Records": events }).to_string());
        loop {
            MappingStatus::add(&self.status.batches, 1);
            MappingStatus::add(&self.status.records, batch.len() as u64);
            if attempts > 0 {
                MappingStatus::add(&self.status.retries, 1);
            }
            let registry = &self.sources.registry;
            let failed = match invoke::batch(registry, &s.function_arn, payload.clone()).await {
                BatchOutcome::Answered { payload, version } if s.report_failures => {
                    let ids: Vec<&str> = batch.iter().map(|r| r.sequence.as_str()).collect();
                    let first = match parse_batch_response(&payload, &ids) {
                        BatchResponse::AllSucceeded => None,
                        BatchResponse::Failed(failed) => {
                            batch.iter().position(|r| failed.contains(&r.sequence))
                        }
                        BatchResponse::Invalid => Some(0),
                    };
                    first.map(|i| (last_attempt(version, None), Some(i)))
                }
                BatchOutcome::Answered { .. } => None,
                BatchOutcome::FunctionError { version, .. } => {
                    Some((last_attempt(version, Some("Unhandled")), None))
                }
                BatchOutcome::NotInvoked(why) => {
                    problem(&self.status, &s.uuid, &format!("PROBLEM: {why}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if self.settings.borrow().deleted {
                        return None;
                    }
                    continue;
                }
            };
            if failed.is_none() {
                self.status.ok();
            } else {
                MappingStatus::add(&self.status.failures, 1);
                self.status.problem("PROBLEM: Function call failed");
            }
            return failed;
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
            super::log(
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

fn last_attempt(version: String, function_error: Option<&str>) -> LastAttempt {
    LastAttempt {
        status_code: 200,
        executed_version: version,
        function_error: function_error.map(str::to_owned),
    }
}
