//! What every scheduler of one function shares, whichever version it runs: the function's
//! metrics and its reserved concurrency (AWS reserves concurrency for the whole function,
//! versions and aliases included; a change takes effect at once for new invocations).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::metrics::FunctionMetrics;

/// No reserved concurrency.
const UNRESERVED: u32 = u32::MAX;

/// Counters and limits of one function, shared by the schedulers of all its versions.
#[derive(Debug)]
pub struct FunctionWide {
    metrics: FunctionMetrics,
    reserved: AtomicU32,
    environments: AtomicU32,
}

impl FunctionWide {
    /// A function with `reserved` concurrency (none: only the emulator's cap applies).
    pub fn new(reserved: Option<u32>) -> Self {
        Self {
            metrics: FunctionMetrics::default(),
            reserved: AtomicU32::new(reserved.unwrap_or(UNRESERVED)),
            environments: AtomicU32::new(0),
        }
    }

    /// The function's counters.
    pub fn metrics(&self) -> &FunctionMetrics {
        &self.metrics
    }

    /// The reserved concurrency now.
    pub fn reserved_concurrency(&self) -> Option<u32> {
        let n = self.reserved.load(Ordering::Acquire);
        (n != UNRESERVED).then_some(n)
    }

    /// Change the reserved concurrency; environments over a lower limit finish their work and
    /// are not replaced.
    pub fn set_reserved_concurrency(&self, reserved: Option<u32>) {
        self.reserved
            .store(reserved.unwrap_or(UNRESERVED), Ordering::Release);
    }

    /// Count one more environment of the function, unless that passes its reserved concurrency.
    pub(super) fn try_take(&self) -> bool {
        self.environments
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.reserved.load(Ordering::Acquire)).then_some(n + 1)
            })
            .is_ok()
    }

    /// One environment of the function fewer.
    pub(super) fn give_back(&self) {
        self.environments.fetch_sub(1, Ordering::AcqRel);
    }

    /// Environments of the function, across its versions.
    pub fn environments(&self) -> u32 {
        self.environments.load(Ordering::Acquire)
    }

    /// How many environments the function has above its reserved concurrency (after the
    /// limit was lowered): idle ones go instead of taking invocations.
    pub(super) fn excess(&self) -> u32 {
        let reserved = self.reserved.load(Ordering::Acquire);
        self.environments().saturating_sub(reserved)
    }
}
