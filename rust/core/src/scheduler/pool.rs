//! One function's pool of environments as the scheduler books it: slots with their
//! invocations in flight, environments being created (and the seats others may take in them),
//! and the emulator-wide cap every function draws on.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::time::Instant;

use tokio::sync::watch;

/// The emulator-wide cap on execution environments, shared by every function.
#[derive(Debug)]
pub struct EnvironmentCap {
    max: u32,
    used: AtomicU32,
    next_id: AtomicU64,
}

impl EnvironmentCap {
    /// A cap of `max` environments.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            used: AtomicU32::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    /// Take room for one environment, if any is left.
    pub(super) fn try_take(&self) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Give back the room of one environment.
    pub(super) fn give_back(&self) {
        self.used.fetch_sub(1, Ordering::AcqRel);
    }

    /// A new environment number, unique within the emulator.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Environments that exist or are being created, across every function.
    pub fn in_use(&self) -> u32 {
        self.used.load(Ordering::Acquire)
    }
}

/// One environment as the pool sees it.
pub(super) struct Slot<E> {
    pub(super) env: Arc<E>,
    /// Invocations in flight in it.
    pub(super) busy: u32,
    /// Being initialised ahead of invokes (provisioned concurrency).
    pub(super) starting: bool,
    /// When it last finished an invocation (or was created).
    pub(super) last_used: Instant,
    /// Whether it holds the fixed Runtime API address.
    pub(super) fixed_address: bool,
    /// The code generation it runs (`--watch`); an older one is replaced.
    pub(super) generation: u64,
}

/// An environment being created whose spare seats (multi-concurrency) others may take.
pub(super) struct Pending<E> {
    pub(super) token: u64,
    pub(super) seats: u32,
    pub(super) joined: u32,
    pub(super) ready: watch::Sender<Option<Arc<E>>>,
}

/// The pool of one function.
pub(super) struct Pool<E> {
    pub(super) slots: Vec<Slot<E>>,
    /// Environments being created (counted against the limits).
    pub(super) creating: u32,
    /// Whether the fixed Runtime API address is taken.
    pub(super) fixed_address_taken: bool,
    pub(super) shutting_down: bool,
    /// Environments being created that have seats left.
    pub(super) pending: Vec<Pending<E>>,
    pub(super) next_token: u64,
}

impl<E> Default for Pool<E> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            creating: 0,
            fixed_address_taken: false,
            shutting_down: false,
            pending: Vec::new(),
            next_token: 0,
        }
    }
}

impl<E> Pool<E> {
    /// Invocations in flight, including those waiting for an environment being created.
    pub(super) fn in_flight(&self) -> u64 {
        let seated: u64 = self.slots.iter().map(|s| u64::from(s.busy)).sum();
        let joined: u32 = self.pending.iter().map(|p| p.joined).sum();
        seated + u64::from(self.creating + joined)
    }

    /// Remove and return the pending record of `token`.
    pub(super) fn take_pending(&mut self, token: u64) -> Option<Pending<E>> {
        let i = self.pending.iter().position(|p| p.token == token)?;
        Some(self.pending.swap_remove(i))
    }

    /// Remove the slots `gone` says go; a freed fixed address is free again.
    pub(super) fn remove_where(&mut self, gone: impl Fn(&Slot<E>) -> bool) -> Vec<Slot<E>> {
        let (removed, keep): (Vec<Slot<E>>, Vec<Slot<E>>) =
            std::mem::take(&mut self.slots).into_iter().partition(gone);
        self.slots = keep;
        if removed.iter().any(|s| s.fixed_address) {
            self.fixed_address_taken = false;
        }
        removed
    }
}
