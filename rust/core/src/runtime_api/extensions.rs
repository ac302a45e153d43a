//! The extensions registered in one execution environment (Extensions API, docs/reference.md §3):
//! who they are, which events they take, their mailboxes, and whether each has come back to
//! `event/next` since its last event (init and every invocation wait on that).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::aws::extension as answers;

/// Why an extension's call was refused: the status and AWS's error body.
pub type Refusal = (u16, String);

/// What the extension subscribed to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subscriptions {
    /// `INVOKE` events.
    pub invoke: bool,
    /// `SHUTDOWN` events (external extensions only).
    pub shutdown: bool,
}

/// A failure an extension reported, which fails init or resets the environment.
#[derive(Debug, Clone)]
pub struct ExtensionFault {
    /// `Extension.InitError` or `Extension.ExitError`.
    pub error_type: &'static str,
    /// What to say about it.
    pub reason: String,
}

#[derive(Debug, Default)]
struct Mailbox {
    /// Events delivered and not yet taken by `event/next`.
    queue: VecDeque<Bytes>,
    /// The extension waits in `event/next` with nothing to take: it is done with its last event.
    waiting: bool,
    /// It called `event/next` at least once (init is complete for it).
    ready: bool,
}

/// One registered extension.
#[derive(Debug)]
pub struct Extension {
    /// `Lambda-Extension-Identifier`.
    pub id: String,
    /// `Lambda-Extension-Name` (the file name, for external ones).
    pub name: String,
    /// An executable the environment started (else it lives inside the runtime process).
    pub external: bool,
    /// Its events.
    pub events: Subscriptions,
    mailbox: Mutex<Mailbox>,
    wake: Notify,
}

impl Extension {
    fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether it has called `event/next` since registering.
    pub fn is_ready(&self) -> bool {
        self.mailbox().ready
    }
}

#[derive(Debug, Default)]
struct Registry {
    open: bool,
    /// File names of the external extensions started for this init.
    external: Vec<String>,
    list: Vec<Arc<Extension>>,
    fault: Option<ExtensionFault>,
}

/// The registry of one environment, shared by its Runtime API listener and the environment.
#[derive(Debug, Default)]
pub struct ExtensionRegistry {
    inner: Mutex<Registry>,
    /// Someone came back to `event/next`, registered, or reported a fault.
    changed: Notify,
    /// Fast check for the invoke path: any extension takes INVOKE events.
    invoke_subscribers: AtomicBool,
}

impl ExtensionRegistry {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new init phase: forget every extension and open registration, expecting the external
    /// extensions named `external` (their file names).
    pub fn open(&self, external: Vec<String>) {
        let mut r = self.lock();
        *r = Registry {
            open: true,
            external,
            list: Vec::new(),
            fault: None,
        };
        self.invoke_subscribers.store(false, Ordering::Release);
    }

    /// The runtime asked for its first invocation: no more registrations.
    pub fn close(&self) {
        self.lock().open = false;
    }

    /// Forget every extension (the environment was reset or stopped).
    pub fn clear(&self) {
        let mut r = self.lock();
        r.open = false;
        r.list.clear();
        self.invoke_subscribers.store(false, Ordering::Release);
    }

    /// `register`: check the name and the events, then hand out an identifier.
    pub fn register(&self, name: &str, events: &[String]) -> Result<Arc<Extension>, Refusal> {
        let mut r = self.lock();
        if !r.open {
            return Err((403, answers::registration_closed()));
        }
        let external = r.external.iter().any(|n| n == name);
        let mut subscriptions = Subscriptions::default();
        for event in events {
            match event.as_str() {
                "INVOKE" => subscriptions.invoke = true,
                "SHUTDOWN" if external => subscriptions.shutdown = true,
                "SHUTDOWN" => {
                    let why = "internal extensions cannot subscribe to SHUTDOWN";
                    return Err((403, answers::invalid_event(event, why)));
                }
                other => return Err((403, answers::invalid_event(other, "unknown event type"))),
            }
        }
        if r.list.iter().any(|e| e.name == name) {
            return Err((403, answers::name_taken()));
        }
        if r.list.len() >= answers::MAX_EXTENSIONS {
            return Err((403, answers::too_many()));
        }
        let extension = Arc::new(Extension {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            external,
            events: subscriptions,
            mailbox: Mutex::new(Mailbox::default()),
            wake: Notify::new(),
        });
        r.list.push(Arc::clone(&extension));
        if subscriptions.invoke {
            self.invoke_subscribers.store(true, Ordering::Release);
        }
        drop(r);
        self.changed.notify_waiters();
        Ok(extension)
    }

