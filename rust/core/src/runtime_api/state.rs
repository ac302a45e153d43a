//! The Runtime API's per-environment state: the invocation inbox `/next` waits on, the
//! invocations a runtime holds, the init phase, and what became of recent invocations.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use super::extensions::ExtensionRegistry;
use super::telemetry::TelemetryHub;
use crate::invocation::{Delivery, RuntimeReply};

/// How many answered invocations are remembered, to tell a second answer (403) or a late one
/// (410) from an unknown id (400).
const FINISHED_MEMORY: usize = 1024;

/// What init ended with, as the Runtime API saw it.
#[derive(Debug)]
pub enum InitSignal {
    /// The runtime asked for its first invocation.
    Ready,
    /// The runtime posted `/init/error`, or `/restore/error` (`restore`: SnapStart's
    /// after-restore hooks failed).
    Failed {
        /// The runtime's error JSON.
        body: Bytes,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
        /// Posted to `/restore/error`.
        restore: bool,
    },
}

/// Why an invocation no longer takes answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The runtime answered it.
    Answered,
    /// It timed out (or its runtime died) before an answer.
    TimedOut,
}

/// Why `/response` or `/error` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Never delivered here.
    UnknownId,
    /// Already answered.
    AlreadyAnswered,
    /// Timed out before this answer.
    TimedOut,
}

#[derive(Default)]
struct Inner {
    /// Whether a runtime was ever started here.
    started: bool,
    /// True between a runtime's start and its first `/next`.
    initializing: bool,
    init_signal: Option<oneshot::Sender<InitSignal>>,
    in_flight: HashMap<String, oneshot::Sender<RuntimeReply>>,
    finished: VecDeque<(String, Finished)>,
}

/// What `register` answers about the function.
#[derive(Debug, Clone, Default)]
pub struct FunctionMeta {
    /// `functionName`.
    pub function_name: String,
    /// `handler`.
    pub handler: String,
    /// `accountId` (with the `accountId` feature).
    pub account_id: String,
}

/// Shared between the environment (which delivers) and the listener (which serves the runtime).
pub struct RuntimeApiState {
    inbox_tx: mpsc::UnboundedSender<Delivery>,
    inbox_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>,
    inner: std::sync::Mutex<Inner>,
    generation: watch::Sender<u64>,
    /// The Extensions API's registrations and mailboxes.
    pub extensions: ExtensionRegistry,
    /// Telemetry and Logs API subscriptions.
    pub telemetry: std::sync::Arc<TelemetryHub>,
    meta: std::sync::OnceLock<FunctionMeta>,
}

impl RuntimeApiState {
    /// Fresh state, no runtime yet.
    pub fn new() -> Self {
        let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
        Self {
            inbox_tx,
            inbox_rx: tokio::sync::Mutex::new(inbox_rx),
            inner: std::sync::Mutex::new(Inner::default()),
            generation: watch::channel(0).0,
            extensions: ExtensionRegistry::default(),
            telemetry: std::sync::Arc::default(),
            meta: std::sync::OnceLock::new(),
        }
    }

    /// Say what `register` answers about the function (once, when the environment is made).
    pub fn set_function_meta(&self, meta: FunctionMeta) {
        let _ = self.meta.set(meta);
    }

    /// What `register` answers about the function.
    pub fn function_meta(&self) -> FunctionMeta {
        self.meta.get().cloned().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connections see this change when a runtime is replaced.
    pub fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// A new runtime process is about to start: drop the old one's connections and holdings,
    /// and return what will tell how its init ends.
    pub fn begin_init(&self) -> oneshot::Receiver<InitSignal> {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        // NOTE: only a replaced runtime's connections are dropped; before the first start
        // there is nothing to drop (and a client may already be waiting on /next).
        if inner.started {
            self.generation.send_modify(|g| *g += 1);
        }
        inner.started = true;
        inner.initializing = true;
        inner.init_signal = Some(tx);
        inner.in_flight.clear();
        rx
    }

    /// Queue an invocation for the runtime's `/next`.
    pub fn deliver(&self, delivery: Delivery) {
        let _ = self.inbox_tx.send(delivery);
    }

    /// The invocation will take no answer any more (timeout, crash).
    pub fn abandon(&self, request_id: &str) {
        let mut inner = self.lock();
        inner.in_flight.remove(request_id);
        remember(&mut inner, request_id, Finished::TimedOut);
    }

    /// `/next`: mark the runtime ready, then wait for an invocation and hold it.
    pub async fn next(&self) -> Option<Delivery> {
        {
            let mut inner = self.lock();
            if inner.initializing {
                inner.initializing = false;
                // NOTE: internal extensions register before the runtime's first /next.
                self.extensions.close();
                if let Some(tx) = inner.init_signal.take() {
                    let _ = tx.send(InitSignal::Ready);
                }
            }
        }
        let mut inbox = self.inbox_rx.lock().await;
        loop {
            let delivery = inbox.recv().await?;
            // NOTE: an invocation answered while queued (its runtime died first) is skipped.
            if delivery.reply.is_closed() {
                continue;
            }
            return Some(delivery);
        }
    }

    /// Record that the runtime holds `request_id`, answering through `reply`.
    pub fn hold(&self, request_id: String, reply: oneshot::Sender<RuntimeReply>) {
        self.lock().in_flight.insert(request_id, reply);
    }

    /// Whether the runtime took `request_id` from `/next` and has not answered it yet.
    pub fn holds(&self, request_id: &str) -> bool {
        self.lock().in_flight.contains_key(request_id)
    }

    /// `/response` or `/error`: hand the answer to the waiting invocation.
    pub fn answer(&self, request_id: &str, reply: RuntimeReply) -> Result<(), Refusal> {
        let mut inner = self.lock();
        match inner.in_flight.remove(request_id) {
            Some(tx) => {
                let delivered = tx.send(reply).is_ok();
                let state = if delivered {
                    Finished::Answered
                } else {
                    Finished::TimedOut
                };
                remember(&mut inner, request_id, state);
                if delivered {
                    Ok(())
                } else {
                    Err(Refusal::TimedOut)
                }
            }
            None => Err(
                match inner.finished.iter().rev().find(|(id, _)| id == request_id) {
                    Some((_, Finished::Answered)) => Refusal::AlreadyAnswered,
                    Some((_, Finished::TimedOut)) => Refusal::TimedOut,
                    None => Refusal::UnknownId,
                },
            ),
        }
    }

    /// Whether `request_id` ended by timing out (or its runtime dying) rather than by an answer.
    pub fn timed_out(&self, request_id: &str) -> bool {
        let inner = self.lock();
        let last = inner.finished.iter().rev().find(|(id, _)| id == request_id);
        matches!(last, Some((_, Finished::TimedOut)))
    }

    /// `/init/error` or `/restore/error`: accepted only before the first `/next`.
    pub fn init_error(&self, body: Bytes, error_type: Option<String>, restore: bool) -> bool {
        let mut inner = self.lock();
        if !inner.initializing {
            return false;
        }
        if let Some(tx) = inner.init_signal.take() {
            let _ = tx.send(InitSignal::Failed {
                body,
                error_type,
                restore,
            });
        }
        true
    }
}

impl Default for RuntimeApiState {
    fn default() -> Self {
        Self::new()
    }
}

fn remember(inner: &mut Inner, request_id: &str, state: Finished) {
    if inner.finished.len() == FINISHED_MEMORY {
        inner.finished.pop_front();
    }
    inner.finished.push_back((request_id.to_owned(), state));
}
