//! `Event` invocations (SPEC 2, issue of async): accepted with 202, then run by the next
//! environment that frees up, retried on failure with AWS's delays, dropped to the failure
//! destination when too old, and reported to destinations and the dead-letter target.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinSet;

use crate::config::{Destination, LogLevel, ThrottlePolicy, RETRY_DELAYS, THROTTLE_BACKOFF};
use crate::destinations::{self, Condition};
use crate::invocation::{new_request_id, Invocation, Outcome, OutcomeKind};
use crate::logs;
use crate::registry::{Registry, Target};
use crate::scheduler::Scheduler;

/// An accepted event, as kept in the queue and in the state file.
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    /// The function it is for.
    pub function: String,
    /// Its request id, the same for every attempt.
    pub request_id: String,
    /// The event bytes (JSON).
    pub payload: Bytes,
    /// The ARN the caller used.
    pub invoked_arn: String,
    /// Trace header.
    pub trace_id: String,
    /// When it was accepted, epoch ms.
    pub accepted_ms: u64,
    /// Attempts made so far.
    pub attempts: u32,
}

impl QueuedEvent {
    fn invocation(&self) -> Invocation {
        let mut inv = Invocation::new(self.payload.clone(), self.invoked_arn.clone());
        inv.request_id.clone_from(&self.request_id);
        inv.trace_id.clone_from(&self.trace_id);
        inv
    }

    fn age(&self) -> Duration {
        Duration::from_millis(crate::clock::epoch_ms().saturating_sub(self.accepted_ms))
    }

    /// One line of the state file.
    pub fn to_json_line(&self) -> String {
        serde_json::json!({
            "function": self.function,
            "requestId": self.request_id,
            "payload": String::from_utf8_lossy(&self.payload),
            "invokedArn": self.invoked_arn,
            "traceId": self.trace_id,
            "acceptedMs": self.accepted_ms,
            "attempts": self.attempts,
        })
        .to_string()
    }

    /// Read one line of the state file.
    pub fn from_json_line(line: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(Self {
            function: v.get("function")?.as_str()?.to_owned(),
            request_id: v.get("requestId")?.as_str()?.to_owned(),
            payload: Bytes::from(v.get("payload")?.as_str()?.to_owned()),
            invoked_arn: v.get("invokedArn")?.as_str()?.to_owned(),
            trace_id: v.get("traceId")?.as_str()?.to_owned(),
            accepted_ms: v.get("acceptedMs")?.as_u64()?,
            attempts: u32::try_from(v.get("attempts")?.as_u64()?).ok()?,
        })
    }
}

/// Every function's async queue.
pub struct AsyncInvoker {
    registry: Arc<Registry>,
    scale: f64,
    pending: Mutex<HashMap<String, QueuedEvent>>,
    tasks: Mutex<JoinSet<()>>,
}

impl AsyncInvoker {
    /// An invoker of the functions of `registry`, whose delays and ages are multiplied by
    /// `scale`.
    pub fn new(registry: Arc<Registry>, scale: f64) -> Arc<Self> {
        Arc::new(Self {
            registry,
            scale,
            pending: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale.max(0.0))
    }

    /// Accept an `Event` invocation of `payload` for `target`; its request id.
    pub fn accept(
        self: &Arc<Self>,
        target: Target,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> String {
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
        self.enqueue(target.scheduler, event);
        id
    }

    /// Queue again the events kept in the state file at the last shutdown.
    pub fn restore(self: &Arc<Self>, path: &std::path::Path) {
        let events = restore(path);
        if events.is_empty() {
            return;
        }
        logs::message(
            LogLevel::Info,
            &format!("re-queued {} events from {}", events.len(), path.display()),
        );
        for event in events {
            match self.registry.get(&event.function) {
                Some(s) => self.enqueue(s, event),
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

    /// Accept an event for `scheduler`'s function.
    pub fn enqueue(self: &Arc<Self>, scheduler: Arc<Scheduler>, event: QueuedEvent) {
        scheduler
            .metrics()
            .async_queue_depth
            .fetch_add(1, Ordering::Relaxed);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(event.request_id.clone(), event.clone());
        let me = Arc::clone(self);
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move { me.process(scheduler, event).await });
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
        self.enqueue(scheduler, event);
    }

    async fn process(self: Arc<Self>, scheduler: Arc<Scheduler>, mut event: QueuedEvent) {
        let cfg = scheduler.function().config.clone();
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
                    // NOTE: only reserved concurrency 0 refuses a queued event: back off.
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
        let arn = scheduler.function().arn();
        let record = destinations::record(
            &arn,
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
        if let Some(t) = target {
            self.deliver(t, record).await;
        }
        if condition != Condition::Success {
            if let Some(t) = &cfg.dead_letter {
                self.deliver(t, event.payload.clone()).await;
            }
        }
        let metrics = scheduler.metrics();
        metrics.async_events[label].fetch_add(1, Ordering::Relaxed);
        metrics.async_queue_depth.fetch_sub(1, Ordering::Relaxed);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&event.request_id);
    }

    fn note_attempt(&self, event: &QueuedEvent) {
        if let Some(e) = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&event.request_id)
        {
            e.attempts = event.attempts;
        }
    }

    async fn deliver(self: &Arc<Self>, target: &Destination, body: Bytes) {
        let result = match target {
            Destination::Function(name) => {
                self.enqueue_to(name, body);
                Ok(())
            }
            Destination::File(path) => destinations::append_line(path.clone(), body).await,
            Destination::Http(url) => destinations::post(url, &body).await.map(|_| ()),
        };
        if let Err(e) = result {
            logs::message(
                LogLevel::Warn,
                &format!("destination {target:?} failed: {e}"),
            );
        }
    }

    /// Wait up to `timeout` for the queue to empty; stop what is left and return it.
    pub async fn drain(&self, timeout: Duration) -> Vec<QueuedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline && !self.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, e)| e)
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// Write the events left at shutdown to `path` (one JSON line each), or log them as dropped.
pub fn keep_or_report(left: &[QueuedEvent], path: Option<&PathBuf>) {
    if left.is_empty() {
        return;
    }
    if let Some(p) = path {
        let text: String = left.iter().map(|e| e.to_json_line() + "\n").collect();
        match std::fs::write(p, text) {
            Ok(()) => logs::message(
                LogLevel::Info,
                &format!("kept {} queued events in {}", left.len(), p.display()),
            ),
            Err(e) => logs::message(
                LogLevel::Error,
                &format!("cannot write {}: {e}", p.display()),
            ),
        }
    } else {
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
}

/// Read (and remove) the state file written at the last shutdown.
fn restore(path: &std::path::Path) -> Vec<QueuedEvent> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let _ = std::fs::remove_file(path);
    text.lines()
        .filter_map(QueuedEvent::from_json_line)
        .collect()
}
