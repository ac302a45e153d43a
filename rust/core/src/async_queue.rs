//! `Event` invocations (docs/reference.md §2): accepted with 202, then run by the next
//! environment that frees up, retried on failure with AWS's delays, dropped to the failure
//! destination when too old, and reported to destinations and the dead-letter target. The
//! events held in memory are bounded in bytes: past the bound they spill to the state file, or
//! are refused.

mod event;
mod spill;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinSet;

use crate::config::{
    AsyncSettings, Destination, LogLevel, ThrottlePolicy, RETRY_DELAYS, THROTTLE_BACKOFF,
};
use crate::destinations::{self, Condition};
use crate::invocation::{new_request_id, Outcome, OutcomeKind};
use crate::logs;
use crate::registry::{Registry, Target, Version};
use crate::scheduler::Scheduler;
pub use event::QueuedEvent;
use spill::Spill;

/// The queue is full: the event was refused (429).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// The events held in memory, and the tail spilled to the state file.
#[derive(Debug, Default)]
struct Held {
    /// By request id, with the order they came in.
    events: HashMap<String, (u64, QueuedEvent)>,
    arrivals: u64,
    /// Payload bytes of `events`.
    bytes: u64,
    spill: Option<Spill>,
    /// Events whose invocation is over, their destination records on the way: never kept for
    /// a next start, even when the stop cuts their delivery short.
    finished: HashSet<String>,
}

impl Held {
    fn insert(&mut self, event: QueuedEvent) {
        self.arrivals += 1;
        self.bytes += event.payload.len() as u64;
        self.events
            .insert(event.request_id.clone(), (self.arrivals, event));
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.spill.as_ref().is_none_or(Spill::is_empty)
    }
}

/// Every function's async queue.
pub struct AsyncInvoker {
    registry: Arc<Registry>,
    scale: f64,
    /// Most payload bytes held in memory.
    limit: u64,
    held: Mutex<Held>,
    tasks: Mutex<JoinSet<()>>,
    /// The client of service destinations (SQS, SNS, EventBridge, S3).
    client: crate::aws_client::AwsClient,
}

