//! One invocation's answer on its way from the tokio task that ran it to the Python thread (or
//! asyncio loop) that waits for it. Nothing here touches Python: tokio threads only store the
//! answer, signal a condition variable and, for asyncio, an eventfd the event loop watches.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lambda_rie_core::aws::ServiceError;
use lambda_rie_core::invocation::Outcome;

/// How an invocation ended, seen from the caller.
pub enum Reply {
    /// The scheduler answered: an outcome (function errors included) or a service error.
    Done(Result<Outcome, ServiceError>),
    /// The emulator shut down before the invocation was answered.
    Closed,
}

/// The meeting point of one invocation and its waiter.
pub struct Completion {
    slot: Mutex<Option<Reply>>,
    ready: Condvar,
    /// An eventfd made readable once the reply is in, for `loop.add_reader` (asyncio only).
    wake: Option<OwnedFd>,
}

impl Completion {
    /// A completion; `with_fd` adds the eventfd an asyncio loop can watch.
    pub fn new(with_fd: bool) -> io::Result<Arc<Self>> {
        let wake = if with_fd {
            // SAFETY: eventfd(2) with constant flags; the result is checked before use.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        } else {
            None
        };
        Ok(Arc::new(Self {
            slot: Mutex::new(None),
            ready: Condvar::new(),
            wake,
        }))
    }

    fn slot(&self) -> MutexGuard<'_, Option<Reply>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deliver(&self, reply: Reply) {
        *self.slot() = Some(reply);
        self.ready.notify_all();
        if let Some(fd) = &self.wake {
            let one: u64 = 1;
            // SAFETY: an 8-byte write of a live u64 to an eventfd we own; a failure (counter
            // overflow, impossible for one write) only delays the loop to its next wake-up.
            let _ = unsafe { libc::write(fd.as_raw_fd(), (&raw const one).cast(), 8) };
        }
    }

    /// Wait up to `timeout` for the reply and take it.
    pub fn wait(&self, timeout: Duration) -> Option<Reply> {
        let slot = self.slot();
        let (mut slot, _) = self
            .ready
            .wait_timeout_while(slot, timeout, |s| s.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        slot.take()
    }

    /// Take the reply if it is in.
    pub fn take(&self) -> Option<Reply> {
        self.slot().take()
    }

    /// The eventfd, when there is one.
    pub fn fileno(&self) -> Option<RawFd> {
        self.wake.as_ref().map(AsRawFd::as_raw_fd)
    }
}

/// Held by the task that runs the invocation: answers exactly once, with `Closed` if the task
/// is dropped unanswered (its runtime shut down).
pub struct Deliverer(Option<Arc<Completion>>);

impl Deliverer {
    /// A deliverer for `completion`.
    pub fn new(completion: &Arc<Completion>) -> Self {
        Self(Some(Arc::clone(completion)))
    }

    /// Hand over the scheduler's answer.
    pub fn finish(mut self, result: Result<Outcome, ServiceError>) {
        if let Some(c) = self.0.take() {
            c.deliver(Reply::Done(result));
        }
    }
}

impl Drop for Deliverer {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.deliver(Reply::Closed);
        }
    }
}
