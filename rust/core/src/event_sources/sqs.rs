//! The SQS poller (docs/reference.md §16.2): long-polls a queue, gathers batches by size,
//! window and 6 MB, drops what the filters reject, invokes the function and deletes what it
//! processed. A failed message is left alone: it comes back after the queue's visibility
//! timeout, and the queue's redrive policy moves it to its dead-letter queue.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

use super::batch_response::{parse_batch_response, BatchResponse};
use super::invoke::{self, BatchOutcome};
use super::source::parse_arn;
use super::status::MappingStatus;
use super::{filter, sqs_record, MappingSettings, Poller, SourceKind};
use crate::aws::ServiceError;
use crate::aws_client::{AwsClient, AwsError, Service};
use crate::config::{LogLevel, MAX_REQUEST_BYTES};

/// SQS's most messages per ReceiveMessage.
const MAX_RECEIVE: usize = 10;
/// SQS's longest long poll, seconds.
const MAX_WAIT_S: u64 = 20;
/// The longest pause after failed calls to the queue.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A queue named by its ARN.
struct Queue {
    name: String,
    account: String,
    region: String,
}

impl Queue {
    fn of(arn: &str) -> Option<Self> {
        let a = parse_arn(arn)?;
        Some(Self {
            name: a.resource.to_owned(),
            account: a.account.to_owned(),
            region: a.region.to_owned(),
        })
    }

    async fn url(&self, client: &AwsClient) -> Result<String, AwsError> {
        let answer = client
            .json(
                Service::Sqs,
                &self.region,
                "GetQueueUrl",
                &json!({"QueueName": self.name, "QueueOwnerAWSAccountId": self.account}),
            )
            .await?;
        Ok(answer["QueueUrl"].as_str().unwrap_or_default().to_owned())
    }
}

/// AWS's text for a queue call that failed at CreateEventSourceMapping (and, here, in
/// LastProcessingResult).
fn queue_error(e: &AwsError) -> String {
    match e {
        AwsError::Service { code, message, .. } => format!(
            "Error occurred while ReceiveMessage. SQS Error Code: {code}. SQS Error Message: {message}"
        ),
        other => format!("Error occurred while ReceiveMessage: {other}"),
    }
}