impl AsyncInvoker {
    /// An invoker of the functions of `registry` whose delays and ages are multiplied by
    /// `scale`, holding at most `limit` payload bytes in memory; past them, events spill to
    /// `state` (when given) or are refused.
    pub fn new(
        registry: Arc<Registry>,
        scale: f64,
        limit: u64,
        state: Option<&Path>,
        client: crate::aws_client::AwsClient,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            registry,
            scale,
            limit,
            held: Mutex::new(Held {
                spill: state.map(Spill::open),
                ..Held::default()
            }),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale.max(0.0))
    }

    /// Accept an `Event` invocation of `payload` for `target`: its request id, or AWS's 429
    /// when the queue is full.
    pub fn accept(
        self: &Arc<Self>,
        target: Target,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> Result<String, crate::aws::ServiceError> {
        let event = QueuedEvent {
            function: target.scheduler.function().config.name.clone(),
            request_id: new_request_id(),
            payload,
            invoked_arn: target.invoked_arn,
            trace_id: trace_id.unwrap_or_else(crate::invocation::new_trace_id),
            accepted_ms: crate::clock::epoch_ms(),
            attempts: 0,
        };
        let id = event.request_id.clone();
        let scheduler = Arc::clone(&target.scheduler);
        if self.enqueue(target.scheduler, event).is_err() {
            // NOTE: AWS documents no reason of its own for a full async queue; it is the
            // account's concurrency that such a queue protects.
            scheduler.metrics().throttled();
            return Err(crate::aws::ServiceError::throttled(false));
        }
        Ok(id)
    }

    /// Accept an event for `scheduler`'s function: held in memory within the bound (and behind
    /// any spilled events), else appended to the state file, else refused.
    pub fn enqueue(
        self: &Arc<Self>,
        scheduler: Arc<Scheduler>,
        event: QueuedEvent,
    ) -> Result<(), QueueFull> {
        let mut held = self.held();
        let size = event.payload.len() as u64;
        let spilling = held.spill.as_ref().is_some_and(|s| !s.is_empty());
        if !spilling && (held.events.is_empty() || held.bytes + size <= self.limit) {
            held.insert(event.clone());
            drop(held);
            self.run(scheduler, event, true);
            return Ok(());
        }
        let Some(spill) = held.spill.as_mut() else {
            return Err(QueueFull);
        };
        if let Err(e) = spill.push(&event) {
            let path = spill.path().display().to_string();
            drop(held);
            logs::message(LogLevel::Error, &format!("cannot queue to {path}: {e}"));
            return Err(QueueFull);
        }
        scheduler
            .metrics()
            .async_queue_depth
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Start running a held event; `new` counts it in the queue depth (a spilled one was
    /// counted when it spilled).
    fn run(self: &Arc<Self>, scheduler: Arc<Scheduler>, event: QueuedEvent, new: bool) {
        if new {
            scheduler
                .metrics()
                .async_queue_depth
                .fetch_add(1, Ordering::Relaxed);
        }
        let me = Arc::clone(self);
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move { me.process(scheduler, event).await });
    }

    /// Queue again the events the last run left in the state file (as many as fit in memory;
    /// the rest are read back as the queue drains).
    pub fn restore(self: &Arc<Self>) {
        let (count, path) = match &self.held().spill {
            Some(s) if s.restored() > 0 => (s.restored(), s.path().display().to_string()),
            _ => return,
        };
        logs::message(
            LogLevel::Info,
            &format!("re-queued {count} events from {path}"),
        );
        self.read_back();
    }

    /// Move spilled events into memory while they fit, and start them.
    fn read_back(self: &Arc<Self>) {
        loop {
            let mut held = self.held();
            let (bytes, empty, limit) = (held.bytes, held.events.is_empty(), self.limit);
            let Some(spill) = held.spill.as_mut() else {
                return;
            };
            let fits = |e: &QueuedEvent| empty || bytes + e.payload.len() as u64 <= limit;
            let Some((event, restored)) = spill.take_if(fits) else {
                return;
            };
            match self.registry.get(&event.function) {
                Some(s) => {
                    held.insert(event.clone());
                    drop(held);
                    self.run(s, event, restored);
                }
                None => logs::message(
                    LogLevel::Warn,
                    &format!(
                        "dropped kept event {}: no function {}",
                        event.request_id, event.function
                    ),
                ),
            }
        }
    }

    /// Queue a new event (a record or a dead letter) for the function called `name`.
    fn enqueue_to(self: &Arc<Self>, name: &str, payload: Bytes) {
        let Some(scheduler) = self.registry.get(name) else {
            logs::message(
                LogLevel::Warn,
                &format!("destination function:{name} does not exist"),
            );
            return;
        };
        let event = QueuedEvent {
            function: name.to_owned(),
            request_id: new_request_id(),
            payload,
            invoked_arn: scheduler.function().arn(),
            trace_id: crate::invocation::new_trace_id(),
            accepted_ms: crate::clock::epoch_ms(),
            attempts: 0,
        };
        // NOTE: a destination record is never refused: the event that made it has just
        // freed its own bytes.
        self.held().insert(event.clone());
        self.run(scheduler, event, true);
    }

    /// The async settings of an event: its alias's own when it was invoked through an alias
    /// that has an invoke configuration, else those of the version that runs it.
    fn settings_of(&self, scheduler: &Scheduler, event: &QueuedEvent) -> AsyncSettings {
        let alias = event
            .invoked_arn
            .split(':')
            .nth(7)
            .filter(|q| Version::parse(q).is_none());
        alias
            .and_then(|a| self.registry.function(&event.function)?.alias(a))
            .and_then(|route| route.async_settings)
            .map_or_else(
                || scheduler.function().config.async_settings(),
                |s| (*s).clone(),
            )
    }

    async fn process(self: Arc<Self>, scheduler: Arc<Scheduler>, mut event: QueuedEvent) {
        let cfg = self.settings_of(&scheduler, &event);
        let dead_letter = scheduler.function().config.dead_letter.clone();
        let max_age = self.scaled(cfg.maximum_event_age);
        let mut backoff = self.scaled(THROTTLE_BACKOFF.0);
        let mut last: Option<Outcome> = None;
        let (condition, label) = loop {
            if event.age() > max_age {
                break (Condition::EventAgeExceeded, 2);
            }
            match scheduler
                .invoke_with(event.invocation(), ThrottlePolicy::Queue)
                .await
            {
                Err(_) => {
                    // NOTE: only reserved concurrency 0 and a failed SnapStart restore refuse a
                    // queued event: back off (AWS retries such errors until the event's age).
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.scaled(THROTTLE_BACKOFF.1));
                }
                Ok(outcome) => {
                    event.attempts += 1;
                    self.note_attempt(&event);
                    let success = outcome.kind == OutcomeKind::Success;
                    last = Some(outcome);
                    if success {
                        break (Condition::Success, 0);
                    }
                    if event.attempts > cfg.maximum_retry_attempts {
                        break (Condition::RetriesExhausted, 1);
                    }
                    let delay =
                        RETRY_DELAYS[(event.attempts as usize - 1).min(RETRY_DELAYS.len() - 1)];
                    tokio::time::sleep(self.scaled(delay)).await;
                }
            }
        };
        let function = scheduler.function();
        let arn = function.arn();
        let record = destinations::record(
            &arn,
            &function.config.version,
            &event.request_id,
            condition,
            event.attempts,
            &event.payload,
            last.as_ref(),
        );
        let target = if condition == Condition::Success {
            &cfg.on_success
        } else {
            &cfg.on_failure
        };
        let success = condition == Condition::Success;
        let metrics = scheduler.metrics();
        // NOTE: marked before any destination is written, in the same poll as the write of a
        // `file:` destination starts: a stop that cuts the delivery short must not keep (and so
        // run again) an event whose record may already be written.
        self.held().finished.insert(event.request_id.clone());
        if let Some(t) = target {
            if !self.deliver(t, record, &arn, success).await {
                metrics.destination_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !success {
            if let Some(t) = &dead_letter {
                if !self.deliver(t, event.payload.clone(), &arn, false).await {
                    metrics.destination_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        metrics.async_events[label].fetch_add(1, Ordering::Relaxed);
        metrics.async_queue_depth.fetch_sub(1, Ordering::Relaxed);
        let mut held = self.held();
        if let Some((_, e)) = held.events.remove(&event.request_id) {
            held.bytes = held.bytes.saturating_sub(e.payload.len() as u64);
        }
        held.finished.remove(&event.request_id);
        drop(held);
        self.read_back();
    }

    fn note_attempt(&self, event: &QueuedEvent) {
        if let Some((_, e)) = self.held().events.get_mut(&event.request_id) {
            e.attempts = event.attempts;
        }
    }

    async fn deliver(
        self: &Arc<Self>,
        target: &Destination,
        body: Bytes,
        function_arn: &str,
        success: bool,
    ) -> bool {
        let result = match target {
            Destination::Function(name) => {
                self.enqueue_to(name, body);
                Ok(())
            }
            Destination::File(path) => destinations::append_line(path.clone(), body).await,
            Destination::Http(url) => destinations::post(url, &body).await.map(|_| ()),
            Destination::Service(arn) => {
                let about = destinations::service::Delivery {
                    function_arn,
                    success,
                    key_prefix: "aws/lambda/async",
                };
                destinations::service::send(&self.client, arn, body, about)
                    .await
                    .map_err(std::io::Error::other)
            }
        };
        if let Err(e) = &result {
            logs::message(
                LogLevel::Warn,
                &format!("destination {target:?} failed: {e}"),
            );
        }
        result.is_ok()
    }

    /// Wait up to `timeout` for the queue to empty; stop what is left in memory and return it,
    /// in the order it came in.
    pub async fn drain(&self, timeout: Duration) -> Vec<QueuedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline && !self.held().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
        let mut held = self.held();
        let finished = std::mem::take(&mut held.finished);
        let mut left: Vec<(u64, QueuedEvent)> = held
            .events
            .drain()
            .filter(|(id, _)| !finished.contains(id))
            .map(|(_, e)| e)
            .collect();
        drop(held);
        left.sort_by_key(|(arrival, _)| *arrival);
        left.into_iter().map(|(_, e)| e).collect()
    }

    /// At shutdown: keep the events `left` in memory, then the spilled ones, in the state file;
    /// without one, log them as dropped.
    pub fn keep_or_report(&self, left: &[QueuedEvent]) {
        let mut held = self.held();
        let Some(spill) = held.spill.as_mut() else {
            drop(held);
            report_dropped(left);
            return;
        };
        let path = spill.path().display().to_string();
        match spill.keep(left) {
            Ok(0) => {}
            Ok(n) => logs::message(LogLevel::Info, &format!("kept {n} queued events in {path}")),
            Err(e) => logs::message(LogLevel::Error, &format!("cannot write {path}: {e}")),
        }
    }
}

/// Log the request ids of the events dropped at shutdown.
fn report_dropped(left: &[QueuedEvent]) {
    if left.is_empty() {
        return;
    }
    let ids: Vec<&str> = left.iter().map(|e| e.request_id.as_str()).collect();
    logs::message(
        LogLevel::Warn,
        &format!(
            "dropped {} queued events at shutdown: {}",
            left.len(),
            ids.join(", ")
        ),
    );
}
