//! The SQS poller (docs/reference.md §16.2): long-polls a queue, gathers batches by size,
//! window and 6 MB, drops what the filters reject, invokes the function and deletes what it
//! processed. A failed message is left alone: it comes back after the queue's visibility
//! timeout, and the queue's redrive policy moves it to its dead-letter queue.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

mod batch;
mod queue;

use batch::Batch;
pub use queue::check_queue;
use queue::{delete, queue_error, Queue};

use super::status::MappingStatus;
use super::{filter, sqs_record, MappingSettings, Poller, SourceKind};
use crate::aws_client::{AwsClient, AwsError, Service};
use crate::config::MAX_REQUEST_BYTES;
use crate::registry::Registry;

/// SQS's most messages per ReceiveMessage.
const MAX_RECEIVE: usize = 10;
/// SQS's longest long poll, seconds.
const MAX_WAIT_S: u64 = 20;
/// The longest pause after failed calls to the queue.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

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
                .quiet_problem("PROBLEM: the event source ARN names no queue");
            break;
        };
        let reserved = reserved_concurrency(&p.sources.registry, &s.function_arn);
        let wanted = in_flight_cap(&s, p.sources.max_environments, reserved);
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

/// The function's reserved concurrency now: a lookup by name and an atomic read, so a
/// PutFunctionConcurrency (or DeleteFunctionConcurrency) is seen by the next receive.
// NOTE: looked up on every receive rather than kept from the last settings change: a function
// deleted and created again under the same name has a new reservation, and the mapping outlives it.
fn reserved_concurrency(registry: &Registry, function_arn: &str) -> Option<u32> {
    let name = crate::invoke_api::routing::split(function_arn).name;
    registry.function(name)?.wide().reserved_concurrency()
}

/// How many batches may be in flight: the mapping's `MaximumConcurrency` (else the emulator's
/// most environments), no more than the function's reserved concurrency, at least one.
// NOTE: no more batches in flight than the function can run: the rest stay in the queue, as
// AWS's pollers scale down on throttles.
fn in_flight_cap(s: &MappingSettings, max_environments: u32, reserved: Option<u32>) -> usize {
    s.max_concurrency
        .unwrap_or(max_environments)
        .min(reserved.unwrap_or(u32::MAX))
        .max(1) as usize
}

/// Count and show a failed call to the queue.
fn failed_call(status: &MappingStatus, s: &MappingSettings, e: &AwsError) {
    MappingStatus::add(&status.poll_errors, 1);
    status.problem(&s.uuid, &format!("PROBLEM: {}", queue_error(e)));
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
    let mut batch = Vec::new();
    let mut bytes = 0;
    if fill(&mut batch, &mut bytes, std::mem::take(carry), carry) {
        return Ok(batch);
    }
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
        let records = answer["Messages"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .map(|m| sqs_record::record(m, &s.source_arn, &queue.region))
                    .collect()
            })
            .unwrap_or_default();
        let full = fill(&mut batch, &mut bytes, records, carry);
        if !batch.is_empty() {
            first_at.get_or_insert_with(Instant::now);
        }
        if full {
            return Ok(batch);
        }
        if first_at.is_none() {
            // Nothing came in a whole long poll: look at the mapping's settings again.
            return Ok(batch);
        }
    }
    Ok(batch)
}

/// Move `records` into `batch` (of `bytes`) until the next one would take it past 6 MB: that
/// one and every one after it wait in `carry` for the next batch (they were received: none may
/// be lost). Whether the batch is full.
fn fill(
    batch: &mut Vec<Value>,
    bytes: &mut usize,
    records: Vec<Value>,
    carry: &mut Vec<Value>,
) -> bool {
    let mut records = records.into_iter();
    for record in records.by_ref() {
        let size = super::encoded_len(&record);
        if *bytes + size > MAX_REQUEST_BYTES && !batch.is_empty() {
            carry.push(record);
            carry.extend(records);
            return true;
        }
        *bytes += size;
        batch.push(record);
    }
    false
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::{fill, in_flight_cap, reserved_concurrency};
    use crate::config::{Defaults, FunctionConfig, ThrottlePolicy};
    use crate::environment::FunctionContext;
    use crate::event_sources::MappingSettings;
    use crate::registry::Registry;
    use crate::scheduler::{EnvironmentCap, Scheduler};

    const ARN: &str = "arn:aws:lambda:us-east-1:012345678912:function:worker:live";

    #[test]
    fn a_receive_that_passes_6_mb_carries_every_message_after_the_limit() {
        let record = |n: usize| json!({"messageId": n, "body": "x".repeat(2_000_000)});
        let (mut batch, mut bytes, mut carry) = (Vec::new(), 0, Vec::new());
        // Five messages of 2 MB in one receive: three fit, the other two wait.
        assert!(fill(
            &mut batch,
            &mut bytes,
            (0..5).map(record).collect(),
            &mut carry
        ));
        let ids = |records: &[serde_json::Value]| -> Vec<u64> {
            records
                .iter()
                .map(|r| r["messageId"].as_u64().unwrap())
                .collect()
        };
        assert_eq!(ids(&batch), [0, 1, 2]);
        assert_eq!(ids(&carry), [3, 4]);
        // The next batch starts with what was carried and is filled the same way.
        let (mut next, mut next_bytes) = (Vec::new(), 0);
        let carried = std::mem::take(&mut carry);
        assert!(!fill(&mut next, &mut next_bytes, carried, &mut carry));
        assert_eq!(ids(&next), [3, 4]);
        assert!(carry.is_empty());
    }

    fn registry() -> Registry {
        let registry = Registry::new("us-east-1", "012345678912");
        let config = FunctionConfig::new("worker", vec!["runtime".into()], Defaults::FUNCTION);
        let function = FunctionContext::for_test(config);
        let cap = Arc::new(EnvironmentCap::new(4));
        let scheduler = Scheduler::new(function, cap, ThrottlePolicy::Reject);
        registry.add(Arc::new(scheduler)).expect("a new function");
        registry
    }

    fn settings(maximum_concurrency: Option<u32>) -> MappingSettings {
        let mut doc = json!({"FunctionArn": ARN});
        if let Some(n) = maximum_concurrency {
            doc["ScalingConfig"] = json!({"MaximumConcurrency": n});
        }
        MappingSettings::of(doc.as_object().expect("an object"))
    }

    #[tokio::test]
    async fn a_put_function_concurrency_is_seen_by_the_next_receive() {
        let registry = registry();
        assert_eq!(reserved_concurrency(&registry, ARN), None);
        let wide = registry.function("worker").expect("worker").wide().clone();
        wide.set_reserved_concurrency(Some(3));
        assert_eq!(reserved_concurrency(&registry, ARN), Some(3));
        wide.set_reserved_concurrency(None);
        assert_eq!(reserved_concurrency(&registry, ARN), None);
        assert_eq!(
            reserved_concurrency(
                &registry,
                "arn:aws:lambda:us-east-1:012345678912:function:gone"
            ),
            None
        );
    }

    #[test]
    fn the_cap_is_the_least_of_maximum_concurrency_environments_and_reservation() {
        assert_eq!(in_flight_cap(&settings(None), 8, None), 8);
        assert_eq!(in_flight_cap(&settings(Some(5)), 8, None), 5);
        assert_eq!(in_flight_cap(&settings(Some(5)), 8, Some(3)), 3);
        assert_eq!(in_flight_cap(&settings(None), 2, Some(3)), 2);
        assert_eq!(in_flight_cap(&settings(Some(5)), 8, Some(0)), 1);
    }
}