/// Check the queue of a new mapping: it exists and its visibility timeout is at least the
/// function's timeout. A queue endpoint that does not answer is accepted (logged).
pub async fn check_queue(
    client: &AwsClient,
    arn: &str,
    function_timeout_s: u32,
) -> Result<(), ServiceError> {
    let queue = Queue::of(arn)
        .ok_or_else(|| ServiceError::invalid_parameter("Unrecognized event source."))?;
    let attributes = async {
        let url = queue.url(client).await?;
        client
            .json(
                Service::Sqs,
                &queue.region,
                "GetQueueAttributes",
                &json!({"QueueUrl": url, "AttributeNames": ["VisibilityTimeout"]}),
            )
            .await
    };
    match attributes.await {
        Ok(a) => {
            let visibility: u32 = a["Attributes"]["VisibilityTimeout"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(30);
            if visibility < function_timeout_s {
                return Err(ServiceError::invalid_parameter(&format!(
                    "Queue visibility timeout: {visibility} seconds is less than Function timeout: {function_timeout_s} seconds"
                )));
            }
            Ok(())
        }
        Err(e @ AwsError::Service { .. }) => Err(ServiceError::invalid_parameter(&queue_error(&e))),
        Err(e) => {
            crate::logs::message(
                LogLevel::Warn,
                &format!("queue {arn} cannot be checked now ({e}); its mapping will retry"),
            );
            Ok(())
        }
    }
}

/// The message groups of a FIFO queue with a batch in flight.
#[derive(Default)]
struct Groups {
    busy: Mutex<HashSet<String>>,
    freed: Notify,
}

impl Groups {
    /// Wait until none of `groups` has a batch in flight, then take them.
    async fn take(&self, groups: &HashSet<String>) {
        loop {
            let freed = self.freed.notified();
            {
                let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
                if busy.is_disjoint(groups) {
                    busy.extend(groups.iter().cloned());
                    return;
                }
            }
            freed.await;
        }
    }

    fn give_back(&self, groups: &HashSet<String>) {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        for g in groups {
            busy.remove(g);
        }
        drop(busy);
        self.freed.notify_waiters();
    }
}

/// Wait `backoff` (or until the mapping changes), and double it up to [`MAX_BACKOFF`].
async fn pause(p: &mut Poller, backoff: &mut Duration) {
    tokio::select! {
        () = tokio::time::sleep(*backoff) => {}
        _ = p.settings.changed() => {}
    }
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
}

/// Poll the mapping's queue until the mapping is deleted (or the emulator stops).
pub async fn run(mut p: Poller) {
    let mut backoff = Duration::from_secs(1);
    let mut url: Option<String> = None;
    let mut carry: Vec<Value> = Vec::new();
    let groups = Arc::new(Groups::default());
    let mut limit = (0, Arc::new(Semaphore::new(1)));
    loop {
        let s = Arc::clone(&p.settings.borrow_and_update());
        if s.deleted {
            break;
        }
        if !s.enabled {
            if p.settings.changed().await.is_err() {
                break;
            }
            continue;
        }
        let Some(queue) = Queue::of(&s.source_arn) else {
            p.status
                .problem("PROBLEM: the event source ARN names no queue");
            break;
        };
        let wanted = s
            .max_concurrency
            .unwrap_or(p.sources.max_environments)
            .max(1) as usize;
        if limit.0 != wanted {
            limit = (wanted, Arc::new(Semaphore::new(wanted)));
        }
        let client = p.sources.client.clone();
        if url.is_none() {
            match queue.url(&client).await {
                Ok(u) => url = Some(u),
                Err(e) => {
                    failed_call(&p.status, &s, &e);
                    pause(&mut p, &mut backoff).await;
                    continue;
                }
            }
        }
        let queue_url = url.clone().unwrap_or_default();
        let busy = limit.1.available_permits() < limit.0;
        let records = match gather(&client, &queue, &queue_url, &s, &mut carry, busy).await {
            Ok(r) => r,
            Err(e) => {
                failed_call(&p.status, &s, &e);
                url = None;
                pause(&mut p, &mut backoff).await;
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        let records = drop_filtered(&client, &queue, &queue_url, &s, &p.status, records).await;
        if records.is_empty() {
            continue;
        }
        let Ok(permit) = Arc::clone(&limit.1).acquire_owned().await else {
            continue;
        };
        let batch = Batch {
            client,
            region: queue.region.clone(),
            url: queue_url,
            settings: s,
            status: Arc::clone(&p.status),
            groups: Arc::clone(&groups),
        };
        let registry = Arc::clone(&p.sources.registry);
        let group_set = fifo_groups(&records);
        groups.take(&group_set).await;
        tokio::spawn(async move {
            batch.process(&registry, records).await;
            batch.groups.give_back(&group_set);
            drop(permit);
        });
    }
    // Let the batches in flight finish before the poller ends (DeleteEventSourceMapping).
    let _ = limit.1.acquire_many(limit.0 as u32).await;
}

/// Count and show a failed call to the queue.
fn failed_call(status: &MappingStatus, s: &MappingSettings, e: &AwsError) {
    MappingStatus::add(&status.poll_errors, 1);
    let text = format!("PROBLEM: {}", queue_error(e));
    if status.last().as_deref() != Some(text.as_str()) {
        super::log(LogLevel::Warn, &s.uuid, &text);
    }
    status.problem(&text);
}

/// Receive until the batch is full, the window ends or the next message would pass 6 MB (it
/// is kept in `carry` for the next batch). Window 0: invoke with what the first receive got.
/// While batches are `busy` in flight, a receive waits at most a second.
// NOTE: a FIFO group (or a message) being processed is invisible; a long poll started then is
// not always woken when the batch is deleted (moto server waits out the whole poll), so the
// poller keeps its waits short while it has work in flight.
async fn gather(
    client: &AwsClient,
    queue: &Queue,
    url: &str,
    s: &MappingSettings,
    carry: &mut Vec<Value>,
    busy: bool,
) -> Result<Vec<Value>, AwsError> {
    let longest = if busy { 1 } else { MAX_WAIT_S };
    let mut batch: Vec<Value> = std::mem::take(carry);
    let mut bytes: usize = batch.iter().map(|r| r.to_string().len()).sum();
    let mut first_at = (!batch.is_empty()).then(Instant::now);
    while batch.len() < s.batch_size {
        let wait = match first_at {
            None => longest,
            Some(_) if s.window.is_zero() => break,
            Some(t) => {
                let left = s.window.saturating_sub(t.elapsed());
                if left.is_zero() {
                    break;
                }
                left.as_secs_f64().ceil() as u64
            }
        };
        let want = (s.batch_size - batch.len()).min(MAX_RECEIVE);
        let answer = client
            .json(
                Service::Sqs,
                &queue.region,
                "ReceiveMessage",
                &json!({
                    "QueueUrl": url,
                    "MaxNumberOfMessages": want,
                    "WaitTimeSeconds": wait.min(longest),
                    "MessageSystemAttributeNames": ["All"],
                    "AttributeNames": ["All"],
                    "MessageAttributeNames": ["All"],
                }),
            )
            .await?;
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        for m in messages {
            let record = sqs_record::record(&m, &s.source_arn, &queue.region);
            let size = record.to_string().len();
            if bytes + size > MAX_REQUEST_BYTES && !batch.is_empty() {
                carry.push(record);
                return Ok(batch);
            }
            bytes += size;
            batch.push(record);
            first_at.get_or_insert_with(Instant::now);
        }
        if first_at.is_none() {
            // Nothing came in a whole long poll: look at the mapping's settings again.
            return Ok(batch);
        }
    }
    Ok(batch)
}

/// The records the filters keep; the rest are deleted from the queue, as on AWS.
async fn drop_filtered(
    client: &AwsClient,
    queue: &Queue,
    url: &str,
    s: &MappingSettings,
    status: &MappingStatus,
    records: Vec<Value>,
) -> Vec<Value> {
    if s.filters.is_empty() {
        return records;
    }
    let (keep, drop): (Vec<Value>, Vec<Value>) = records
        .into_iter()
        .partition(|r| s.filters.matches(&filter::view(SourceKind::Sqs, r)));
    if !drop.is_empty() {
        MappingStatus::add(&status.filtered, drop.len() as u64);
        delete(client, &queue.region, url, &s.uuid, &drop).await;
    }
    keep
}

/// The message groups of a batch (empty for a standard queue).
fn fifo_groups(records: &[Value]) -> HashSet<String> {
    records
        .iter()
        .filter_map(|r| r["attributes"]["MessageGroupId"].as_str())
        .map(str::to_owned)
        .collect()
}

/// Delete `records` from the queue, ten per call; failures are logged (the messages come back).
async fn delete(client: &AwsClient, region: &str, url: &str, uuid: &str, records: &[Value]) {
    for chunk in records.chunks(MAX_RECEIVE) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"Id": i.to_string(), "ReceiptHandle": r["receiptHandle"]}))
            .collect();
        let answer = client
            .json(
                Service::Sqs,
                region,
                "DeleteMessageBatch",
                &json!({"QueueUrl": url, "Entries": entries}),
            )
            .await;
        let failed = match answer {
            Ok(a) => a["Failed"].as_array().map_or(0, Vec::len),
            Err(e) => {
                super::log(LogLevel::Warn, uuid, &format!("DeleteMessageBatch: {e}"));
                chunk.len()
            }
        };
        if failed > 0 {
            super::log(
                LogLevel::Warn,
                uuid,
                &format!("{failed} message(s) not deleted; they will be received again"),
            );
        }
    }
}

