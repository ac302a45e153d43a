//! Limits enforced around each invocation: out-of-memory detection, the process limit, the
//! fallback `/tmp` size, and freezing the environment between invocations (docs/reference.md
//! §5).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::ExecutionEnvironment;

/// How often anonymous memory is sampled while an invocation runs.
const MEMORY_SAMPLE: Duration = Duration::from_millis(10);

impl ExecutionEnvironment {
    /// Whether the kernel killed the runtime for memory since the last look (read only after
    /// a runtime exit, so a normal invocation reads no cgroup file).
    pub(super) fn killed_for_memory(&self) -> bool {
        let Some(cg) = self.sandbox.cgroup.as_ref() else {
            return false;
        };
        let now = cg.oom_kills();
        now > self.oom_kills_seen.swap(now, Ordering::Relaxed)
    }

    /// Resolves when the runtime's anonymous memory exceeds the function's memory size.
    /// Only needed while `/tmp` pages are charged to the same cgroup (its limit then includes
    /// the ephemeral storage); otherwise the kernel's own limit is the function's memory.
    pub(super) async fn memory_exceeded(&self) {
        let needed = self.sandbox.cgroup.is_some() && self.sandbox.tmpdir().is_none();
        if !needed {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(MEMORY_SAMPLE).await;
            if self.sandbox.over_memory() {
                return;
            }
        }
    }

    /// Whether the environment's processes hit the process limit since the last look.
    pub(super) fn process_limit_hit(&self) -> bool {
        self.sandbox.cgroup.as_ref().is_some_and(|cg| {
            let hits = cg.pid_limit_hits();
            hits > self.pid_limit_hits_seen.swap(hits, Ordering::Relaxed)
        })
    }

    /// The function's ephemeral storage (MB), when the fallback `/tmp` holds more than that.
    pub(super) fn ephemeral_storage_exceeded(&self) -> Option<u32> {
        (self.sandbox.tmpdir().is_some() && self.sandbox.over_ephemeral())
            .then_some(self.function.config.ephemeral_storage_mb)
    }

    /// Move `pid` into the environment's cgroup in the background (none without cgroups).
    pub(super) fn move_into_cgroup(&self, pid: i32) -> Option<tokio::task::JoinHandle<()>> {
        self.sandbox.cgroup.as_ref().map(|cg| cg.move_in(pid))
    }

    /// An invocation begins: thaw the environment if it was frozen.
    pub(super) fn enter_invocation(&self) {
        let mut n = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *n == 0 && self.sandbox.freeze {
            self.set_frozen(false);
        }
        *n += 1;
    }

    /// An invocation ended: freeze the environment when it has nothing left to run.
    pub(super) fn leave_invocation(&self) {
        let mut n = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n -= 1;
        if *n == 0 && self.sandbox.freeze {
            self.set_frozen(true);
        }
    }

    /// Thaw regardless of the count (before stopping the runtime).
    pub(super) fn thaw(&self) {
        if self.sandbox.freeze {
            self.set_frozen(false);
        }
    }

    fn set_frozen(&self, frozen: bool) {
        let done = self
            .sandbox
            .cgroup
            .as_ref()
            .is_some_and(|c| c.set_frozen(frozen));
        if !done {
            if let Some(p) = self.live_process() {
                p.signal_group(if frozen { libc::SIGSTOP } else { libc::SIGCONT });
            }
        }
    }

    /// Whether the environment is frozen now.
    pub fn is_frozen(&self) -> bool {
        self.sandbox.freeze
            && *self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                == 0
            && self
                .sandbox
                .cgroup
                .as_ref()
                .is_none_or(super::sandbox::cgroup::EnvironmentCgroup::is_frozen)
    }
}