    /// The extension with identifier `id`.
    pub fn find(&self, id: &str) -> Option<Arc<Extension>> {
        self.lock().list.iter().find(|e| e.id == id).cloned()
    }

    /// Whether the external extension `name` registered.
    pub fn registered(&self, name: &str) -> bool {
        self.lock().list.iter().any(|e| e.name == name)
    }

    /// `event/next`: the extension is done with its last event; wait for the next one.
    pub async fn next(&self, extension: &Extension) -> Bytes {
        loop {
            let woken = extension.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            {
                let mut mailbox = extension.mailbox();
                if let Some(event) = mailbox.queue.pop_front() {
                    mailbox.waiting = false;
                    return event;
                }
                let newly = !mailbox.waiting || !mailbox.ready;
                mailbox.waiting = true;
                mailbox.ready = true;
                drop(mailbox);
                if newly {
                    self.changed.notify_waiters();
                }
            }
            woken.await;
        }
    }

    /// Whether any extension takes INVOKE events (no lock: checked on every invocation).
    pub fn has_invoke_subscribers(&self) -> bool {
        self.invoke_subscribers.load(Ordering::Acquire)
    }

    /// Hand `event` to every extension `wanted` selects; the names it went to.
    pub fn dispatch(&self, event: &Bytes, wanted: impl Fn(&Extension) -> bool) -> Vec<String> {
        let list = self.lock().list.clone();
        let mut names = Vec::new();
        for extension in list.iter().filter(|e| wanted(e)) {
            let mut mailbox = extension.mailbox();
            mailbox.queue.push_back(event.clone());
            mailbox.waiting = false;
            drop(mailbox);
            extension.wake.notify_one();
            names.push(extension.name.clone());
        }
        names
    }

    /// Resolves when every extension `wanted` selects waits in `event/next` with nothing
    /// queued (init: all of them; after an invocation: the INVOKE subscribers), or a fault
    /// was reported.
    pub async fn settled(&self, wanted: impl Fn(&Extension) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let done = {
                let r = self.lock();
                r.fault.is_some()
                    || r.list.iter().filter(|e| wanted(e)).all(|e| {
                        let m = e.mailbox();
                        m.waiting && m.queue.is_empty()
                    })
            };
            if done {
                return;
            }
            changed.await;
        }
    }

    /// Resolves once the external extension `name` has registered.
    pub async fn registration_of(&self, name: &str) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.registered(name) || self.fault().is_some() {
                return;
            }
            changed.await;
        }
    }

    /// Record the first fault an extension reported.
    pub fn report_fault(&self, fault: ExtensionFault) {
        let mut r = self.lock();
        if r.fault.is_none() {
            r.fault = Some(fault);
        }
        drop(r);
        self.changed.notify_waiters();
    }

    /// Resolves when an extension reports a fault.
    pub async fn faulted(&self) -> ExtensionFault {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(fault) = self.fault() {
                return fault;
            }
            changed.await;
        }
    }

    /// The fault reported since the last `open`, if any.
    pub fn fault(&self) -> Option<ExtensionFault> {
        self.lock().fault.clone()
    }

    /// Whether registration is still open (the init phase).
    pub fn is_open(&self) -> bool {
        self.lock().open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        let r = ExtensionRegistry::default();
        assert_eq!(r.register("a", &[]).unwrap_err().0, 403);
        r.open(vec!["agent".into()]);
        let shutdown = vec!["SHUTDOWN".to_owned()];
        assert!(r.register("agent", &shutdown).unwrap().external);
        let refused = r.register("inside", &shutdown).unwrap_err();
        assert!(refused.1.contains("Extension.InvalidEventType"));
        assert!(r
            .register("agent", &[])
            .unwrap_err()
            .1
            .contains("already registered"));
        for i in 1..answers::MAX_EXTENSIONS {
            r.register(&format!("x{i}"), &[]).unwrap();
        }
        assert!(r
            .register("one-more", &[])
            .unwrap_err()
            .1
            .contains("Extension.TooManyExtensions"));
        r.close();
        assert!(r
            .register("late", &[])
            .unwrap_err()
            .1
            .contains("Extension.RegistrationClosed"));
    }
}