/// One batch on its way to the function.
struct Batch {
    client: AwsClient,
    region: String,
    url: String,
    settings: Arc<MappingSettings>,
    status: Arc<MappingStatus>,
    groups: Arc<Groups>,
}

impl Batch {
    /// Invoke the function with `records` and delete what it processed.
    async fn process(&self, registry: &crate::registry::Registry, records: Vec<Value>) {
        let s = &self.settings;
        MappingStatus::add(&self.status.batches, 1);
        MappingStatus::add(&self.status.records, records.len() as u64);
        if let Some(oldest) = records
            .iter()
            .filter_map(|r| {
                r["attributes"]["SentTimestamp"]
                    .as_str()?
                    .parse::<u64>()
                    .ok()
            })
            .min()
        {
            let age = crate::clock::epoch_ms().saturating_sub(oldest);
            self.status
                .oldest_age_ms
                .store(age, std::sync::atomic::Ordering::Relaxed);
        }
        let payload = Bytes::from(json!({ "Records": records }).to_string());
        let processed: Vec<Value> = match invoke::batch(registry, &s.function_arn, payload).await {
            BatchOutcome::Answered { payload, .. } if s.report_failures => {
                let ids: Vec<&str> = records
                    .iter()
                    .filter_map(|r| r["messageId"].as_str())
                    .collect();
                match parse_batch_response(&payload, &ids) {
                    BatchResponse::AllSucceeded => {
                        self.status.ok();
                        records
                    }
                    BatchResponse::Failed(failed) => {
                        MappingStatus::add(&self.status.failures, 1);
                        self.status.ok();
                        records
                            .into_iter()
                            .filter(|r| {
                                r["messageId"]
                                    .as_str()
                                    .is_some_and(|id| !failed.iter().any(|f| f == id))
                            })
                            .collect()
                    }
                    BatchResponse::Invalid => {
                        MappingStatus::add(&self.status.failures, 1);
                        self.status.problem("PROBLEM: Function call failed");
                        Vec::new()
                    }
                }
            }
            BatchOutcome::Answered { .. } => {
                self.status.ok();
                records
            }
            BatchOutcome::FunctionError { .. } => {
                MappingStatus::add(&self.status.failures, 1);
                self.status.problem("PROBLEM: Function call failed");
                Vec::new()
            }
            BatchOutcome::NotInvoked(why) => {
                MappingStatus::add(&self.status.failures, 1);
                self.status.problem(&format!("PROBLEM: {why}"));
                Vec::new()
            }
        };
        delete(&self.client, &self.region, &self.url, &s.uuid, &processed).await;
    }
}
