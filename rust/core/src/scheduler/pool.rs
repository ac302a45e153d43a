//! One function's pool of environments as the scheduler books it: slots with their
//! invocations in flight, environments being created (and the seats others may take in them),
//! and the emulator-wide cap every function draws on.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::FunctionWide;

/// A scheduler as the cap sees it: a pool whose idle environments can give way to an
/// invocation (of any function) that needs room.
pub(super) trait Reclaim: Send + Sync {
    /// When its least recently used idle on-demand environment was last used, if it has one.
    fn oldest_idle(&self) -> Option<Instant>;
    /// Stop that environment and give its room back; whether it did.
    fn reclaim_oldest_idle(&self) -> bool;
    /// The function it serves a version of.
    fn function_wide(&self) -> &Arc<FunctionWide>;
}

/// The emulator-wide cap on execution environments, shared by every function.
pub struct EnvironmentCap {
    max: u32,
    used: AtomicU32,
    next_id: AtomicU64,
    /// Wakes invocations waiting for room or a seat, whichever function frees it.
    pub(super) freed: Notify,
    /// The schedulers drawing on the cap.
    members: Mutex<Vec<Weak<dyn Reclaim>>>,
}

impl std::fmt::Debug for EnvironmentCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentCap")
            .field("max", &self.max)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

impl EnvironmentCap {
    /// A cap of `max` environments.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            used: AtomicU32::new(0),
            next_id: AtomicU64::new(1),
            freed: Notify::new(),
            members: Mutex::new(Vec::new()),
        }
    }

    /// Count `member` among the schedulers whose idle environments may give way.
    pub(super) fn join(&self, member: Weak<dyn Reclaim>) {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(member);
    }

    /// Stop the least recently used idle environment (of any function, or only of the function
    /// sharing `within`) so that its room serves an invocation that needs one; whether it did.
    ///
    /// NOTE: AWS's limits count concurrent executions, not warm environments: an idle
    /// environment never makes an invocation wait or fail while room could be made.
    pub(super) fn reclaim(&self, within: Option<&Arc<FunctionWide>>) -> bool {
        let members: Vec<Arc<dyn Reclaim>> = {
            let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
            members.retain(|m| m.strong_count() > 0);
            members.iter().filter_map(Weak::upgrade).collect()
        };
        let oldest = members
            .iter()
            .filter(|m| within.is_none_or(|w| Arc::ptr_eq(m.function_wide(), w)))
            .filter_map(|m| m.oldest_idle().map(|at| (at, m)))
            .min_by_key(|(at, _)| *at);
        oldest.is_some_and(|(_, m)| m.reclaim_oldest_idle())
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
    /// Provisioned concurrency: never reaped nor reclaimed.
    pub(super) provisioned: bool,
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

    /// The least recently used idle on-demand environment: its index and when it was last used.
    pub(super) fn oldest_idle(&self) -> Option<(usize, Instant)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.busy == 0 && !s.starting && !s.provisioned)
            .map(|(i, s)| (i, s.last_used))
            .min_by_key(|(_, at)| *at)
    }

    /// Remove up to `n` idle on-demand environments, the least recently used first.
    pub(super) fn take_idle(&mut self, n: u32) -> Vec<Slot<E>> {
        let mut taken = Vec::new();
        for _ in 0..n {
            let Some((i, _)) = self.oldest_idle() else {
                break;
            };
            let slot = self.slots.swap_remove(i);
            if slot.fixed_address {
                self.fixed_address_taken = false;
            }
            taken.push(slot);
        }
        taken
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
